"""End-to-end check: a real Home Assistant with the integration, driven over HTTP.

Two runs, each against its own fresh Home Assistant: the local run (a simulated board
inside Home Assistant) and the remote run (a simulated board on "another Pi": the agent,
talking to Home Assistant over a real Mosquitto broker). ``--run local|remote|both``
(default both) picks them.

The local run's steps, each timed:
1. start Home Assistant with ``scripts/develop`` (the Home Assistant of the venv that
   runs this script) and its configuration plus ``prometheus:`` and ``recorder:``, in a
   fresh folder, on a free port;
2. onboard it and take a token through the HTTP API, as the frontend does;
3. add the integration through the config-flow API, choosing the simulated board;
4. call ``notify.qiot_lcd`` through ``/api/services`` and fetch the LCD preview image:
   it must show the message (compared with the renderer's picture) and differ from the
   idle screen in the text area (done while the PMS5003 warms up);
5. see every expected entity (the simulated board's fault select too) with a numeric
   state in ``/api/states`` once the PMS5003 has warmed up (30 s, during which the
   particulate entities read ``unknown``, never ``unavailable``), and the same metrics
   in Prometheus' text format at ``/api/prometheus``;
6. set the gas baseline to learn from 6 readings (options flow, which reloads the
   entry) and wait for the particulate sensor to warm up again;
7. inject a fault with the simulated board's ``select.enviro_simulated_simulated_fault``
   (``particulates_silent``): the particulate entities go unavailable, then come back
   after ``none``;
8. wait for the learned gas baseline (numeric ratios) and for the store
   (``.storage/qiot_enviro.<id>.gas_baseline``) to hold it, then kill Home Assistant
   (SIGKILL, an unclean stop) and start it again: the same entity ids, and the ratios
   are numeric from the first cycle (the baseline was restored, not learned again);
9. with Chromium installed, save screenshots of the device page and of the example
   dashboard (examples/dashboard.yaml) in the artifacts folder (skipped without it);
10. stop everything it started, by process id (Home Assistant cleanly, SIGTERM), and
    print a one-line summary, which says how long after learning the baseline was on
    disk.
After the start, the options reload, the restart and the stop, Home Assistant's log
must hold no WARNING or ERROR line from the integration's loggers; while the check
itself silences the particulate sensor, exactly one "unavailable" and one "back" line.

The remote run's steps, each timed (tests/broker.py and tests/agent_venv.py do the work):
1. start Mosquitto on a free loopback port with a password file (mosquitto_passwd), one
   user for Home Assistant and one for the agent;
2. start and onboard Home Assistant as above, in another fresh folder;
3. add Home Assistant's MQTT integration through its config flow (handler ``mqtt``, the
   broker form filled as the frontend does: its defaults, then host, port, credentials);
4. start ``qiot-enviro-agent run --broker mqtt://agent:...@127.0.0.1:PORT --simulated
   enviro_plus`` as its own process, from the agent's distribution installed in a clean
   venv on Python 3.13 (cached under .toolchain/agent-venv), with a state file in a
   temporary folder, a 2 s cycle and a fast simulated PMS5003 (no 30 s warm-up);
5. find the flow the board's retained announcement started (source ``mqtt``, step
   ``remote_confirm``, listed over the WebSocket API) and confirm it;
6. look the board's entity ids up in the entity registry (the device is named after the
   agent's host) and see the local run's sensors all numeric;
7. call the board's legacy notify service (read from ``/api/services``) and find the
   message in its LCD preview image (the agent renders it; Home Assistant shows it);
8. SIGKILL the agent: every entity goes unavailable (the broker publishes its last will
   at once, since the socket closes); start it again: numeric again. Both timed;
9. restart Mosquitto (by pid, same port and files): Home Assistant's MQTT client (it
   retries every 10 s) and the agent reconnect; timed until every entity has a fresh
   number again (Mosquitto publishes the agent's last will as it shuts down, so the
   board is unavailable in between);
10. wait for the learned gas baseline (the default 30 samples): numeric ratios, and
    ``.storage/qiot_enviro.<board id>.gas_baseline`` holding it;
11. stop the broker for two minutes (by pid; started again on the same port): every
    entity unavailable within Home Assistant's watchdog (3 cycles + 5 s; at once in
    practice, Mosquitto publishes the agent's will as it shuts down) and for the whole
    outage; after the broker's return, fresh numbers (the gas ratios numeric at once)
    within the agent's longest reconnect backoff (60 s) and a cycle, by themselves; the
    agent's state file goes on;
12. restart the agent (SIGTERM) behind a lossy link (tests/netcut.py, a loopback proxy)
    and cut that link for a minute: packets dropped, nothing closed. Unavailable within
    the watchdog; the broker's last will (seen by the check's own MQTT client) after
    1.5 keepalives (45 s, up to 52 s with Mosquitto 2.0's 6 s check), never at once;
    back within the backoff and a cycle of the link's return;
13. restart Home Assistant (a clean stop) while the agent publishes: the same entity ids
    (registry and states), the ratios numeric in the first states (the stored baseline
    used), and no discovery flow for the configured board although its announcement is
    retained, also after the agent answered Home Assistant's birth;
14. stop Home Assistant (SIGTERM), the agent and the broker, by pid; print a summary
    line with the measured times (each promise beside its measurement).
Each time is asserted as its promise plus 15 s for a busy machine. In each outage of
steps 11 and 12 the integration logs the board unavailable once and back once, and no
logger of Home Assistant or the agent repeats a warning or error (each cause once);
the agent logs no error. The integration may log no ERROR during the remote run, and no
WARNING other than "Board ... is unavailable" (at least one).

Each run exits non-zero on its first failed step; the logs (Home Assistant's, and the
agent's and the broker's for the remote run) stay in the artifacts folder (``remote/``).

Usage: .venv/bin/python scripts/e2e.py [--keep] [--artifacts DIR] [--run local|remote|both]
"""

import argparse
import asyncio
import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

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
    "cpu_temperature",
)
# The AQI follows the EPA's NowCast: unknown (never unavailable) until 2 of the 3 latest
# clock hours have readings, longer than this check runs.
NOWCAST_SENSORS = ("air_quality_index", "air_quality")
RATIO_SENSORS = ("oxidizing_gas_ratio", "reducing_gas_ratio", "nh3_gas_ratio")
RATIO_ENTITIES = tuple(f"sensor.{DEVICE}_{name}" for name in RATIO_SENSORS)
# The numeric ones first: air_quality is a category.
PARTICULATE_SENSORS = ("pm1", "pm2_5", "pm10", "air_quality_index", "air_quality")
PARTICULATE_ENTITIES = tuple(f"sensor.{DEVICE}_{name}" for name in PARTICULATE_SENSORS)
NUMERIC_PARTICULATES = PARTICULATE_ENTITIES[:3]
TEMPERATURE = f"sensor.{DEVICE}_temperature"
# The PMS5003's data is valid 30 s after it starts (datasheet); allow twice that.
WARMUP_TIMEOUT = 60.0
# The learned baseline is written at once when learning completes.
BASELINE_STORE_TIMEOUT = 30.0
FAULT_SELECT = f"select.{DEVICE}_simulated_fault"
NO_FAULT = "none"
FAULT_OPTIONS = (
    NO_FAULT,
    "particulates_silent",
    "particulates_corrupt",
    "i2c_bus_error",
    "gas_sensor_missing",
    "lcd_spi_error",
)
LEARN_SAMPLES = 6
# What a remote board learns from (the option's default, not changed in the remote run).
DEFAULT_LEARN_SAMPLES = 30
# The integration's loggers (custom_components.qiot_enviro and its children).
OUR_LOGGERS = (f"custom_components.{DOMAIN}", DOMAIN)
PROBLEM_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL", "FATAL"})
QUIET_LEVELS = frozenset({"DEBUG", "NOTSET"})
DASHBOARD = "enviro-example"
MESSAGE = "Hello from the end-to-end check"
USERNAME = "e2e"
PASSWORD = "e2e-password-123"  # noqa: S105 - a throwaway owner of a throwaway instance


