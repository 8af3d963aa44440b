"""The agent's small state file: what it must keep across restarts.

JSON, written atomically (temp file, fsync, ``os.replace``) with mode 0600::

    {"version": 1, "seq": 1234, "backlight": true,
     "display": {"idle_screen": "readings", "startup_message": true, "tap_threshold": 1000}}

A missing file is a first start; a corrupt or unreadable one is logged once and
replaced at the next save, never fatal.
"""

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .wire import IDLE_SCREENS, DisplaySettings

_LOGGER = logging.getLogger(__name__)
VERSION = 1
DEFAULT_DISPLAY = DisplaySettings(idle_screen="readings", startup_message=True, tap_threshold=1000)


@dataclass(slots=True)
class AgentState:
    """What survives a restart."""

    seq: int = 0
    backlight: bool = True
    display: DisplaySettings = DEFAULT_DISPLAY


def _display(raw: object) -> DisplaySettings:
    if not isinstance(raw, dict):
        raise TypeError("display is not an object")
    idle, startup, threshold = raw["idle_screen"], raw["startup_message"], raw["tap_threshold"]
    if idle not in IDLE_SCREENS or not isinstance(startup, bool):
        raise ValueError("display settings out of range")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 2047:
        raise ValueError("tap threshold out of range")
    return DisplaySettings(idle_screen=idle, startup_message=startup, tap_threshold=threshold)


def load_state(path: Path) -> AgentState:
    """Read the state file; defaults when missing, corrupt or unreadable (logged once)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AgentState()
    except OSError as err:
        _LOGGER.warning("State file %s unreadable (%s); starting afresh", path, err.strerror)
        return AgentState()
    try:
        return _parse(json.loads(text))
    except (ValueError, TypeError, KeyError) as err:
        _LOGGER.warning("State file %s is corrupt (%s); it will be replaced", path, err)
        return AgentState()


def _parse(data: object) -> AgentState:
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("unknown version")
    seq, backlight = data["seq"], data["backlight"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
        raise ValueError("seq out of range")
    if not isinstance(backlight, bool):
        raise TypeError("backlight is not true or false")
    return AgentState(seq=seq, backlight=backlight, display=_display(data["display"]))


def save_state(path: Path, state: AgentState) -> None:
    """Write the state file atomically with mode 0600; raise OSError on failure."""
    data = {
        "version": VERSION,
        "seq": state.seq,
        "backlight": state.backlight,
        "display": {
            "idle_screen": state.display.idle_screen,
            "startup_message": state.display.startup_message,
            "tap_threshold": state.display.tap_threshold,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file)
            file.flush()
            os.fsync(file.fileno())
        Path(temp).chmod(0o600)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
