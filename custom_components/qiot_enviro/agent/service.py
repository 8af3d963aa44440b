"""``install-service`` and ``uninstall-service``: run the agent as a systemd service.

The unit runs ``<agent> run --config <file>`` as a system user of its own, in the
hardware groups that exist here, restarted on failure, with its state in the
``StateDirectory`` that :data:`~.settings.DEFAULT_STATE_FILE` points into.

Everything that reaches the OS goes through :class:`System`: a root directory that
absolute paths are read and written under, a function that runs commands (``getent``,
``useradd``, ``usermod``, ``chown``, ``systemctl``), and the effective uid. The tests
give it a temporary directory, a recorder and a uid of their choosing.
"""

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .settings import DEFAULT_CONFIG, DEFAULT_STATE_FILE, load_config

SERVICE = "qiot-enviro-agent"
UNIT_NAME = f"{SERVICE}.service"
UNIT_PATH = Path("/etc/systemd/system") / UNIT_NAME
DEFAULT_USER = "qiot-enviro"
# The device groups of Raspberry Pi OS: /dev/i2c-*, /dev/spidev*, /dev/gpiochip*, /dev/ttyAMA0.
DEVICE_GROUPS = ("i2c", "spi", "gpio", "dialout")
STATE_DIRECTORY = DEFAULT_STATE_FILE.parent
# systemd's StateDirectory= is relative to /var/lib: a default state file elsewhere fails here.
STATE_DIRECTORY_NAME = str(STATE_DIRECTORY.relative_to("/var/lib"))
RESTART_SEC = 10
# ProtectHome=yes hides these from the service.
HIDDEN_PREFIXES = (Path("/home"), Path("/root"), Path("/run/user"))
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

type Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class ServiceError(Exception):
    """The service cannot be installed or removed; the message is one line saying why."""