class E2EError(Exception):
    """A step of the end-to-end check failed."""


def free_port() -> int:
    """Return a TCP port that is free on the loopback interface now.

    Below the kernel's ephemeral range (tests/broker.py says why): Home Assistant starts
    again on its port.
    """
    from tests.broker import _free_port  # noqa: PLC0415 - the repository's test helpers

    return _free_port()


# Home Assistant's log format: "%(asctime)s.%(msecs)03d %(levelname)s (%(threadName)s)
# [%(name)s] %(message)s". Thread names may hold parentheses ("Thread-1 (run)").
LOG_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?) (?P<level>[A-Z]+) "
    r"\((?P<thread>.*?)\) \[(?P<logger>[^\]\s]+)\] (?P<message>.*)$"
)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The agent's log format (agent/cli.py): "%(asctime)s %(levelname)s %(name)s: %(message)s".
AGENT_LOG_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?) (?P<level>[A-Z]+) "
    r"(?P<logger>[^\s:]+): (?P<message>.*)$"
)


@dataclass(slots=True)
class LogRecord:
    """One record of Home Assistant's log; continuation lines (tracebacks) included."""

    level: str
    logger: str
    message: str
    line: str

    @property
    def ours(self) -> bool:
        """Tell whether one of the integration's loggers wrote it."""
        return any(
            self.logger == name or self.logger.startswith(name + ".") for name in OUR_LOGGERS
        )

    @property
    def problem(self) -> bool:
        """Tell whether it is a WARNING or worse."""
        return self.level in PROBLEM_LEVELS

    def about_particulates(self, word: str) -> bool:
        """Tell whether it is an INFO-or-worse line on the particulate sensors with word."""
        first_line = self.message.partition("\n")[0]
        return (
            self.level not in QUIET_LEVELS
            and re.search(r"\bparticulate", first_line, re.IGNORECASE) is not None
            and re.search(rf"\b{re.escape(word)}\b", first_line, re.IGNORECASE) is not None
        )


def parse_log(text: str, pattern: re.Pattern[str] = LOG_LINE) -> list[LogRecord]:
    """Split log text into records by Home Assistant's line format (or another pattern)."""
    records: list[LogRecord] = []
    for raw in text.splitlines():
        line = ANSI_ESCAPE.sub("", raw).rstrip()
        match = pattern.match(line)
        if match is not None:
            records.append(LogRecord(match["level"], match["logger"], match["message"], line))
        elif records and line:
            records[-1].message += "\n" + line
    return records


class LogWatch:
    """Reads Home Assistant's log (our capture of its output) piece by piece."""

    def __init__(self, path: Path, pattern: re.Pattern[str] = LOG_LINE) -> None:
        """Start at the beginning of the log at path (lines in pattern's format)."""
        self.path = path
        self.pattern = pattern
        self.offset = 0

    def new_records(self) -> list[LogRecord]:
        """Return the records of the complete lines written since the last call."""
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        self.offset += end
        return parse_log(data[:end].decode("utf-8", errors="replace"), self.pattern)


def problems_of(records: list[LogRecord]) -> list[LogRecord]:
    """Return the integration's WARNING and ERROR records."""
    return [record for record in records if record.ours and record.problem]


def describe(records: list[LogRecord]) -> str:
    """Name a few records for an error message."""
    shown = "; ".join(record.line for record in records[:5])
    return shown + (f"; and {len(records) - 5} more" if len(records) > 5 else "")


def log_quiet(log: LogWatch, when: str) -> None:
    """Fail if the integration logged a WARNING or ERROR since the last check."""
    if bad := problems_of(log.new_records()):
        raise E2EError(
            f"{when}, the integration logged {len(bad)} warning(s)/error(s): {describe(bad)}"
        )


