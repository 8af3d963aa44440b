"""The end-to-end check (scripts/e2e.py): its log and store checks, and a real run.

The real run starts Home Assistant; skip it for quick local runs with
``scripts/test -m "not e2e"`` (the other tests here take milliseconds).
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "e2e.py"

OURS = "custom_components.qiot_enviro"


def line(level: str, logger: str, message: str, thread: str = "MainThread") -> str:
    """Return one line in Home Assistant's log format."""
    return f"2026-12-02 02:43:06.508 {level} ({thread}) [{logger}] {message}"


UNAVAILABLE = line(
    "WARNING", OURS, "The particulates sensors are unavailable: no valid frame for 17 s"
)
BACK = line("INFO", OURS, "The particulates sensors are back")
FETCH_ERROR = line("ERROR", OURS, "Error fetching qiot_enviro data")


@pytest.fixture(name="e2e", scope="module")
def e2e_module() -> ModuleType:
    """Import scripts/e2e.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("qiot_e2e", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_log_by_logger_and_level(e2e: ModuleType) -> None:
    """Records are told apart by logger and level; tracebacks stay with their record."""
    lines = [
        line("WARNING", "homeassistant.loader", "We found a custom integration qiot_enviro"),
        # Coloured, from a thread whose name has parentheses, with a traceback.
        "\x1b[31m" + line("ERROR", f"{OURS}.coordinator", "Failed", "Thread-3 (_run)") + "\x1b[0m",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        line("DEBUG", OURS, "Finished fetching qiot_enviro data"),
        line("WARNING", f"{OURS}_x", "x"),
        "develop: starting Home Assistant",
    ]
    text = "\n".join(lines)
    records = e2e.parse_log(text)
    assert [(r.level, r.logger, r.ours) for r in records] == [
        ("WARNING", "homeassistant.loader", False),
        ("ERROR", "custom_components.qiot_enviro.coordinator", True),
        ("DEBUG", "custom_components.qiot_enviro", True),
        ("WARNING", "custom_components.qiot_enviro_x", False),
    ]
    assert records[1].message == (
        'Failed\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>'
    )
    assert records[3].message == "x\ndevelop: starting Home Assistant"
    assert e2e.problems_of(records) == [records[1]]


def test_log_watch_reads_complete_lines_once(e2e: ModuleType, tmp_path: Path) -> None:
    """Each call returns what was written since the last one; a partial line waits."""
    path = tmp_path / "home-assistant.log"
    watch = e2e.LogWatch(path)
    assert watch.new_records() == []
    path.write_text(UNAVAILABLE + "\n" + BACK[:30], encoding="utf-8")
    assert [r.line for r in watch.new_records()] == [UNAVAILABLE]
    with path.open("a", encoding="utf-8") as log:
        log.write(BACK[30:] + "\n")
    assert [r.line for r in watch.new_records()] == [BACK]
    assert watch.new_records() == []


def test_log_quiet_fails_on_our_warnings_only(e2e: ModuleType, tmp_path: Path) -> None:
    """Warnings of other loggers pass; one of the integration fails, naming the line."""
    path = tmp_path / "home-assistant.log"
    path.write_text(
        line("WARNING", "homeassistant.loader", "custom integration") + "\n" + BACK + "\n",
        encoding="utf-8",
    )
    watch = e2e.LogWatch(path)
    e2e.log_quiet(watch, "after the start")
    with path.open("a", encoding="utf-8") as log:
        log.write(UNAVAILABLE + "\n")
    with pytest.raises(e2e.E2EError, match=r"after the restart, .* 1 warning"):
        e2e.log_quiet(watch, "after the restart")


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([UNAVAILABLE, BACK], None),
        ([UNAVAILABLE, UNAVAILABLE, BACK], "2 'unavailable' and 1 'back'"),
        ([UNAVAILABLE, BACK, BACK], "1 'unavailable' and 2 'back'"),
        ([BACK], "0 'unavailable' and 1 'back'"),
        (
            [UNAVAILABLE, FETCH_ERROR, BACK],
            "1 other",
        ),
    ],
)
def test_fault_window_log(
    e2e: ModuleType, tmp_path: Path, lines: list[str], error: str | None
) -> None:
    """The fault window holds one unavailable and one back line, and nothing else bad."""
    path = tmp_path / "home-assistant.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    watch = e2e.LogWatch(path)
    if error is None:
        e2e.fault_window_log(watch)
    else:
        with pytest.raises(e2e.E2EError, match=error):
            e2e.fault_window_log(watch)


@pytest.mark.parametrize(
    ("content", "learned"),
    [
        ({"data": {"r0": {"oxidising": 2.1e4, "reducing": 3.4e5, "nh3": 1.7e5}}}, True),
        ({"data": {"r0": None, "samples": [[1.0, 2.0, 3.0]]}}, False),
        ({"data": {"r0": {}}}, False),
        ({"data": {"r0": {"oxidising": "x"}}}, False),
        (None, False),
    ],
)
def test_stored_r0(
    e2e: ModuleType, tmp_path: Path, content: dict[str, Any] | None, learned: bool
) -> None:
    """Only a store with a number per gas holds a learned baseline (missing: none)."""
    path = tmp_path / "qiot_enviro.sim-1.gas_baseline"
    if content is not None:
        path.write_text(json.dumps({"version": 1, **content}), encoding="utf-8")
    assert e2e.stored_r0(path) is learned


def test_form_defaults_as_the_frontend_fills_them(e2e: ModuleType) -> None:
    """Defaults; false and the first option for required fields; sections nested."""
    schema = [
        {"name": "broker", "required": True, "selector": {"text": {}}},
        {"name": "port", "required": True, "default": 1883},
        {"name": "username", "required": False, "optional": True},
        {
            "name": "other_settings",
            "type": "expandable",
            "required": True,
            "schema": [
                {"name": "set_client_cert", "required": True, "selector": {"boolean": {}}},
                {
                    "name": "set_ca_cert",
                    "required": True,
                    "selector": {"select": {"options": ["off", "auto"]}},
                },
                {
                    "name": "transport",
                    "required": True,
                    "selector": {"select": {"options": [{"value": "tcp", "label": "TCP"}]}},
                },
                {"name": "keepalive", "required": False, "optional": True},
            ],
        },
    ]
    assert e2e.form_defaults(schema) == {
        "port": 1883,
        "other_settings": {"set_client_cert": False, "set_ca_cert": "off", "transport": "tcp"},
    }


BOARD_UNAVAILABLE = line("WARNING", OURS, "Board e2e-remote-1 is unavailable: offline")


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([BOARD_UNAVAILABLE, BACK, BOARD_UNAVAILABLE], None),
        ([BOARD_UNAVAILABLE, UNAVAILABLE], "1 unexpected"),
        ([BOARD_UNAVAILABLE, FETCH_ERROR], "1 unexpected"),
        ([BACK], "no 'unavailable' warning"),
    ],
)
def test_remote_log_check(e2e: ModuleType, lines: list[str], error: str | None) -> None:
    """The remote run allows the board's "unavailable" warnings only, and wants one."""
    records = e2e.parse_log("\n".join(lines))
    if error is None:
        assert e2e.remote_log_check(records) == 2
    else:
        with pytest.raises(e2e.E2EError, match=error):
            e2e.remote_log_check(records)


