"""Pictures for the Enviro+ LCD (160x80) and the thread that puts them on the panel.

This package knows nothing about Home Assistant or buses: renderers return Pillow
images, and ``DisplayWorker`` hands them to whatever callable pushes them to the panel.
"""

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
    "DisplayWorker",
    "EmptyMessageError",
    "Readings",
    "render_clock",
    "render_message",
    "render_off",
    "render_readings",
    "render_startup",
]