def fault_window_log(log: LogWatch) -> None:
    """Check the log of an injected particulate fault: one unavailable, one back line."""
    records: list[LogRecord] = []

    def back_logged() -> bool:
        records.extend(log.new_records())
        return any(r.ours and r.about_particulates("back") for r in records)

    # Home Assistant writes its log from a queue in a thread: give the line a moment.
    wait_until("the particulates' 'back' line in Home Assistant's log", back_logged, 15)
    unavailable = [r for r in records if r.ours and r.about_particulates("unavailable")]
    back = [r for r in records if r.ours and r.about_particulates("back")]
    others = [r for r in problems_of(records) if r not in unavailable and r not in back]
    if len(unavailable) != 1 or len(back) != 1 or others:
        raise E2EError(
            f"while the particulate sensor was silenced the integration logged "
            f"{len(unavailable)} 'unavailable' and {len(back)} 'back' line(s) (want one each) "
            f"and {len(others)} other warning(s)/error(s): {describe(unavailable + back + others)}"
        )


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
        # When the gas ratios were first seen numeric: the ratio sensors' last_changed
        # (Home Assistant's clock, a POSIX time), taken by states().
        self.learned_at: float | None = None
        # states() returns the entities whose id holds this (the board's device name).
        self.device = DEVICE

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

    def kill(self) -> None:
        """Kill the process we started (SIGKILL, by its pid): an unclean stop."""
        if self.process is None or self.process.poll() is not None:
            raise E2EError("Home Assistant is not running")
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def wait_running(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until Home Assistant has finished starting (every component loaded)."""

        def running() -> bool:
            try:
                return bool(self.request("GET", "/api/config").get("state") == "RUNNING")
            except urllib.error.HTTPError:
                return False

        wait_until("Home Assistant to finish starting", running, timeout)

    def states(self) -> dict[str, dict[str, Any]]:
        """Return the states of the simulated board's entities by entity id.

        Notes when the gas ratios are first numeric (learned_at): the check polls every
        second or so, so the earliest last_changed of the ratios is the learning cycle.
        """
        states = {
            state["entity_id"]: state
            for state in self.request("GET", "/api/states")
            if self.device in state["entity_id"]
        }
        if self.learned_at is None and all(numeric(states.get(e)) for e in RATIO_ENTITIES):
            self.learned_at = min(
                datetime.fromisoformat(states[e]["last_changed"]).timestamp()
                for e in RATIO_ENTITIES
            )
        return states

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


def set_options(ha: HomeAssistant, entry_id: str, log: LogWatch) -> None:
    """Let the gas baseline learn from a few readings (options flow over HTTP).

    The entry reloads: the PMS5003 starts, and warms up, again.
    """
    flow = ha.request("POST", "/api/config/config_entries/options/flow", {"handler": entry_id})
    answer = {field["name"]: field.get("default") for field in flow["data_schema"]}
    answer["gas_learn_samples"] = LEARN_SAMPLES
    done = ha.request("POST", f"/api/config/config_entries/options/flow/{flow['flow_id']}", answer)
    if done["type"] != "create_entry":
        raise E2EError(f"options flow ended with {done}")
    wait_until(
        "the options reload (the particulate sensor warming up again)",
        lambda: not numeric(ha.states().get(PARTICULATE_ENTITIES[1])),
        20,
        interval=0.25,
    )
    particulates_warmed_up(ha, "after the options reload")
    log_quiet(log, "after the options reload")


def numeric(state: dict[str, Any] | None) -> bool:
    """Tell whether a state is a number."""
    if state is None:
        return False
    try:
        float(state["state"])
    except ValueError:
        return False
    return True


def wait_until(what: str, check: Callable[[], bool], timeout: float, interval: float = 1.0) -> None:
    """Poll check every interval until it holds, or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise E2EError(f"timed out after {timeout:.0f} s waiting for {what}")


def particulates_warmed_up(ha: HomeAssistant, when: str) -> None:
    """Wait for numeric particulate entities after a start of the integration.

    The PMS5003 needs 30 s after it starts before its data is valid. Meanwhile, once the
    entry is running (the temperature has a value), the particulate entities must read
    unknown: warm-up is not a fault, so never unavailable. Two polls in a row are needed
    to fail, since an entry that reloads removes its entities one by one.
    """
    seen_unavailable: list[list[str]] = []

    def warmed_up() -> bool:
        states = ha.states()
        unavailable = [
            e for e in PARTICULATE_ENTITIES if states.get(e, {}).get("state") == "unavailable"
        ]
        if not numeric(states.get(TEMPERATURE)) or not unavailable:
            seen_unavailable.clear()  # the entry is not (yet) running, or all is well
        else:
            seen_unavailable.append(unavailable)
            if len(seen_unavailable) >= 2:
                raise E2EError(f"{when}: {unavailable} unavailable while the PMS5003 warms up")
        return all(numeric(states.get(e)) for e in NUMERIC_PARTICULATES)

    wait_until(f"numeric particulate entities {when}", warmed_up, WARMUP_TIMEOUT)


def expected_entities(ha: HomeAssistant, log: LogWatch) -> dict[str, dict[str, Any]]:
    """Wait for every numeric sensor, then check Prometheus exports each of them.

    The particulate sensors warm up first; nothing of it may show in the log.
    """
    particulates_warmed_up(ha, "after the start")
    wanted = [f"sensor.{DEVICE}_{name}" for name in NUMERIC_SENSORS]
    wait_until(
        "numeric states of " + ", ".join(wanted),
        lambda: all(numeric(ha.states().get(entity_id)) for entity_id in wanted),
        30,
    )
    log_quiet(log, "after the start")
    nowcast = {e: ha.states().get(f"sensor.{DEVICE}_{e}", {}).get("state") for e in NOWCAST_SENSORS}
    if any(state != "unknown" for state in nowcast.values()):
        raise E2EError(f"the NowCast AQI should be unknown in its first hours: {nowcast}")
    fault = ha.states().get(FAULT_SELECT)
    if fault is None or fault["state"] == "unavailable":
        raise E2EError(f"{FAULT_SELECT} is missing or unavailable: {fault}")
    options = fault["attributes"].get("options", [])
    if sorted(options) != sorted(FAULT_OPTIONS):
        raise E2EError(f"{FAULT_SELECT} offers {options}, not {list(FAULT_OPTIONS)}")
    metrics = ha.request("GET", "/api/prometheus").decode()
    missing = [entity_id for entity_id in wanted if f'entity="{entity_id}"' not in metrics]
    if missing:
        raise E2EError(f"not in /api/prometheus: {missing}")
    return ha.states()


def preview(ha: HomeAssistant) -> Any:
    """Return the LCD preview of the board ha.device names as a PIL image."""
    from PIL import Image  # noqa: PLC0415 - the venv has Pillow; only this step needs it

    state = ha.states()[f"image.{ha.device}_lcd_preview"]
    raw = ha.request("GET", state["attributes"]["entity_picture"])
    return Image.open(io.BytesIO(raw)).convert("RGB")


def message_on_lcd(ha: HomeAssistant, artifacts: Path, service: str = "qiot_lcd") -> None:
    """Show a message with notify.<service> and find it in the preview image."""
    from PIL import ImageChops  # noqa: PLC0415

    from custom_components.qiot_enviro.display.screens import render_message  # noqa: PLC0415

    idle = preview(ha)
    idle.save(artifacts / "lcd-idle.png")
    ha.call("notify", service, {"message": MESSAGE})
    expected = render_message(MESSAGE)

    def shows_message() -> bool:
        picture = preview(ha)
        picture.save(artifacts / "lcd-message.png")
        # One (low, high) pair per band of an RGB image.
        bands = cast(
            "tuple[tuple[int, int], ...]", ImageChops.difference(picture, expected).getextrema()
        )
        return max(high for _low, high in bands) <= 8

    wait_until("the message in the LCD preview", shows_message, 20)
    text_area = (0, 10, 160, 70)
    changed = ImageChops.difference(preview(ha).crop(text_area), idle.crop(text_area))
    if changed.getbbox() is None:
        raise E2EError("the LCD preview did not change in the text area")


def select_fault(ha: HomeAssistant, option: str) -> None:
    """Pick a fault of the simulated board with its select entity."""
    ha.call("select", "select_option", {"entity_id": FAULT_SELECT, "option": option})
    state = ha.states().get(FAULT_SELECT)
    if state is None or state["state"] != option:
        raise E2EError(f"{FAULT_SELECT} is {state} after choosing {option}")


def particulate_fault(ha: HomeAssistant, log: LogWatch) -> None:
    """Silence the simulated PMS5003: PM entities go unavailable, then come back.

    The log of this window holds exactly one "unavailable" and one "back" line.
    """
    log_quiet(log, "before the particulate fault")
    select_fault(ha, "particulates_silent")
    wait_until(
        "particulate entities unavailable",
        lambda: all(ha.states()[e]["state"] == "unavailable" for e in PARTICULATE_ENTITIES),
        90,
    )
    if ha.states()[TEMPERATURE]["state"] == "unavailable":
        raise E2EError("a particulate fault made the temperature unavailable too")
    select_fault(ha, NO_FAULT)
    wait_until(
        "particulate entities back",
        lambda: all(numeric(ha.states()[e]) for e in NUMERIC_PARTICULATES),
        90,
    )
    fault_window_log(log)


def learned_baseline(ha: HomeAssistant) -> None:
    """Wait until the gas ratios are numeric: the baseline has been learned."""
    wait_until(
        "a learned gas baseline",
        lambda: all(numeric(ha.states().get(e)) for e in RATIO_ENTITIES),
        (LEARN_SAMPLES + 3) * 10,
    )


def stored_r0(path: Path) -> bool:
    """Tell whether a gas baseline store holds a learned r0 (a number per gas)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError, ValueError:
        return False  # not written yet
    r0 = data.get("data", {}).get("r0") if isinstance(data, dict) else None
    return (
        isinstance(r0, dict)
        and bool(r0)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in r0.values())
    )


def baseline_stored(ha: HomeAssistant) -> float:
    """Wait for the learned baseline in its store; return how long after learning.

    Measured from the ratios' first numeric state (their last_changed) to the store
    file's modification time, both on this machine's clock.
    """
    storage = ha.config_dir / ".storage"
    written: list[float] = []

    def holds_r0() -> bool:
        stores = list(storage.glob(f"{DOMAIN}.*.gas_baseline"))
        if len(stores) > 1:
            raise E2EError(f"more than one gas baseline store: {stores}")
        if stores and stored_r0(stores[0]):
            written.append(stores[0].stat().st_mtime)
            return True
        return False

    wait_until(
        f"the learned gas baseline in {storage}/{DOMAIN}.<id>.gas_baseline",
        holds_r0,
        BASELINE_STORE_TIMEOUT,
        interval=0.2,
    )
    if ha.learned_at is None:
        raise E2EError("the gas ratios were never seen numeric")
    return max(0.0, written[0] - ha.learned_at)


def unclean_restart(ha: HomeAssistant, before: set[str], log: LogWatch) -> None:
    """Kill Home Assistant and start it again; the entities and the baseline come back.

    The ratios must be numeric in the first states of the restarted entry: learning
    again would take several cycles, restoring takes none.
    """
    ha.kill()
    ha.start()
    ha.wait_for_port()
    ha.login()
    ha.wait_running()
    first: dict[str, dict[str, Any]] = {}

    def ratios_live() -> bool:
        states = ha.states()
        # Until the entry has added them they are missing, or unavailable and restored.
        if all(
            states.get(e, {}).get("state", "unavailable") != "unavailable" for e in RATIO_ENTITIES
        ):
            first.update(states)
            return True
        return False

    wait_until("the gas ratio entities after the restart", ratios_live, 60, interval=0.5)
    if not all(numeric(first.get(e)) for e in RATIO_ENTITIES):
        states = {e: first[e]["state"] for e in RATIO_ENTITIES}
        raise E2EError(f"gas ratios {states} in the first cycle after the restart: not restored")
    wait_until("the same entity ids after the restart", lambda: set(ha.states()) >= before, 30)
    extra = set(ha.states()) - before
    if extra:
        raise E2EError(f"new entity ids after the restart: {sorted(extra)}")
    particulates_warmed_up(ha, "after the restart")
    log_quiet(log, "after the restart")


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
        commands: tuple[dict[str, Any], ...] = (
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
        )
        for message_id, command in enumerate(commands, start=1):
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


# -- the remote run: a board on another Pi, its agent talking to Home Assistant over MQTT --

REMOTE_BOARD = "e2e-remote-1"
MQTT_USERS = {
    "homeassistant": "ha-mqtt-pw-123",
    "agent": "agent-mqtt-pw-456",
    # The check's own client, which notes when the board's status messages arrive.
    "observer": "observer-mqtt-pw-789",
}
# Seconds per agent cycle: Home Assistant calls a board silent after 3 cycles + 5 s.
REMOTE_CYCLE = 2.0
# A fast simulated PMS5003 (the agent's hidden test option): no 30 s warm-up.
FRAME_INTERVAL = 0.05
# A dead client's last will comes at once when its socket closes, at the latest after
# 1.5 keepalives (the agent's is 30 s); Home Assistant's MQTT client retries every 10 s.
RECOVERY_TIMEOUT = 60.0
UNAVAILABLE_LINE = re.compile(r"\bBoard \S+ is unavailable\b")
BACK_LINE = re.compile(r"\bBoard \S+ is back\b")
# What the agent logs when it answers Home Assistant's birth message (agent/runner.py).
BIRTH_LINE = "Home Assistant came online; announcing again"
# The times the user is promised (README, "What you see when the broker, the network or
# Home Assistant fails"), each from its source: the agent's MQTT keepalive
# (agent/runner.py), after 1.5 of which without a packet the broker publishes its last
# will (MQTT 3.1.1, 3.1.2.10), and Mosquitto 2.0 looks at keepalives every 6 s
# (src/keepalive.c, whole seconds); the reconnect backoff of the agent's paho client,
# doubling from 1 s to at most 60 s (agent/runner.py); the agent's random delay before
# it answers Home Assistant's birth (agent/settings.py). Home Assistant's watchdog
# (remote.py) is read from the source.
AGENT_KEEPALIVE = 30.0
KEEPALIVE_CHECK = 7.0
WILL_AFTER = 1.5 * AGENT_KEEPALIVE + KEEPALIVE_CHECK
AGENT_MAX_BACKOFF = 60.0
BIRTH_DELAY = 5.0
# On top of each promised time: this check shares a small, busy machine.
SLACK = 15.0
# The outages: the broker down for two minutes, the agent's network gone for one.
BROKER_OUTAGE = 120.0
NETWORK_CUT = 60.0


class AgentProcess:
    """``qiot-enviro-agent run`` from the agent's own distribution, in a clean venv."""

    def __init__(self, bin_dir: Path, broker_url: str, folder: Path, log_path: Path) -> None:
        """Prepare the command; the state file lives in folder (a temporary one).

        broker_url may be changed between runs (the next start uses it).
        """
        self.broker_url = broker_url
        self.state_file = folder / "state.json"
        self.command = [
            str(bin_dir / "qiot-enviro-agent"),
            "run",
            "--simulated",
            "enviro_plus",
            "--board-id",
            REMOTE_BOARD,
            "--cycle",
            f"{REMOTE_CYCLE:g}",
            "--state-file",
            str(self.state_file),
            "--simulated-frame-interval",
            f"{FRAME_INTERVAL:g}",
        ]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the agent in its own session (its pid is the agent's)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command, "--broker", self.broker_url],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the agent by its pid: no goodbye, the broker publishes its last will."""
        if self.process is None or self.process.poll() is not None:
            raise E2EError(f"the agent is not running (log: {self.log_path})")
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Stop the agent by its pid: SIGTERM (it says offline), SIGKILL after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def form_defaults(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """Return what the frontend puts in a form before the user types anything.

    Defaults; for a required field without one, false for a boolean and the first
    option of a select; a collapsed section (expandable) holds its own fields' values.
    """
    values: dict[str, Any] = {}
    for field in schema:
        name = field["name"]
        selector = field.get("selector", {})
        if field.get("type") == "expandable":
            values[name] = form_defaults(field.get("schema", []))
        elif "default" in field:
            values[name] = field["default"]
        elif not field.get("required"):
            continue
        elif "boolean" in selector:
            values[name] = False
        elif options := selector.get("select", {}).get("options"):
            first = options[0]
            values[name] = first["value"] if isinstance(first, dict) else first
    return values


def add_mqtt(ha: HomeAssistant, port: int, username: str, password: str) -> None:
    """Add Home Assistant's MQTT integration through its config flow, as a user would."""
    flow = ha.request("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
    if flow["type"] == "menu":  # Home Assistant OS offers the add-on first
        flow = ha.request(
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            {"next_step_id": "broker"},
        )
    if flow["type"] != "form" or flow.get("step_id") != "broker":
        raise E2EError(f"the MQTT flow did not ask for the broker: {flow}")
    fields = {field["name"]: field for field in flow["data_schema"]}
    answer: dict[str, Any] = {
        "broker": "127.0.0.1",
        "port": port,
        "username": username,
        "password": password,
    }
    answer = form_defaults(flow["data_schema"]) | answer
    if unknown := sorted(set(answer) - set(fields)):
        raise E2EError(f"the MQTT broker form has no field {unknown}: {sorted(fields)}")
    unanswered = [
        name
        for name, field in fields.items()
        if field.get("required") and name not in answer and "default" not in field
    ]
    if unanswered:
        raise E2EError(f"the MQTT broker form also requires {unanswered}")
    try:
        done = ha.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", answer)
    except urllib.error.HTTPError as err:
        raise E2EError(
            f"the MQTT broker form refused {sorted(answer)}: {err} {err.read()[:500]!r}; "
            f"its fields: {flow['data_schema']}"
        ) from err
    if done["type"] != "create_entry":
        raise E2EError(f"the MQTT flow ended with {done}")

    def loaded() -> bool:
        entries = ha.request("GET", "/api/config/config_entries/entry?domain=mqtt")
        return any(entry.get("state") == "loaded" for entry in entries)

    wait_until("the MQTT entry to load", loaded, 30, interval=0.5)


def confirm_discovered_board(ha: HomeAssistant) -> dict[str, Any]:
    """Find the flow the board's announcement started and confirm it (one click)."""
    found: list[dict[str, Any]] = []

    def discovered() -> bool:
        found[:] = [
            flow
            # The frontend lists flows in progress over the WebSocket API (REST has no GET).
            for flow in ws_command(ha, {"type": "config_entries/flow/progress"})
            if flow.get("handler") == DOMAIN and flow.get("context", {}).get("source") == "mqtt"
        ]
        return bool(found)

    wait_until("the remote board's discovery flow (source mqtt)", discovered, 30, interval=0.5)
    if len(found) != 1 or found[0].get("step_id") != "remote_confirm":
        raise E2EError(f"want one discovery flow at remote_confirm, found {found}")
    flow = found[0]
    if flow["context"].get("unique_id") != REMOTE_BOARD:
        raise E2EError(f"the discovery flow is for {flow['context']}, not {REMOTE_BOARD}")
    done = ha.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {})
    if done["type"] != "create_entry":
        raise E2EError(f"confirming the discovered board ended with {done}")
    entry = dict(done["result"])
    if not entry.get("title", "").startswith("Enviro+ (simulated) on "):
        raise E2EError(f"unexpected title of the remote board's entry: {entry.get('title')!r}")
    return entry


def ws_command(ha: HomeAssistant, command: dict[str, Any]) -> Any:
    """Send one WebSocket API command and return its result."""

    async def run() -> Any:
        import aiohttp  # noqa: PLC0415 - in the venv with Home Assistant

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{ha.port}/api/websocket") as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": ha.token})
            if (await ws.receive_json()).get("type") != "auth_ok":
                raise E2EError("WebSocket authentication failed")
            await ws.send_json({"id": 1, **command})
            answer = await ws.receive_json()
            if not answer.get("success"):
                raise E2EError(f"{command['type']} failed: {answer}")
            return answer["result"]

    return asyncio.run(run())


def remote_entities(ha: HomeAssistant, entry_id: str) -> list[str]:
    """Look the board's entity ids up in the entity registry; set ha.device to its prefix.

    The device is named after the Pi the agent runs on ("Enviro+ (simulated) on <host>"),
    so the prefix is read from the temperature sensor's entity id, found by unique id.
    """
    registry: list[dict[str, Any]] = []

    def registered() -> bool:
        registry[:] = [
            e
            for e in ws_command(ha, {"type": "config/entity_registry/list"})
            if e.get("config_entry_id") == entry_id
        ]
        return any(e.get("unique_id") == f"{REMOTE_BOARD}_temperature" for e in registry)

    wait_until("the remote board's entities in the registry", registered, 30, interval=0.5)
    temperature = next(e for e in registry if e["unique_id"] == f"{REMOTE_BOARD}_temperature")
    ha.device = temperature["entity_id"].removeprefix("sensor.").removesuffix("_temperature")
    wanted = [f"sensor.{ha.device}_{name}" for name in NUMERIC_SENSORS]
    known = {e["entity_id"] for e in registry}
    if missing := [e for e in [*wanted, f"image.{ha.device}_lcd_preview"] if e not in known]:
        raise E2EError(f"not registered for the remote board: {missing}; has {sorted(known)}")
    return wanted


def all_numeric(ha: HomeAssistant, wanted: list[str]) -> bool:
    """Tell whether every wanted entity has a number as its state."""
    states = ha.states()
    return all(numeric(states.get(e)) for e in wanted)


def all_unavailable(ha: HomeAssistant, wanted: list[str]) -> bool:
    """Tell whether every wanted entity is unavailable."""
    states = ha.states()
    return all(states.get(e, {}).get("state") == "unavailable" for e in wanted)


def fresh_numbers(ha: HomeAssistant, wanted: list[str], since: float) -> bool:
    """Tell whether every wanted entity is numeric and was written after since (POSIX)."""
    states = ha.states()
    for entity_id in wanted:
        state = states.get(entity_id)
        if not numeric(state):
            return False
        assert state is not None
        written = state.get("last_reported") or state["last_updated"]
        if datetime.fromisoformat(written).timestamp() <= since:
            return False
    return True


def notify_service(ha: HomeAssistant) -> str:
    """Return the board's legacy notify service (qiot_lcd unless another board holds it)."""
    found: list[str] = []

    def offered() -> bool:
        services = ha.request("GET", "/api/services")
        notify: dict[str, Any] = next(
            (s["services"] for s in services if s["domain"] == "notify"), {}
        )
        found[:] = sorted(name for name in notify if name.startswith("qiot_lcd"))
        return bool(found)

    wait_until("the board's legacy notify service", offered, 30, interval=0.5)
    if len(found) != 1:
        raise E2EError(f"want one legacy notify service of the board, found {found}")
    return found[0]


def remote_preview_ready(ha: HomeAssistant) -> None:
    """Wait until the board's LCD preview can be fetched (the agent has sent one)."""

    def ready() -> bool:
        try:
            preview(ha)
        except KeyError, urllib.error.HTTPError, OSError, ValueError:
            return False
        return True

    wait_until("the remote board's LCD preview", ready, 30, interval=0.5)


def timed(action: Callable[[], Any], what: str, check: Callable[[], bool], timeout: float) -> float:
    """Do action, then wait for check (polled every 0.1 s); return the seconds from the action."""
    start = time.monotonic()
    action()
    wait_until(what, check, timeout, interval=0.1)
    return time.monotonic() - start


def remote_log_check(records: list[LogRecord]) -> int:
    """Fail on any ERROR of the integration, or a WARNING other than "unavailable".

    Returns how many "unavailable" warnings there were; none fails too, since the run
    kills the agent.
    """
    ours = [r for r in records if r.ours and r.problem]
    unavailable = [
        r
        for r in ours
        if r.level == "WARNING" and UNAVAILABLE_LINE.search(r.message.partition("\n")[0])
    ]
    if others := [r for r in ours if r not in unavailable]:
        raise E2EError(
            f"during the remote run the integration logged {len(others)} unexpected "
            f"warning(s)/error(s): {describe(others)}"
        )
    if not unavailable:
        raise E2EError("no 'unavailable' warning although the agent was killed")
    return len(unavailable)


def repeated(records: list[LogRecord]) -> list[LogRecord]:
    """Return the WARNING-or-worse records whose cause was logged before among records.

    A cause is the logger and the first line of the message, numbers aside.
    """
    seen: set[tuple[str, str]] = set()
    again: list[LogRecord] = []
    for record in records:
        if not record.problem:
            continue
        key = (record.logger, re.sub(r"\d+", "#", record.message.partition("\n")[0]))
        if key in seen:
            again.append(record)
        seen.add(key)
    return again


def episode_log(ha_records: list[LogRecord], agent_records: list[LogRecord], what: str) -> str:
    """Check the logs of one outage: the truth told once, each cause logged once.

    The integration logs the board unavailable once and back once, and no other warning;
    no logger of Home Assistant or the agent repeats a warning or error, and the agent
    logs no error (a lost broker is something it waits out). Returns what the agent
    warned about, for the summary.
    """
    ours = problems_of(ha_records)
    down = [r for r in ours if r.level == "WARNING" and UNAVAILABLE_LINE.search(r.message)]
    back = [r for r in ha_records if r.ours and BACK_LINE.search(r.message.partition("\n")[0])]
    if others := [r for r in ours if r not in down]:
        raise E2EError(f"{what}: the integration also logged {describe(others)}")
    if len(down) != 1 or len(back) != 1:
        raise E2EError(
            f"{what}: the integration logged {len(down)} 'unavailable' and {len(back)} 'back' "
            f"line(s), want one each: {describe(down + back)}"
        )
    if again := repeated(ha_records + agent_records):
        raise E2EError(f"{what}: logged more than once: {describe(again)}")
    if errors := [r for r in agent_records if r.problem and r.level != "WARNING"]:
        raise E2EError(f"{what}: the agent logged {describe(errors)}")
    warned = [r.message.partition("\n")[0] for r in agent_records if r.problem]
    return "; ".join(warned) or "nothing"


class Episode:
    """Home Assistant's and the agent's log lines written during one outage."""

    def __init__(self, ha_log: Path, agent_log: Path) -> None:
        """Start reading both logs at their ends."""
        self.ha = LogWatch(ha_log)
        self.agent = LogWatch(agent_log, AGENT_LOG_LINE)
        self.ha.new_records()
        self.agent.new_records()

    def check(self, what: str) -> str:
        """Check the lines written since the start (see episode_log); return its summary.

        Home Assistant writes its log from a queue in a thread: the "back" line may
        follow the fresh states by a moment.
        """
        ha_records: list[LogRecord] = []
        agent_records: list[LogRecord] = []

        def back_logged() -> bool:
            ha_records.extend(self.ha.new_records())
            return any(r.ours and BACK_LINE.search(r.message) for r in ha_records)

        wait_until(f"the 'back' line in Home Assistant's log ({what})", back_logged, 15, 0.2)
        agent_records.extend(self.agent.new_records())
        return episode_log(ha_records, agent_records, what)


class BoardWatch:
    """The check's own MQTT client on the board's topics: when each message came.

    paho from Home Assistant's venv; it subscribes to the board's announce and status
    topics and records (monotonic time, kind, payload, retained) for each message.
    """

    def __init__(self, port: int, user: str, password: str) -> None:
        """Prepare the client; start connects it."""
        import paho.mqtt.client as mqtt  # noqa: PLC0415 - Home Assistant's dependency
        from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

        self.port = port
        self.messages: list[tuple[float, str, bytes, bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="qiot-e2e-observer")
        self.client.username_pw_set(user, password)
        topics = [(f"qiot_enviro/{REMOTE_BOARD}/{kind}", 1) for kind in ("announce", "status")]
        self.client.on_connect = lambda client, *_: client.subscribe(topics)
        self.client.on_message = lambda _c, _u, message: self.messages.append(
            (time.monotonic(), message.topic.rsplit("/", 1)[-1], message.payload, message.retain)
        )

    def start(self) -> None:
        """Connect and start paho's network thread."""
        self.client.connect("127.0.0.1", self.port, keepalive=60)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def retained(self, kind: str) -> bool:
        """Tell whether the broker holds a retained message of this kind (seen at subscribe)."""
        return any(k == kind and r and p for _at, k, p, r in list(self.messages))

    def first(self, kind: str, payload: bytes, since: float, *, retained: bool = False) -> float:
        """Return when the first such message came after since (monotonic), else inf."""
        return next(
            (
                at
                for at, k, p, r in list(self.messages)
                if at > since and k == kind and p == payload and r == retained
            ),
            float("inf"),
        )


def stays(what: str, check: Callable[[], bool], until: float, interval: float = 1.0) -> None:
    """Fail unless check holds at every poll until the monotonic time until."""
    while time.monotonic() < until:
        if not check():
            raise E2EError(f"{what} did not hold ({until - time.monotonic():.0f} s before the end)")
        time.sleep(min(interval, max(0.0, until - time.monotonic())))


def since(start: float) -> float:
    """Return the seconds from the monotonic time start until now."""
    return time.monotonic() - start


def watchdog_time() -> float:
    """Return how long Home Assistant waits for a state before the board is unavailable."""
    from custom_components.qiot_enviro.remote import (  # noqa: PLC0415 - Home Assistant's venv
        MISSED_CYCLES,
        WATCHDOG_SLACK,
    )

    return MISSED_CYCLES * REMOTE_CYCLE + WATCHDOG_SLACK


def back_fresh(ha: HomeAssistant, wanted: list[str], ratios: list[str], after: float) -> bool:
    """Tell whether the board is back: every wanted entity fresh since after (POSIX).

    The gas ratios must be numeric in those states: the learned baseline was kept.
    """
    if not fresh_numbers(ha, wanted, after):
        return False
    states = ha.states()
    if not all(numeric(states.get(e)) for e in ratios):
        shown = {e: states.get(e, {}).get("state") for e in ratios}
        raise E2EError(f"the board is back but its gas ratios are {shown}: the baseline was lost")
    return True


def agent_state(agent: AgentProcess) -> dict[str, Any]:
    """Return the agent's state file, failing if it is missing or broken."""
    try:
        data = json.loads(agent.state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise E2EError(f"the agent's state file {agent.state_file}: {err}") from err
    if not isinstance(data, dict):
        raise E2EError(f"the agent's state file holds {data!r}")
    return data


def state_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Fail unless the agent's state file went on from before: nothing reset, nothing lost."""
    lost = sorted(set(before) - set(after))
    counted_back = [
        key
        for key in ("seq", "fan_seconds")
        if isinstance(before.get(key), int | float) and after.get(key, 0) < before[key]
    ]
    if lost or counted_back:
        raise E2EError(f"the agent's state went from {before} to {after}")


@dataclass(slots=True)
class RemoteBoard:
    """What the remote scenarios need: Home Assistant, the board's entities, the agent."""

    ha: HomeAssistant
    entry_id: str
    wanted: list[str]
    ratios: list[str]
    agent: AgentProcess
    agent_log: Path
    notes: list[str]

    def unavailable(self) -> bool:
        """Tell whether every entity of the board is unavailable."""
        return all_unavailable(self.ha, [*self.wanted, *self.ratios])

    def note(self, text: str) -> None:
        """Keep a measured time for the summary and print it now."""
        self.notes.append(text)
        print(f"e2e remote: {text}", flush=True)

    def episode(self) -> Episode:
        """Start reading the logs of an outage."""
        return Episode(self.ha.log_path, self.agent_log)


def broker_outage(board: RemoteBoard, broker: Any) -> None:
    """Stop the broker for two minutes: unavailable in time, back in time by itself.

    Promised: unavailable within Home Assistant's watchdog (3 cycles + 5 s) of the stop
    and for the whole outage; back (fresh numbers, the gas ratios numeric at once) within
    the agent's longest reconnect backoff (60 s) and a cycle of the broker's return.
    Home Assistant's MQTT client retries every 10 s meanwhile. The agent's state file
    goes on; each cause is logged once.
    """
    gone_within = watchdog_time() + SLACK
    back_within = AGENT_MAX_BACKOFF + REMOTE_CYCLE + SLACK
    state_before = agent_state(board.agent)
    episode = board.episode()
    stopped = time.monotonic()
    broker.stop()
    wait_until(
        f"the board unavailable after the broker stopped (promised within {gone_within:.0f} s)",
        board.unavailable,
        gone_within - since(stopped),
        interval=0.1,
    )
    gone = since(stopped)
    stays(
        "the board unavailable while the broker is down", board.unavailable, stopped + BROKER_OUTAGE
    )
    returned_at = time.time()
    returned = time.monotonic()
    broker.start()
    wait_until(
        f"fresh numbers after the broker's return (promised within {back_within:.0f} s)",
        lambda: back_fresh(board.ha, board.wanted, board.ratios, returned_at),
        back_within,
        interval=0.2,
    )
    back = since(returned)
    state_kept(state_before, agent_state(board.agent))
    warned = episode.check("broker down")
    board.note(
        f"broker down {BROKER_OUTAGE:.0f}s: unavailable after {gone:.1f}s (promised "
        f"{gone_within - SLACK:.0f}s), fresh {back:.1f}s after its return (promised "
        f"{back_within - SLACK:.0f}s); the agent warned: {warned}"
    )


def behind_lossy_link(board: RemoteBoard, link: Any) -> None:
    """Restart the agent (SIGTERM) with the lossy link's address as its broker's."""
    board.agent.stop()
    board.agent.broker_url = re.sub(r":\d+$", f":{link.port}", board.agent.broker_url)
    started_at = time.time()
    board.agent.start()
    wait_until(
        "fresh numbers from the agent behind the lossy link",
        lambda: fresh_numbers(board.ha, board.wanted, started_at),
        RECOVERY_TIMEOUT,
        interval=0.2,
    )


def network_cut(board: RemoteBoard, link: Any, watch: BoardWatch) -> None:
    """Drop every packet between the agent and the broker for a minute.

    Promised: unavailable within Home Assistant's watchdog (3 cycles + 5 s) and for the
    whole cut; the broker publishes the agent's last will after 1.5 keepalives (45 s;
    up to 52 s with Mosquitto 2.0's check interval), not at once (nothing was closed);
    back within the agent's longest reconnect backoff (60 s) and a cycle of the
    network's return. Each cause is logged once.
    """
    gone_within = watchdog_time() + SLACK
    will_within = WILL_AFTER + SLACK
    back_within = AGENT_MAX_BACKOFF + REMOTE_CYCLE + SLACK
    offline = b"offline"
    episode = board.episode()
    cut = time.monotonic()
    link.cut()
    wait_until(
        f"the board unavailable after the network cut (promised within {gone_within:.0f} s)",
        board.unavailable,
        gone_within,
        interval=0.1,
    )
    gone = since(cut)
    wait_until(
        f"the agent's last will from the broker (promised within {will_within:.0f} s)",
        lambda: watch.first("status", offline, cut) < float("inf"),
        will_within - since(cut),
        interval=0.1,
    )
    will = watch.first("status", offline, cut) - cut
    if will < AGENT_KEEPALIVE:
        raise E2EError(f"the last will came {will:.1f} s after the cut: a close, not a loss")
    stays("the board unavailable while its network is cut", board.unavailable, cut + NETWORK_CUT)
    restored_at = time.time()
    restored = time.monotonic()
    link.restore()
    wait_until(
        f"fresh numbers after the network's return (promised within {back_within:.0f} s)",
        lambda: back_fresh(board.ha, board.wanted, board.ratios, restored_at),
        back_within,
        interval=0.2,
    )
    back = since(restored)
    online = watch.first("status", b"online", restored) - restored
    warned = episode.check("network cut")
    board.note(
        f"network cut {NETWORK_CUT:.0f}s: unavailable after {gone:.1f}s (promised "
        f"{gone_within - SLACK:.0f}s), last will after {will:.1f}s (promised "
        f"{will_within - SLACK:.0f}s), online {online:.1f}s and fresh {back:.1f}s after "
        f"its return (promised {back_within - SLACK:.0f}s); the agent warned: {warned}"
    )


def remote_baseline(board: RemoteBoard) -> None:
    """Wait for the learned gas baseline: numeric ratios, and its store holding it."""
    store = board.ha.config_dir / ".storage" / f"{DOMAIN}.{REMOTE_BOARD}.gas_baseline"
    wait_until(
        "numeric gas ratios (a learned baseline)",
        lambda: all_numeric(board.ha, board.ratios),
        (DEFAULT_LEARN_SAMPLES + 10) * REMOTE_CYCLE + SLACK,
    )
    wait_until(f"the learned gas baseline in {store}", lambda: stored_r0(store), 30, 0.2)


def registered_ids(ha: HomeAssistant, entry_id: str) -> dict[str, str]:
    """Return the entry's entity ids by unique id (the entity registry)."""
    return {
        e["unique_id"]: e["entity_id"]
        for e in ws_command(ha, {"type": "config/entity_registry/list"})
        if e.get("config_entry_id") == entry_id
    }


def discovery_flows(ha: HomeAssistant) -> list[dict[str, Any]]:
    """Return the integration's config flows in progress (the frontend's "Discovered")."""
    return [
        flow
        for flow in ws_command(ha, {"type": "config_entries/flow/progress"})
        if flow.get("handler") == DOMAIN
    ]


def ha_restart(board: RemoteBoard, watch: BoardWatch) -> None:
    """Restart Home Assistant (a clean stop) while the agent keeps publishing.

    The same entity ids (registry and states); the stored gas baseline kept and used
    (the ratios numeric in the first states); no discovery flow for the configured board
    although its announcement is retained, also after the agent answered Home
    Assistant's birth. Measured: from the start of the process to every entity fresh.
    """
    ha = board.ha
    entities = [*board.wanted, *board.ratios]
    ids = registered_ids(ha, board.entry_id)
    states_before = set(ha.states())
    store = ha.config_dir / ".storage" / f"{DOMAIN}.{REMOTE_BOARD}.gas_baseline"
    if not stored_r0(store):
        raise E2EError(f"no learned gas baseline in {store} before the restart")
    births = board.agent_log.read_text(encoding="utf-8").count(BIRTH_LINE)
    ha.stop()
    started = time.monotonic()
    ha.start()
    ha.wait_for_port()
    ha.login()
    ha.wait_running()
    running = since(started)
    first: dict[str, dict[str, Any]] = {}

    def live() -> bool:
        states = ha.states()
        # Until the entry has added them they are missing, or restored as unavailable.
        if all(states.get(e, {}).get("state", "unavailable") != "unavailable" for e in entities):
            first.update(states)
            return True
        return False

    wait_until("the board's entities after the restart", live, RECOVERY_TIMEOUT, interval=0.2)
    available = since(started)
    if not all(numeric(first.get(e)) for e in entities):
        shown = {e: first.get(e, {}).get("state") for e in entities if not numeric(first.get(e))}
        raise E2EError(f"in the first states after the restart: {shown} (baseline not restored?)")
    if (after := registered_ids(ha, board.entry_id)) != ids:
        changed = sorted(set(after.items()) ^ set(ids.items()))
        raise E2EError(f"the entity registry changed over the restart: {changed}")
    wait_until("the same states after the restart", lambda: set(ha.states()) >= states_before, 30)
    if extra := set(ha.states()) - states_before:
        raise E2EError(f"new entity ids after the restart: {sorted(extra)}")
    if not stored_r0(store):
        raise E2EError(f"the gas baseline store {store} lost its baseline over the restart")
    if not watch.retained("announce"):
        raise E2EError(
            "the board's announcement is not retained: discovery was not put to the test"
        )

    def answered_birth() -> bool:
        return board.agent_log.read_text(encoding="utf-8").count(BIRTH_LINE) > births

    wait_until(
        "the agent's answer to Home Assistant's birth", answered_birth, BIRTH_DELAY + SLACK, 0.2
    )
    stays(
        "no discovery flow for the configured board",
        lambda: not discovery_flows(ha),
        time.monotonic() + 3.0,
        interval=0.5,
    )
    board.note(
        f"Home Assistant restarted (clean stop): running after {running:.1f}s, every entity "
        f"numeric (the gas ratios from the stored baseline) after {available:.1f}s, same "
        f"{len(ids)} entity ids, no discovery flow"
    )


def remote_main(artifacts: Path, keep: bool) -> bool:
    """Run the remote board's steps against a fresh Home Assistant; print a summary."""
    from tests.agent_venv import agent_venv  # noqa: PLC0415 - the repository's test helpers
    from tests.broker import Broker  # noqa: PLC0415
    from tests.netcut import LossyLink  # noqa: PLC0415

    artifacts.mkdir(parents=True, exist_ok=True)
    total_start = time.monotonic()
    timings: list[tuple[str, float]] = []
    notes: list[str] = []
    config_dir = Path(tempfile.mkdtemp(prefix="qiot-e2e-remote-"))
    agent_dir = Path(tempfile.mkdtemp(prefix="qiot-e2e-agent-"))
    log_path = artifacts / "home-assistant.log"
    log_path.unlink(missing_ok=True)
    (artifacts / "agent.log").unlink(missing_ok=True)
    port = free_port()
    ha = HomeAssistant(config_dir, port, log_path)
    log = LogWatch(log_path)
    broker: Any = None
    agent: AgentProcess | None = None
    link: LossyLink | None = None
    watch: BoardWatch | None = None
    ok = False

    def note(text: str) -> None:
        notes.append(text)
        print(f"e2e remote: {text}", flush=True)

    try:
        broker = step("prepare Mosquitto", timings, lambda: Broker(MQTT_USERS))
        step("start Mosquitto", timings, broker.start)
        print(f"e2e remote: broker pid {broker.pid} on 127.0.0.1:{broker.port}", flush=True)
        # Built (or taken from the cache) while nothing else runs: the first build asks PyPI.
        bin_dir = step("the agent's venv (Python 3.13)", timings, agent_venv)
        write_config(config_dir, port)
        step("start Home Assistant", timings, ha.start)
        step("wait for the HTTP server", timings, ha.wait_for_port)
        step("onboard and take a token", timings, ha.onboard)
        step("wait until running", timings, ha.wait_running)
        ha_user = "homeassistant"
        step(
            "add MQTT (config flow)",
            timings,
            lambda: add_mqtt(ha, broker.port, ha_user, MQTT_USERS[ha_user]),
        )
        agent = AgentProcess(bin_dir, broker.url("agent"), agent_dir, artifacts / "agent.log")
        step("start the agent", timings, agent.start)
        entry = step("confirm the discovered board", timings, lambda: confirm_discovered_board(ha))
        print(f"e2e remote: added {entry['title']!r}", flush=True)
        wanted = step(
            "the board's entities", timings, lambda: remote_entities(ha, entry["entry_id"])
        )
        step(
            "numeric states",
            timings,
            lambda: wait_until(
                "numeric states of " + ", ".join(wanted), lambda: all_numeric(ha, wanted), 60
            ),
        )
        service = step("find its notify service", timings, lambda: notify_service(ha))
        step("wait for its LCD preview", timings, lambda: remote_preview_ready(ha))
        step(
            f"notify.{service} and preview",
            timings,
            lambda: message_on_lcd(ha, artifacts, service),
        )
        gone = step(
            "kill the agent: unavailable",
            timings,
            lambda: timed(
                agent.kill,
                "the board's entities unavailable (last will)",
                lambda: all_unavailable(ha, wanted),
                RECOVERY_TIMEOUT,
            ),
        )
        note(f"agent killed (SIGKILL): unavailable after {gone:.2f}s")
        back = step(
            "restart the agent: numeric",
            timings,
            lambda: timed(
                agent.start,
                "the board's entities numeric again",
                lambda: all_numeric(ha, wanted),
                RECOVERY_TIMEOUT,
            ),
        )
        note(f"agent restarted: numeric after {back:.2f}s")
        restarted_at = time.time()
        recovered = step(
            "restart Mosquitto: recovery",
            timings,
            lambda: timed(
                broker.restart,
                "fresh numeric states after the broker restart",
                lambda: fresh_numbers(ha, wanted, restarted_at),
                RECOVERY_TIMEOUT,
            ),
        )
        note(f"broker restarted: fresh numbers after {recovered:.2f}s")
        board = RemoteBoard(
            ha,
            entry["entry_id"],
            wanted,
            [f"sensor.{ha.device}_{name}" for name in RATIO_SENSORS],
            agent,
            artifacts / "agent.log",
            notes,
        )
        step("learn and store the gas baseline", timings, lambda: remote_baseline(board))
        step(f"broker down {BROKER_OUTAGE:.0f}s", timings, lambda: broker_outage(board, broker))
        link = LossyLink(broker.port)
        step("start a lossy link to the broker", timings, link.start)
        step(
            "restart the agent behind a lossy link", timings, lambda: behind_lossy_link(board, link)
        )
        watch = BoardWatch(broker.port, "observer", MQTT_USERS["observer"])
        step("watch the board's status", timings, watch.start)
        step(f"network cut {NETWORK_CUT:.0f}s", timings, lambda: network_cut(board, link, watch))
        step("restart Home Assistant", timings, lambda: ha_restart(board, watch))
        ok = True
    except E2EError as err:
        print(f"e2e remote: FAILED: {err} (logs: {artifacts})", flush=True)
    finally:
        # Home Assistant first, so that the agent's goodbye is not logged as a fault.
        step("stop Home Assistant", timings, ha.stop)
        if agent is not None:
            step("stop the agent", timings, agent.stop)
        if watch is not None:
            watch.stop()
        if link is not None:
            link.close()
        if broker is not None:
            (artifacts / "mosquitto.log").write_text(broker.log(), encoding="utf-8")
            step("stop Mosquitto", timings, broker.close)
        if ok:
            try:
                warnings = remote_log_check(log.new_records())
                note(f"{warnings} 'unavailable' warning(s), no other warning or error")
            except E2EError as err:
                print(f"e2e remote: FAILED: {err} (Home Assistant log: {log_path})", flush=True)
                ok = False
        if keep:
            print(f"e2e remote: configuration kept in {config_dir}")
        else:
            shutil.rmtree(config_dir, ignore_errors=True)
        shutil.rmtree(agent_dir, ignore_errors=True)
    summary = ", ".join([*(f"{name} {seconds:.1f}s" for name, seconds in timings), *notes])
    verdict = "passed" if ok else "FAILED"
    print(f"e2e remote: {verdict} in {time.monotonic() - total_start:.1f}s ({summary})", flush=True)
    return ok


def choose_input(flow: dict[str, Any]) -> dict[str, Any]:
    """Answer a config-flow form: pick the simulated board where a choice is offered."""
    answer: dict[str, Any] = {}
    for field in flow.get("data_schema", []):
        if field.get("name") == "board":
            answer["board"] = "simulated"
    return answer


def local_main(args: argparse.Namespace) -> bool:
    """Run every step of the local run, always stopping what was started."""
    args.artifacts.mkdir(parents=True, exist_ok=True)

    total_start = time.monotonic()
    timings: list[tuple[str, float]] = []
    config_dir = Path(tempfile.mkdtemp(prefix="qiot-e2e-"))
    port = free_port()
    log_path = args.artifacts / "home-assistant.log"
    log_path.unlink(missing_ok=True)
    ha = HomeAssistant(config_dir, port, log_path)
    log = LogWatch(log_path)
    notes: list[str] = []
    ok = False
    try:
        write_config(config_dir, port)
        step("start Home Assistant", timings, ha.start)
        step("wait for the HTTP server", timings, ha.wait_for_port)
        step("onboard and take a token", timings, ha.onboard)
        step("wait until running", timings, ha.wait_running)
        entry = step("add the simulated board", timings, lambda: add_integration(ha))
        entry_id = entry["entry_id"]
        # While the PMS5003 warms up (30 s) the LCD does not need it.
        step("notify.qiot_lcd and preview", timings, lambda: message_on_lcd(ha, args.artifacts))
        states = step(
            "warm-up, entities and Prometheus", timings, lambda: expected_entities(ha, log)
        )
        step("set options, warm-up", timings, lambda: set_options(ha, entry_id, log))
        step("particulate fault and recovery", timings, lambda: particulate_fault(ha, log))
        step("learn the gas baseline", timings, lambda: learned_baseline(ha))
        delay = step("store the gas baseline", timings, lambda: baseline_stored(ha))
        notes.append(f"gas baseline on disk {delay:.2f}s after learning")
        print(f"e2e: {notes[-1]}", flush=True)
        step("kill, restart, warm-up", timings, lambda: unclean_restart(ha, set(states), log))
        shot = step("screenshots", timings, lambda: screenshots(ha, args.artifacts))
        print(f"e2e: screenshots {shot}", flush=True)
        ok = True
    except E2EError as err:
        print(f"e2e: FAILED: {err} (Home Assistant log: {log_path})", flush=True)
    finally:
        step("stop Home Assistant", timings, ha.stop)
        if ok:
            try:
                log_quiet(log, "until the clean stop")
            except E2EError as err:
                print(f"e2e: FAILED: {err} (Home Assistant log: {log_path})", flush=True)
                ok = False
        if args.keep:
            print(f"e2e: configuration kept in {config_dir}")
        else:
            shutil.rmtree(config_dir, ignore_errors=True)
    summary = ", ".join([*(f"{name} {seconds:.1f}s" for name, seconds in timings), *notes])
    verdict = "passed" if ok else "FAILED"
    print(f"e2e: {verdict} in {time.monotonic() - total_start:.1f}s ({summary})", flush=True)
    return ok


def main() -> int:
    """Run the local run, the remote run, or both (the default), one after the other."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the configuration folders")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts" / "e2e")
    parser.add_argument(
        "--run", choices=("local", "remote", "both"), default="both", help="default: both"
    )
    args = parser.parse_args()
    ok = True
    if args.run in ("local", "both"):
        ok = local_main(args) and ok
    if args.run in ("remote", "both"):
        ok = remote_main(args.artifacts / "remote", args.keep) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