def run_command(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; a missing program is exit status 127."""
    try:
        # Fixed programs with argument lists, no shell: nothing here is interpreted.
        return subprocess.run(list(args), check=False, capture_output=True, text=True)  # noqa: S603
    except OSError as err:
        return subprocess.CompletedProcess(list(args), 127, "", f"{args[0]}: {err.strerror}")


@dataclass(frozen=True, slots=True)
class System:
    """The machine as the installer sees it: files under ``root``, commands, the uid."""

    root: Path = Path("/")
    run: Runner = field(default=run_command)
    euid: Callable[[], int] = field(default=os.geteuid)

    def path(self, absolute: Path) -> Path:
        """Return where an absolute path of the machine is under ``root``."""
        return self.root / absolute.relative_to("/")

    def check(self, *args: str) -> None:
        """Run a command that must succeed; ServiceError with its last error line if not."""
        result = self.run(args)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout or "").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {result.returncode}"
            raise ServiceError(f"{' '.join(args)} failed: {detail}")

    def succeeds(self, *args: str) -> bool:
        """Run a query command (``getent``); return whether it exited with 0."""
        return self.run(args).returncode == 0


def agent_command(argv0: str | None = None, python: str | None = None) -> list[str]:
    """Return the absolute command that starts this agent.

    The console script that is running (``sys.argv[0]``, symlinks resolved: pipx's
    ``/usr/local/bin/qiot-enviro-agent`` points into its virtualenv), else this
    interpreter with ``-m`` (``python -m qiot_enviro.agent``). The interpreter path is
    kept as it is: resolving a virtualenv's python would leave the virtualenv.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    script = argv0 if os.sep in argv0 else shutil.which(argv0)
    if script and not script.endswith(".py") and os.access(script, os.X_OK):
        return [str(Path(script).resolve())]
    package = __name__.rpartition(".")[0]
    return [str(Path(python or sys.executable).absolute()), "-m", package]


def _hidden(path: Path) -> bool:
    """Return whether ProtectHome= hides this path from the service."""
    return any(path.is_relative_to(prefix) for prefix in HIDDEN_PREFIXES)


def _quote(arg: str) -> str:
    """Quote one ExecStart= word for systemd (specifiers and variables escaped)."""
    if any(ord(char) < 32 for char in arg):
        raise ServiceError(f"{arg!r} holds a control character")
    escaped = arg.replace("\\", "\\\\").replace("%", "%%").replace("$", "$$")
    if not escaped or any(char in escaped for char in " \t\"'"):
        return '"' + escaped.replace('"', '\\"') + '"'
    return escaped


def unit_text(command: Sequence[str], config: Path, user: str, groups: Sequence[str]) -> str:
    """Return the unit file that runs ``command run --config config`` as ``user``."""
    exec_start = " ".join(_quote(arg) for arg in [*command, "run", "--config", str(config)])
    supplementary = f"SupplementaryGroups={' '.join(groups)}\n" if groups else ""
    return f"""\
# Written by qiot-enviro-agent install-service: run it again instead of editing this file
# (or add a drop-in with systemctl edit {UNIT_NAME}).
[Unit]
Description=QIoT Enviro agent: the Enviro board to Home Assistant over MQTT
Documentation=https://github.com/qiot-enviro/qiot_enviro
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart={exec_start}
Restart=on-failure
RestartSec={RESTART_SEC}
User={user}
{supplementary}StateDirectory={STATE_DIRECTORY_NAME}
StateDirectoryMode=0700
UMask=0077
# Hardening that keeps /dev/i2c-*, /dev/spidev*, /dev/gpiochip* and /dev/ttyAMA0 in reach:
# no PrivateDevices= or ProtectClock= (either one closes access to other devices), and
# no ProcSubset=pid (the board id, the Pi's serial number, is read from /proc).
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectProc=invisible
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
"""


def _preflight(system: System, command: str) -> None:
    """Refuse early, before anything changes: not root, or no systemd."""
    if system.euid() != 0:
        raise ServiceError(f"{command} must run as root: sudo qiot-enviro-agent {command}")
    if not system.path(Path("/run/systemd/system")).is_dir():
        raise ServiceError("systemd is not running on this machine (no /run/systemd/system)")


def _check_config(system: System, config: Path) -> None:
    """Refuse a config the service could not run with; SettingsError for a bad file."""
    file = system.path(config)
    if not file.is_file():
        raise ServiceError(f"config file {config} does not exist: write it first (mode 600)")
    # The same check `run` makes: a broker password in a file others can read is refused.
    data = load_config(file)
    if "broker" not in data:
        raise ServiceError(f'config file {config} has no broker = "mqtt://..."')
    state_file = Path(data.get("state_file", DEFAULT_STATE_FILE))
    if not state_file.is_relative_to(STATE_DIRECTORY):
        raise ServiceError(
            f"config file {config}: state_file must be in {STATE_DIRECTORY}, the only "
            "directory the service may write (or leave the key out)"
        )
    ca_file = data.get("ca_file")
    if ca_file is not None and _hidden(Path(ca_file)):
        raise ServiceError(f"config file {config}: the service cannot see ca_file {ca_file}")


def install_service(
    system: System,
    command: Sequence[str],
    say: Callable[[str], None],
    *,
    config: Path = DEFAULT_CONFIG,
    user: str = DEFAULT_USER,
) -> None:
    """Install, enable and start the service; ServiceError (or SettingsError) if it cannot."""
    _preflight(system, "install-service")
    if not _USER_NAME.fullmatch(user):
        raise ServiceError(f"invalid user name {user!r}")
    config = config.absolute()
    if _hidden(Path(command[0])):
        raise ServiceError(
            f"the agent is installed under {command[0]}, which the service cannot see: "
            "install it with sudo pipx install --global"
        )
    _check_config(system, config)

    if system.succeeds("getent", "passwd", user):
        say(f"System user {user} exists")
    else:
        system.check(
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            str(STATE_DIRECTORY),
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "QIoT Enviro agent",
            user,
        )
        say(f"Created system user {user}")
    groups = [group for group in DEVICE_GROUPS if system.succeeds("getent", "group", group)]
    missing = [group for group in DEVICE_GROUPS if group not in groups]
    if groups:
        system.check("usermod", "--append", "--groups", ",".join(groups), user)
        say(f"{user} is in the groups {', '.join(groups)}")
    if missing:
        say(f"Groups missing on this machine (not added): {', '.join(missing)}")
    # The agent reads its config as the service user; a mode 600 file must be its own.
    system.check("chown", f"{user}:", str(system.path(config)))
    say(f"{config} belongs to {user} now (its mode is unchanged)")

    unit = system.path(UNIT_PATH)
    reinstall = unit.exists()
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(unit_text(command, config, user, groups), encoding="utf-8")
    unit.chmod(0o644)
    say(f"Wrote {UNIT_PATH}")
    system.check("systemctl", "daemon-reload")
    if reinstall:
        # enable --now leaves a running service as it was: restart it onto the new unit.
        system.check("systemctl", "enable", UNIT_NAME)
        system.check("systemctl", "restart", UNIT_NAME)
        say(f"Enabled and restarted {UNIT_NAME}")
    else:
        system.check("systemctl", "enable", "--now", UNIT_NAME)
        say(f"Enabled and started {UNIT_NAME}")
    say(f"Its state is in {STATE_DIRECTORY}; its log: journalctl -u {SERVICE}")


def uninstall_service(system: System, say: Callable[[str], None]) -> None:
    """Stop, disable and remove the service; keep the user, config and state. Idempotent."""
    _preflight(system, "uninstall-service")
    unit = system.path(UNIT_PATH)
    if not unit.exists():
        say(f"{UNIT_NAME} is not installed: nothing to do")
        return
    user, config = _installed(unit.read_text(encoding="utf-8"))
    system.check("systemctl", "disable", "--now", UNIT_NAME)
    unit.unlink()
    system.check("systemctl", "daemon-reload")
    say(f"Stopped, disabled and removed {UNIT_NAME}")
    say(
        f"Kept the user {user}, the config {config} and the state in {STATE_DIRECTORY}; "
        f"if you no longer want them: sudo userdel {user}; sudo rm -r {config} {STATE_DIRECTORY}"
    )


def _installed(text: str) -> tuple[str, str]:
    """Return the user and the config file an installed unit names (defaults if unclear)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
        service = parser["Service"]
        words = shlex.split(service.get("ExecStart", ""))
    except (configparser.Error, KeyError, ValueError):
        return DEFAULT_USER, str(DEFAULT_CONFIG)
    config = words[words.index("--config") + 1] if "--config" in words[:-1] else DEFAULT_CONFIG
    return service.get("User", DEFAULT_USER), str(config)
