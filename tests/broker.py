"""A private Mosquitto broker for tests: loopback, a free port, a password file.

``Broker(users)`` writes a configuration into a temporary folder (password file made with
``mosquitto_passwd -b``, optionally an ACL file and a TLS listener whose certificate is
made here with ``cryptography``), starts ``mosquitto -c FILE`` and waits until its port
accepts connections. ``restart`` stops it by its pid and starts it again on the same port
with the same persistence folder; ``stop`` stops it by its pid. No Home Assistant and no
board side involved: any test (or a plain script) can use it.
"""

import ipaddress
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
# Debian installs the broker in /usr/sbin, which is not on a normal user's PATH.
_SBIN = (Path("/usr/sbin"), Path("/usr/local/sbin"))


def _find(program: str) -> str:
    """Return the path of a Mosquitto program; fail saying how to get it."""
    found = shutil.which(program)
    if found is None:
        found = next((str(d / program) for d in _SBIN if (d / program).is_file()), None)
    if found is None:
        raise RuntimeError(
            f"{program} is not installed: scripts/setup installs it (Debian: apt-get install "
            "--no-install-recommends mosquitto mosquitto-clients)"
        )
    return found


# Ports for servers that restart on their port are taken below the kernel's ephemeral
# range (its start is read from here; 32768 on Linux by default): a port in that range
# may, while its server is down, become the local end of any outgoing connection on the
# machine, even of a client's retry to that very port (a TCP self-connect), and the
# restart then fails with "Address already in use".
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 20000


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text(encoding="ascii").split()[0])
    except OSError, ValueError, IndexError:
        return 32768


def _free_port() -> int:
    """Return a loopback port free now, below the ephemeral range where possible."""
    highest = _ephemeral_start() - 1
    for _ in range(50 if highest > _LOWEST_PORT else 0):
        port = random.randint(_LOWEST_PORT, highest)
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for a TLS listener: the CA a client trusts, the server's chain and key."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(folder: Path, hosts: tuple[str, ...] = (HOST, "localhost")) -> TlsFiles:
    """Make a throwaway CA and a server certificate for ``hosts`` (IPs or names) in ``folder``."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qiot_enviro test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(ca=folder / "ca.crt", cert=folder / "server.crt", key=folder / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.touch(mode=0o600)
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class Broker:
    """``mosquitto -c FILE`` on a free loopback port; ``users`` maps names to passwords.

    ``acl`` is the text of an ACL file (e.g. ``"pattern readwrite qiot_enviro/%u/#"``);
    without it every authenticated user may use every topic. ``tls`` adds a second
    listener on ``tls_port`` with a certificate for 127.0.0.1 signed by ``tls.ca``.
    ``persistence`` keeps retained messages and sessions across ``restart``.
    Use it as a context manager, or call ``start`` and ``close``.
    """

    def __init__(
        self,
        users: dict[str, str],
        *,
        acl: str | None = None,
        tls: bool = False,
        persistence: bool = True,
    ) -> None:
        """Prepare the files; nothing runs until ``start`` (or ``with``)."""
        self._mosquitto = _find("mosquitto")
        passwd_program = _find("mosquitto_passwd")
        self.users = dict(users)
        self.host = HOST
        self.port = _free_port()
        self.tls_port: int | None = _free_port() if tls else None
        self.folder = Path(tempfile.mkdtemp(prefix="qiot-broker-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._started_once = False
        self.log_path = self.folder / "mosquitto.log"
        # Errors before the log file opens (a bad configuration) go to standard error.
        self.stderr_path = self.folder / "mosquitto.stderr"
        self._passwords = self.folder / "passwd"
        self._passwords.touch(mode=0o600)
        for user, password in self.users.items():
            subprocess.run(
                [passwd_program, "-b", str(self._passwords), user, password],
                check=True,
                capture_output=True,
            )
        self._passwords.chmod(0o600)
        self.acl_path: Path | None = None
        if acl is not None:
            self.acl_path = self.folder / "acl"
            self.acl_path.write_text(acl.rstrip("\n") + "\n", encoding="utf-8")
            self.acl_path.chmod(0o600)
        self.tls: TlsFiles | None = make_tls_files(self.folder) if tls else None
        self.persistence_dir: Path | None = None
        if persistence:
            self.persistence_dir = self.folder / "data"
            self.persistence_dir.mkdir()
        self.config = self.folder / "mosquitto.conf"
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            # As root, mosquitto would drop to the "mosquitto" user, who cannot read these.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self._passwords}",
        ]
        if self.acl_path is not None:
            lines.append(f"acl_file {self.acl_path}")
        if self.persistence_dir is not None:
            lines += ["persistence true", f"persistence_location {self.persistence_dir}/"]
        else:
            lines.append("persistence false")
        lines += [
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"listener {self.port} {HOST}",
        ]
        if self.tls is not None:
            lines += [
                f"listener {self.tls_port} {HOST}",
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.cert}",
                f"keyfile {self.tls.key}",
            ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def pid(self) -> int | None:
        """Return the running broker's pid, or None when it is stopped."""
        return self._process.pid if self._process is not None else None

    def url(self, user: str, *, tls: bool = False) -> str:
        """Return the broker's URL with ``user``'s credentials (``mqtts://`` with ``tls``)."""
        credentials = f"{quote(user, safe='')}:{quote(self.users[user], safe='')}"
        if tls:
            if self.tls_port is None:
                raise ValueError("this broker has no TLS listener (Broker(..., tls=True))")
            return f"mqtts://{credentials}@{HOST}:{self.tls_port}"
        return f"mqtt://{credentials}@{HOST}:{self.port}"

    def log(self) -> str:
        """Return what the broker logged so far (its log file and standard error)."""
        parts = [
            path.read_text(encoding="utf-8", errors="replace")
            for path in (self.stderr_path, self.log_path)
            if path.exists()
        ]
        return "".join(parts)

    def _ports(self) -> list[int]:
        return [self.port] + ([self.tls_port] if self.tls_port is not None else [])

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and wait until its ports accept connections."""
        if self._process is not None:
            return
        # Another process may take a free port between choosing it and mosquitto binding it;
        # before the first start nobody knows the port yet, so a fresh one is fine.
        attempts = 1 if self._started_once else 3
        for attempt in range(attempts):
            try:
                self._start_once(timeout)
            except RuntimeError:
                if attempt == attempts - 1 or "Address already in use" not in self.log():
                    raise
                self.port = _free_port()
                if self.tls_port is not None:
                    self.tls_port = _free_port()
                self._write_config()
            else:
                self._started_once = True
                return

    def _start_once(self, timeout: float) -> None:
        with self.stderr_path.open("ab") as stderr:
            process = subprocess.Popen(
                [self._mosquitto, "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self._process = process
        deadline = time.monotonic() + timeout
        while not all(_accepts(port) for port in self._ports()):
            if process.poll() is not None:
                self._process = None
                raise RuntimeError(
                    f"mosquitto exited at start ({process.returncode}):\n{self.log()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on {self._ports()}:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker by its pid (SIGTERM, then SIGKILL) and wait for the ports to close.

        On SIGTERM mosquitto writes its persistence database, so retained messages survive
        a ``restart`` when ``persistence`` is on.
        """
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        deadline = time.monotonic() + 5
        while any(_accepts(port) for port in self._ports()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same ports with the same persistence folder."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the broker and remove its files."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        """Start the broker."""
        try:
            self.start()
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the broker and remove its files."""
        self.close()
