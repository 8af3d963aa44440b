"""Pictures for the Enviro+ LCD (160x80), the thread that shows them, and what shows when.

This package knows nothing about Home Assistant or buses: renderers return Pillow
images, ``DisplayWorker`` hands them to whatever callable pushes them to the panel, and
``DisplayController`` decides what the panel shows (messages, startup and idle screens,
taps, backlight, preview) on whatever clock its ``Scheduler`` brings.
"""

from .controller import DisplayController, LoopScheduler, Message, Scheduler
from .layout import MAX_SIZE, MIN_SIZE, EmptyMessageError
from .screens import (
    AQI_COLORS,
    READINGS_PAGES,
    Readings,
    render_clock,
    render_message,
    render_off,
    render_readings,
    render_startup,
)
from .worker import DisplayWorker

__all__ = [
    "AQI_COLORS",
    "MAX_SIZE",
    "MIN_SIZE",
    "READINGS_PAGES",
    "DisplayController",
    "DisplayWorker",
    "EmptyMessageError",
    "LoopScheduler",
    "Message",
    "Readings",
    "Scheduler",
    "render_clock",
    "render_message",
    "render_off",
    "render_readings",
    "render_startup",
]
