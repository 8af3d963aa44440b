"""End-to-end check: a real Home Assistant with the integration, driven over HTTP.

Steps, each timed:
1. start Home Assistant with ``scripts/develop`` (the Home Assistant of the venv that
   runs this script) and its configuration plus ``prometheus:`` and ``recorder:``, in a
   fresh folder, on a free port;
2. onboard it and take a token through the HTTP API, as the frontend does;
3. add the integration through the config-flow API, choosing the simulated board, and
   set the gas baseline to learn from 6 readings (options flow);
4. see every expected entity with a numeric state in ``/api/states``, and the same
   metrics in Prometheus' text format at ``/api/prometheus``;
5. call ``notify.qiot_lcd`` through ``/api/services`` and fetch the LCD preview image:
   it must show the message (compared with the renderer's picture) and differ from the
   idle screen in the text area;
6. inject a fault with the simulated board's ``qiot_enviro.simulate_fault`` action: the
   particulate entities go unavailable, then come back after ``clear``;
7. restart Home Assistant: the same entity ids, and the learned gas baseline is back
   (the ratio sensors are numeric right away);
8. with Chromium installed, save screenshots of the device page and of the example
   dashboard (examples/dashboard.yaml) in the artifacts folder (skipped without it);
9. stop everything it started, by process id, and print a one-line summary.
It exits non-zero on the first failed step; the Home Assistant log stays in the
artifacts folder.

Usage: .venv/bin/python scripts/e2e.py [--keep] [--artifacts DIR]
"""

import argparse
import asyncio
import base64
import io
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
sys.path.insert(0, str(ROOT))
DOMAIN = "qiot_enviro"
START_TIMEOUT = 600.0
DEVICE = "enviro_simulated"
NUMERIC_SENSORS = (
    "temperature",
    "raw_temperature",
    "atmospheric_pressure",
    "humidity",
    "dew_point",
    "illuminance",
    "proximity",
    "oxidizing_gas_resistance",
    "reducing_gas_resistance",
    "nh3_gas_resistance",
    "pm1",
    "pm2_5",
    "pm10",
    "air_quality_index",
    "cpu_temperature",
)
RATIO_SENSORS = ("oxidizing_gas_ratio", "reducing_gas_ratio", "nh3_gas_ratio")
PARTICULATE_SENSORS = ("pm1", "pm2_5", "pm10", "air_quality_index", "air_quality")
LEARN_SAMPLES = 6
DASHBOARD = "enviro-example"
MESSAGE = "Hello from the end-to-end check"
USERNAME = "e2e"
PASSWORD = "e2e-password-123"  # noqa: S105 - a throwaway owner of a throwaway instance


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
        self.refresh_token: str | None = None

    def start(self) -> None:
        """Start hass in its own session so that stopping it reaches no one else."""
        env = dict(os.environ)
        env["SETUP_PORT"] = str(self.port)
        env["QIOT_CONFIG_DIR"] = str(self.config_dir)
        # scripts/develop itself (it execs hass, so the process id is Home Assistant's),
        # with the Home Assistant of the venv running this script.
        command = [str(ROOT / "scripts" / "develop")]
        if Path(sys.prefix).name == ".venv-oldest":
            command.append("--oldest")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
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
        self.process = None

    def wait_running(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until Home Assistant has finished starting (every component loaded)."""

        def running() -> bool:
            try:
                return self.request("GET", "/api/config").get("state") == "RUNNING"
            except urllib.error.HTTPError:
                return False

        wait_until("Home Assistant to finish starting", running, timeout)

    def states(self) -> dict[str, dict[str, Any]]:
        """Return the states of the simulated board's entities by entity id."""
        return {
            state["entity_id"]: state
            for state in self.request("GET", "/api/states")
            if DEVICE in state["entity_id"]
        }

    def call(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        """Call an action through the REST API."""
        return self.request("POST", f"/api/services/{domain}/{service}", data)

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
                self.request("GET", "/api/", auth=False, timeout=5)
            except urllib.error.HTTPError:
                return  # any HTTP answer (401 before a token) means the server is up
            except urllib.error.URLError, ConnectionError, TimeoutError:
                time.sleep(0.5)
            else:
                return
        raise E2EError(f"no answer on port {self.port} after {timeout:.0f} s")

    def login(self) -> None:
        """Take a new token through the login flow, as the frontend does after a restart."""
        flow = self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.client_id,
            },
            auth=False,
        )
        result = self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": USERNAME, "password": PASSWORD},
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise E2EError(f"login failed: {result}")
        self._take_token(result["result"])

    def _take_token(self, code: str) -> None:
        """Exchange an authorization code for an access token."""
        tokens = self.request(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.client_id,
            },
            auth=False,
        )
        self.token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token")

    def onboard(self) -> None:
        """Create the owner and take an access token, as the frontend does."""
        # Held open until bootstrap stage 2 (package installs) on a first start.
        result = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": "E2E",
                "username": USERNAME,
                "password": PASSWORD,
                "language": "en",
            },
            auth=False,
            timeout=START_TIMEOUT,
        )
        self._take_token(result["auth_code"])
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
    text += "\nprometheus:\nrecorder:\n"
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