def run_e2e(tmp_path: Path, run: str, timeout: float) -> str:
    """Run scripts/e2e.py --run <run>; fail with the end of its output; return stdout."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--artifacts", str(tmp_path), "--run", run],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


@pytest.mark.e2e
def test_real_home_assistant_end_to_end(tmp_path: Path) -> None:
    """Home Assistant starts, is onboarded, and the integration is added over HTTP."""
    assert "e2e: passed" in run_e2e(tmp_path, "local", 1500)


@pytest.mark.e2e
def test_real_home_assistant_with_a_remote_board(tmp_path: Path) -> None:
    """A real broker and agent: discovery, LCD, kills, broker and network outages, restarts."""
    assert "e2e remote: passed" in run_e2e(tmp_path, "remote", 1800)


BOARD_BACK = line("INFO", OURS, "Board e2e-remote-1 is back")
MQTT_LOST = line("WARNING", "homeassistant.components.mqtt.client", "Disconnected (7)")


def agent_line(level: str, message: str) -> str:
    """Return one line in the agent's log format (agent/cli.py)."""
    return f"2026-12-08 01:12:26,236 {level} qiot_enviro.agent.runner: {message}"


AGENT_LOST = agent_line("WARNING", "Disconnected from mqtt://agent:***@127.0.0.1:1883 (7)")


