"""The agent's small state file: what it must keep across restarts.

JSON, written atomically (temp file, fsync, ``os.replace``) with mode 0600::

    {"version": 1, "seq": 1234, "backlight": true,
     "display": {"idle_screen": "readings", "startup_message": true, "tap_threshold": 1000},
     "sampling": 300, "fan_seconds": 1234.5}

``sampling`` (the particulate sampling interval, null: continuous) and ``fan_seconds``
(the PMS5003 fan's total running time) were added later: a file without them reads as
continuous and 0 s.

A missing file is a first start; a corrupt or unreadable one is logged once and
replaced at the next save, never fatal.
"""

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .wire import IDLE_SCREENS, SAMPLING_INTERVALS, DisplaySettings

_LOGGER = logging.getLogger(__name__)
VERSION = 1
DEFAULT_DISPLAY = DisplaySettings(idle_screen="readings", startup_message=True, tap_threshold=1000)


@dataclass(slots=True)
class AgentState:
    """What survives a restart."""

    seq: int = 0
    backlight: bool = True
    display: DisplaySettings = DEFAULT_DISPLAY
    sampling: int | None = None
    fan_seconds: float = 0.0


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
    sampling = data.get("sampling")
    if sampling is not None and (isinstance(sampling, bool) or sampling not in SAMPLING_INTERVALS):
        raise ValueError("sampling interval out of range")
    fan = data.get("fan_seconds", 0.0)
    if isinstance(fan, bool) or not isinstance(fan, int | float) or not math.isfinite(fan):
        raise TypeError("fan_seconds is not a number")
    if fan < 0:
        raise ValueError("fan_seconds is negative")
    return AgentState(
        seq=seq,
        backlight=backlight,
        display=_display(data["display"]),
        sampling=sampling,
        fan_seconds=float(fan),
    )


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
        "sampling": state.sampling,
        "fan_seconds": state.fan_seconds,
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