def set_options(ha: HomeAssistant, entry_id: str) -> None:
    """Let the gas baseline learn from a few readings (options flow over HTTP)."""
    flow = ha.request("POST", "/api/config/config_entries/options/flow", {"handler": entry_id})
    answer = {field["name"]: field.get("default") for field in flow["data_schema"]}
    answer["gas_learn_samples"] = LEARN_SAMPLES
    done = ha.request("POST", f"/api/config/config_entries/options/flow/{flow['flow_id']}", answer)
    if done["type"] != "create_entry":
        raise E2EError(f"options flow ended with {done}")


def numeric(state: dict[str, Any] | None) -> bool:
    """Tell whether a state is a number."""
    if state is None:
        return False
    try:
        float(state["state"])
    except ValueError:
        return False
    return True


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    """Poll check every second until it holds, or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    raise E2EError(f"timed out after {timeout:.0f} s waiting for {what}")


def expected_entities(ha: HomeAssistant) -> dict[str, dict[str, Any]]:
    """Wait for every numeric sensor, then check Prometheus exports each of them."""
    wanted = [f"sensor.{DEVICE}_{name}" for name in NUMERIC_SENSORS]
    wait_until(
        "numeric states of " + ", ".join(wanted),
        lambda: all(numeric(ha.states().get(entity_id)) for entity_id in wanted),
        120,
    )
    metrics = ha.request("GET", "/api/prometheus").decode()
    missing = [entity_id for entity_id in wanted if f'entity="{entity_id}"' not in metrics]
    if missing:
        raise E2EError(f"not in /api/prometheus: {missing}")
    return ha.states()


def preview(ha: HomeAssistant) -> Any:
    """Return the LCD preview as a PIL image."""
    from PIL import Image  # noqa: PLC0415 - the venv has Pillow; only this step needs it

    state = ha.states()[f"image.{DEVICE}_lcd_preview"]
    raw = ha.request("GET", state["attributes"]["entity_picture"])
    return Image.open(io.BytesIO(raw)).convert("RGB")


def message_on_lcd(ha: HomeAssistant, artifacts: Path) -> None:
    """Show a message with notify.qiot_lcd and find it in the preview image."""
    from PIL import ImageChops  # noqa: PLC0415

    from custom_components.qiot_enviro.display.screens import render_message  # noqa: PLC0415

    idle = preview(ha)
    idle.save(artifacts / "lcd-idle.png")
    ha.call("notify", "qiot_lcd", {"message": MESSAGE})
    expected = render_message(MESSAGE)

    def shows_message() -> bool:
        picture = preview(ha)
        picture.save(artifacts / "lcd-message.png")
        difference = ImageChops.difference(picture, expected).getextrema()
        return max(high for _low, high in difference) <= 8

    wait_until("the message in the LCD preview", shows_message, 20)
    text_area = (0, 10, 160, 70)
    changed = ImageChops.difference(preview(ha).crop(text_area), idle.crop(text_area))
    if changed.getbbox() is None:
        raise E2EError("the LCD preview did not change in the text area")


def particulate_fault(ha: HomeAssistant, entry_id: str) -> None:
    """Silence the simulated PMS5003: PM entities go unavailable, then come back."""
    entities = [f"sensor.{DEVICE}_{name}" for name in PARTICULATE_SENSORS]
    ha.call(DOMAIN, "simulate_fault", {"config_entry_id": entry_id, "fault": "particulates_silent"})
    wait_until(
        "particulate entities unavailable",
        lambda: all(ha.states()[e]["state"] == "unavailable" for e in entities),
        90,
    )
    if ha.states()[f"sensor.{DEVICE}_temperature"]["state"] == "unavailable":
        raise E2EError("a particulate fault made the temperature unavailable too")
    ha.call(DOMAIN, "simulate_fault", {"config_entry_id": entry_id, "fault": "clear"})
    wait_until(
        "particulate entities back",
        lambda: all(numeric(ha.states()[e]) for e in entities[:4]),
        90,
    )


def learned_baseline(ha: HomeAssistant) -> None:
    """Wait until the gas ratios are numeric: the baseline has been learned."""
    ratios = [f"sensor.{DEVICE}_{name}" for name in RATIO_SENSORS]
    wait_until(
        "a learned gas baseline",
        lambda: all(numeric(ha.states().get(e)) for e in ratios),
        (LEARN_SAMPLES + 3) * 10,
    )


def restart(ha: HomeAssistant, before: set[str]) -> None:
    """Restart Home Assistant; the same entities and the baseline must come back."""
    ha.stop()
    stored = list((ha.config_dir / ".storage").glob(f"{DOMAIN}.*.gas_baseline"))
    if not stored or '"r0": null' in stored[0].read_text(encoding="utf-8"):
        raise E2EError(f"no learned baseline stored at shutdown: {stored}")
    ha.start()
    ha.wait_for_port()
    ha.login()
    ha.wait_running()
    ratios = [f"sensor.{DEVICE}_{name}" for name in RATIO_SENSORS]

    def back() -> bool:
        states = ha.states()
        return set(states) >= before and all(numeric(states.get(e)) for e in ratios)

    # The first cycle after setup already has ratios only if the baseline was restored.
    wait_until("the same entities and the restored gas baseline", back, 60)
    missing = before - set(ha.states())
    if missing:
        raise E2EError(f"entities missing after restart: {sorted(missing)}")


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,1000",
    "--remote-debugging-port=0",
)


def screenshots(ha: HomeAssistant, artifacts: Path) -> str:
    """Save screenshots of the device page and the example dashboard, with Chromium.

    Skipped where Chromium is not installed. The example dashboard
    (examples/dashboard.yaml, entity ids of the simulated board) is created through the
    WebSocket API. The frontend is logged in the way it logs itself in: the tokens go
    to the page's localStorage (``hassTokens``) through the DevTools protocol. Returns
    what happened, for the summary; never fails the check.
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return "skipped (no chromium)"
    device_id = ha.request(
        "POST",
        "/api/template",
        {"template": f"{{{{ device_id('sensor.{DEVICE}_temperature') }}}}"},
    )
    if isinstance(device_id, bytes):
        device_id = device_id.decode()
    profile = Path(tempfile.mkdtemp(prefix="qiot-chromium-"))
    browser = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    saved: list[str] = []
    try:
        asyncio.run(_create_example_dashboard(ha))
        port_file = profile / "DevToolsActivePort"
        wait_until("Chromium's DevTools port", port_file.exists, 30)
        port = int(port_file.read_text(encoding="utf-8").split()[0])
        tokens = {
            "hassUrl": ha.base,
            "clientId": ha.client_id,
            "access_token": ha.token,
            "refresh_token": ha.refresh_token,
            "token_type": "Bearer",
            "expires_in": 1800,
            "expires": int(time.time() * 1000) + 1_800_000,
        }
        login = f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))})"
        for name, path in (
            ("device-page.png", f"/config/devices/device/{device_id}"),
            ("dashboard.png", f"/{DASHBOARD}/enviro"),
        ):
            png = asyncio.run(
                _devtools_screenshot(
                    port,
                    [
                        ("navigate", f"{ha.base}/onboarding.html"),
                        ("evaluate", login),
                        ("navigate", f"{ha.base}{path}"),
                    ],
                )
            )
            (artifacts / name).write_bytes(png)
            saved.append(name)
    except (E2EError, OSError, TimeoutError, ValueError, KeyError) as err:
        return f"failed ({err!r}); saved {saved}"
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=20)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
    return f"saved {', '.join(saved)} in {artifacts}"