def test_agent_log_lines_parse(e2e: ModuleType) -> None:
    """The agent's lines are records of its logger; a traceback stays with its line."""
    text = "\n".join([AGENT_LOST, agent_line("ERROR", "Command failed"), "Traceback ..."])
    records = e2e.parse_log(text, e2e.AGENT_LOG_LINE)
    assert [(r.level, r.logger) for r in records] == [
        ("WARNING", "qiot_enviro.agent.runner"),
        ("ERROR", "qiot_enviro.agent.runner"),
    ]
    assert records[1].message == "Command failed\nTraceback ..."


@pytest.mark.parametrize(
    ("ha_lines", "agent_lines", "error"),
    [
        ([BOARD_UNAVAILABLE, MQTT_LOST, BOARD_BACK], [AGENT_LOST], None),
        ([BOARD_UNAVAILABLE, BOARD_BACK, BOARD_UNAVAILABLE], [], "2 'unavailable' and 1 'back'"),
        ([BOARD_BACK], [], "0 'unavailable' and 1 'back'"),
        ([BOARD_UNAVAILABLE, UNAVAILABLE, BOARD_BACK], [], "also logged"),
        ([BOARD_UNAVAILABLE, MQTT_LOST, MQTT_LOST, BOARD_BACK], [], "more than once"),
        (
            [BOARD_UNAVAILABLE, BOARD_BACK],
            [AGENT_LOST, AGENT_LOST.replace("(7)", "(16)")],
            "more than once",
        ),
        ([BOARD_UNAVAILABLE, BOARD_BACK], [agent_line("ERROR", "x")], "the agent logged"),
    ],
)
def test_episode_log(
    e2e: ModuleType, ha_lines: list[str], agent_lines: list[str], error: str | None
) -> None:
    """An outage: one unavailable and one back line, each cause once, no agent error."""
    ha_records = e2e.parse_log("\n".join(ha_lines))
    agent_records = e2e.parse_log("\n".join(agent_lines), e2e.AGENT_LOG_LINE)
    if error is None:
        assert e2e.episode_log(ha_records, agent_records, "outage").startswith("Disconnected")
    else:
        with pytest.raises(e2e.E2EError, match=error):
            e2e.episode_log(ha_records, agent_records, "outage")


@pytest.mark.parametrize(
    ("after", "kept"),
    [
        ({"seq": 40, "fan_seconds": 12.5, "sampling": None}, True),
        ({"seq": 3, "fan_seconds": 12.5, "sampling": None}, False),
        ({"seq": 40, "fan_seconds": 0, "sampling": None}, False),
        ({"seq": 40, "fan_seconds": 12.5}, False),
    ],
)
def test_state_kept(e2e: ModuleType, after: dict[str, Any], kept: bool) -> None:
    """The agent's state file goes on: no key lost, no count going back."""
    before = {"seq": 30, "fan_seconds": 12.0, "sampling": None}
    if kept:
        e2e.state_kept(before, after)
    else:
        with pytest.raises(e2e.E2EError, match="the agent's state went"):
            e2e.state_kept(before, after)
