"""End-to-end check: a real Home Assistant with the integration, driven over HTTP.

It starts Home Assistant (``hass``) from the running venv with scripts/develop's
configuration in a fresh folder, on a free port on this machine, onboards it and takes
a token through the HTTP API as the frontend does, checks that the integration is
offered under "Add integration" and adds it through the config-flow API, then stops
everything it started, by process id. It prints one summary line with timings and
exits non-zero on the first failed step.

Usage: .venv/bin/python scripts/e2e.py [--keep] [--artifacts DIR]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "qiot_enviro"
START_TIMEOUT = 600.0


class E2EError(Exception):
    """A step of the end-to-end check failed."""


def free_port() -> int:
    """Return a TCP port that is free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HomeAssistant:
    """One Home Assistant process and an HTTP client for it."""

    def __init__(self, config_dir: Path, port: int, log_path: Path) -> None:
        """Prepare to run Home Assistant on config_dir, serving port."""
        self.config_dir = config_dir
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.client_id = f"{self.base}/"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.token: str | None = None

    def start(self) -> None:
        """Start hass in its own session so that stopping it reaches no one else."""
        env = dict(os.environ)
        env["SETUP_PORT"] = str(self.port)
        hass = Path(sys.executable).with_name("hass")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(hass), "-c", str(self.config_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def stop(self) -> None:
        """Stop the process we started: SIGTERM, then SIGKILL after 60 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
        timeout: float = 30.0,
        auth: bool = True,
    ) -> Any:
        """Send one HTTP request and return the decoded JSON (or raw bytes)."""
        headers: dict[str, str] = {}
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # Only ever http://127.0.0.1:<port> built above, never a user-supplied scheme.
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)  # noqa: S310
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            if response.headers.get_content_type() == "application/json":
                return json.loads(raw)
            return raw

    def wait_for_port(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the HTTP server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise E2EError(f"Home Assistant exited with {self.process.returncode}")
            try:
                self.request("GET", "/api/onboarding", auth=False, timeout=5)
            except urllib.error.URLError, ConnectionError, TimeoutError:
                time.sleep(0.5)
            else:
                return
        raise E2EError(f"no answer on port {self.port} after {timeout:.0f} s")

    def onboard(self) -> None:
        """Create the owner and take an access token, as the frontend does."""
        # Held open until bootstrap stage 2 (package installs) on a first start.
        result = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": "E2E",
                "username": "e2e",
                "password": "e2e-password-123",
                "language": "en",
            },
            auth=False,
            timeout=START_TIMEOUT,
        )
        tokens = self.request(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": result["auth_code"],
                "client_id": self.client_id,
            },
            auth=False,
        )
        self.token = tokens["access_token"]
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            ("integration", {"client_id": self.client_id, "redirect_uri": self.client_id}),
        ):
            self.request("POST", f"/api/onboarding/{step}", body)


def step(name: str, timings: list[tuple[str, float]], action: Callable[[], Any]) -> Any:
    """Run one named step, timing it and turning its failure into an E2EError."""
    start = time.monotonic()
    print(f"e2e: {name} ...", flush=True)
    try:
        result = action()
    except E2EError:
        raise
    except Exception as err:
        raise E2EError(f"{name}: {err!r}") from err
    timings.append((name, time.monotonic() - start))
    return result


def write_config(config_dir: Path, port: int) -> None:
    """Write scripts/develop's configuration, linked integration, into config_dir."""
    (config_dir / "custom_components").mkdir(parents=True, exist_ok=True)
    link = config_dir / "custom_components" / DOMAIN
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / DOMAIN)
    text = (ROOT / "config" / "configuration.yaml").read_text(encoding="utf-8")
    http_config = Path(sys.executable).parent.parent / "lib"
    legacy_http = not any(
        http_config.glob("python3*/site-packages/homeassistant/components/http/config.py")
    )
    if legacy_http:
        # Before 2026.10 the port came from YAML only; later releases take SETUP_PORT.
        text += f"\nhttp:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
    (config_dir / "configuration.yaml").write_text(text, encoding="utf-8")


def add_integration(ha: HomeAssistant) -> dict[str, Any]:
    """Check the integration is offered and add it through the config-flow API."""
    handlers = ha.request("GET", "/api/config/config_entries/flow_handlers")
    if DOMAIN not in handlers:
        raise E2EError(f"{DOMAIN} is not offered under Add integration: {handlers}")
    flow = ha.request("POST", "/api/config/config_entries/flow", {"handler": DOMAIN})
    while flow["type"] == "form":
        flow = ha.request(
            "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", choose_input(flow)
        )
    if flow["type"] != "create_entry":
        raise E2EError(f"config flow ended with {flow}")
    return dict(flow["result"])


def choose_input(flow: dict[str, Any]) -> dict[str, Any]:
    """Answer a config-flow form: pick the simulated board where a choice is offered."""
    answer: dict[str, Any] = {}
    for field in flow.get("data_schema", []):
        if field.get("name") == "board":
            answer["board"] = "simulated"
    return answer


def main() -> int:
    """Run every step, always stopping what was started."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the configuration folder")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts" / "e2e")
    args = parser.parse_args()
    args.artifacts.mkdir(parents=True, exist_ok=True)

    total_start = time.monotonic()
    timings: list[tuple[str, float]] = []
    config_dir = Path(tempfile.mkdtemp(prefix="qiot-e2e-"))
    port = free_port()
    log_path = args.artifacts / "home-assistant.log"
    log_path.unlink(missing_ok=True)
    ha = HomeAssistant(config_dir, port, log_path)
    ok = False
    try:
        write_config(config_dir, port)
        step("start Home Assistant", timings, ha.start)
        step("wait for the HTTP server", timings, ha.wait_for_port)
        step("onboard and take a token", timings, ha.onboard)
        entry = step("add the integration", timings, lambda: add_integration(ha))
        print(f"e2e: entry {entry.get('title')!r} created", flush=True)
        ok = True
    except E2EError as err:
        print(f"e2e: FAILED: {err} (Home Assistant log: {log_path})", flush=True)
    finally:
        step("stop Home Assistant", timings, ha.stop)
        if args.keep:
            print(f"e2e: configuration kept in {config_dir}")
        else:
            shutil.rmtree(config_dir, ignore_errors=True)
    summary = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings)
    verdict = "passed" if ok else "FAILED"
    print(f"e2e: {verdict} in {time.monotonic() - total_start:.1f}s ({summary})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