async def _create_example_dashboard(ha: HomeAssistant) -> None:
    """Create the example dashboard, pointed at the simulated board's entities."""
    import aiohttp  # noqa: PLC0415 - in the venv with Home Assistant; only this step needs it
    from homeassistant.util.yaml import load_yaml  # noqa: PLC0415

    view = load_yaml(ROOT / "examples" / "dashboard.yaml")
    view = json.loads(json.dumps(view).replace(".enviro_", f".{DEVICE}_"))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{ha.port}/api/websocket") as ws,
    ):
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": ha.token})
        if (await ws.receive_json()).get("type") != "auth_ok":
            raise E2EError("WebSocket authentication failed")
        for message_id, command in enumerate(
            (
                {
                    "type": "lovelace/dashboards/create",
                    "url_path": DASHBOARD,
                    "title": "Enviro+ example",
                    "mode": "storage",
                    "show_in_sidebar": True,
                    "require_admin": False,
                },
                {
                    "type": "lovelace/config/save",
                    "url_path": DASHBOARD,
                    "config": {"views": [view]},
                },
            ),
            start=1,
        ):
            await ws.send_json({"id": message_id, **command})
            answer = await ws.receive_json()
            if not answer.get("success"):
                raise E2EError(f"{command['type']} failed: {answer}")


