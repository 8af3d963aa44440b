"""The agent's state file: what survives a restart, and what a damaged file costs."""

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from custom_components.qiot_enviro.agent.state import AgentState, load_state, save_state
from custom_components.qiot_enviro.agent.wire import DisplaySettings


def _saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Write a state with every field away from its default; return the file and its JSON."""
    path = tmp_path / "state.json"
    state = AgentState(
        seq=41,
        backlight=False,
        display=DisplaySettings(idle_screen="clock", startup_message=False, tap_threshold=900),
        sampling=600,
        fan_seconds=1234.5,
    )
    save_state(path, state)
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    """Sequence, backlight, display settings, sampling and fan time come back as saved."""
    path, _ = _saved(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_state(path) == AgentState(
        seq=41,
        backlight=False,
        display=DisplaySettings(idle_screen="clock", startup_message=False, tap_threshold=900),
        sampling=600,
        fan_seconds=1234.5,
    )


def test_missing_file_means_defaults_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A first start has no file: defaults, nothing logged."""
    with caplog.at_level(logging.WARNING):
        assert load_state(tmp_path / "absent.json") == AgentState()
    assert not caplog.records


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 99),
        ("seq", -1),
        ("seq", True),
        ("seq", 2**53),
        ("backlight", "yes"),
        ("sampling", 7),
        ("sampling", True),
        ("fan_seconds", "long"),
        ("fan_seconds", True),
        ("fan_seconds", -5.0),
        ("display", [1, 2]),
        ("display", {"idle_screen": "disco", "startup_message": True, "tap_threshold": 900}),
        ("display", {"idle_screen": "clock", "startup_message": 1, "tap_threshold": 900}),
        ("display", {"idle_screen": "clock", "startup_message": True, "tap_threshold": 0}),
        ("display", {"idle_screen": "clock", "startup_message": True, "tap_threshold": True}),
        ("display", {"idle_screen": "clock"}),
    ],
)
def test_damaged_field_means_defaults_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, field: str, value: object
) -> None:
    """A value the agent never writes (edited by hand, bit rot): start afresh, say so once."""
    path, data = _saved(tmp_path)
    data[field] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert load_state(path) == AgentState()
    assert len(caplog.records) == 1
    assert "corrupt" in caplog.records[0].getMessage()


def test_truncated_file_means_defaults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A file cut short (a power cut mid-write of an older version) is not a crash."""
    path, _ = _saved(tmp_path)
    path.write_text(path.read_text(encoding="utf-8")[:20], encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert load_state(path) == AgentState()
    assert len(caplog.records) == 1


def test_unreadable_file_means_defaults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A state path that is a folder (or unreadable) is reported once, not fatal."""
    folder = tmp_path / "state.json"
    folder.mkdir()
    with caplog.at_level(logging.WARNING):
        assert load_state(folder) == AgentState()
    assert "unreadable" in caplog.records[0].getMessage()


def test_failed_write_leaves_the_old_file_and_no_litter(tmp_path: Path) -> None:
    """A write that fails midway keeps the previous state and removes its temporary file."""
    path, before = _saved(tmp_path)
    with pytest.raises(TypeError):
        save_state(path, AgentState(fan_seconds=object()))  # type: ignore[arg-type]
    assert json.loads(path.read_text(encoding="utf-8")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