async def _devtools_screenshot(port: int, steps: list[tuple[str, str]]) -> bytes:
    """Drive the first page over the DevTools protocol and return a PNG screenshot."""
    import aiohttp  # noqa: PLC0415 - in the venv with Home Assistant; only this step needs it

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
            pages = [t for t in await response.json() if t.get("type") == "page"]
        async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 1000))

            async def send(method: str, params: dict[str, Any]) -> dict[str, Any]:
                message_id = next(ids)
                await ws.send_json({"id": message_id, "method": method, "params": params})
                async for message in ws:
                    data = json.loads(message.data)
                    if data.get("id") == message_id:
                        return dict(data.get("result", {}))
                raise E2EError("DevTools connection closed")

            for kind, value in steps:
                if kind == "navigate":
                    await send("Page.navigate", {"url": value})
                    await asyncio.sleep(6)  # the frontend loads its modules and connects
                else:
                    await send("Runtime.evaluate", {"expression": value})
            shot = await send("Page.captureScreenshot", {"format": "png"})
            return base64.b64decode(shot["data"])


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
        step("wait until running", timings, ha.wait_running)
        entry = step("add the simulated board", timings, lambda: add_integration(ha))
        entry_id = entry["entry_id"]
        step("set options", timings, lambda: set_options(ha, entry_id))
        states = step("entities and Prometheus", timings, lambda: expected_entities(ha))
        step("notify.qiot_lcd and preview", timings, lambda: message_on_lcd(ha, args.artifacts))
        step("particulate fault and recovery", timings, lambda: particulate_fault(ha, entry_id))
        step("learn the gas baseline", timings, lambda: learned_baseline(ha))
        step("restart", timings, lambda: restart(ha, set(states)))
        shot = step("screenshots", timings, lambda: screenshots(ha, args.artifacts))
        print(f"e2e: screenshots {shot}", flush=True)
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
