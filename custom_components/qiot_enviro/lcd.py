"""The LCD of one board in Home Assistant: action input, and the LCD's state machine on HA's clock.

What the LCD shows and when (messages and their duration, the startup screen, the idle
screens, the tap, the backlight, the preview) is the board side's
:class:`~.display.controller.DisplayController`, the same one the remote agent runs.
This module validates what actions and notifications ask for (raising translated
errors) and runs the controller on Home Assistant's timers and event loop, so that it
follows Home Assistant's clock (and tests that move it).

The backlight is the user's choice: frames never switch it. A message (an action or a
notification) switches it on, so that it can be read; the "off" idle screen switches
it off each time the screen goes idle; the switch entity changes it at any time.

The preview image follows the panel: a message, a dismissal or a backlight change
shows within a frame time; the idle screens' own refreshes (rotating readings every
5 s, the clock every minute) update it at most every ``PREVIEW_IDLE_INTERVAL``, which
keeps the recorder from storing a row every 5 s.
"""

from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.event import async_call_later, async_track_time_change
from homeassistant.util import dt as dt_util

from .const import (
    CONF_IDLE_SCREEN,
    CONF_STARTUP_MESSAGE,
    CONF_TAP_THRESHOLD,
    DEFAULT_IDLE_SCREEN,
    DEFAULT_STARTUP_MESSAGE,
    DEFAULT_TAP_THRESHOLD,
    DOMAIN,
    MAX_MESSAGE_LENGTH,
)
from .coordinator import QiotEnviroCoordinator
from .display.controller import (
    BLACK,
    IDLE_ROTATE_SECONDS,
    PREVIEW_IDLE_INTERVAL,
    STARTUP_SECONDS,
    WHITE,
    Action,
    Cancel,
    Color,
    DisplayController,
    Message,
    encode_png,
)
from .display.layout import MAX_SIZE, MIN_SIZE, sanitize
from .display.screens import Readings
from .display.worker import DisplayWorker
from .enviro.models import SensorGroup

__all__ = [
    "BLACK",
    "IDLE_ROTATE_SECONDS",
    "PREVIEW_IDLE_INTERVAL",
    "STARTUP_SECONDS",
    "WHITE",
    "Color",
    "LcdController",
    "Message",
    "encode_png",
    "validate_message",
]


def validate_message(
    message: object,
    *,
    title: object = None,
    duration: object = None,
    color: object = None,
    background: object = None,
    size: object = None,
) -> Message:
    """Return a Message, or raise a translated ServiceValidationError naming the field."""
    if not isinstance(message, str) or not sanitize(message).strip():
        raise _invalid("message", "empty_message")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise _invalid("message", "message_too_long", limit=str(MAX_MESSAGE_LENGTH))
    if title is not None and not isinstance(title, str):
        raise _invalid("title", "invalid_title")
    clean_title = sanitize(title).strip() if title else ""
    seconds: float | None = None
    if duration is not None:
        try:
            seconds = float(duration)  # type: ignore[arg-type]
        except TypeError, ValueError:
            raise _invalid("duration", "invalid_duration") from None
        if not 0 <= seconds <= 86400:  # also refuses NaN
            raise _invalid("duration", "invalid_duration")
        seconds = seconds or None  # 0 = until dismissed
    pixels: int | None = None
    if size not in (None, "auto"):
        try:
            pixels = int(size)  # type: ignore[call-overload]
        except TypeError, ValueError:
            raise _invalid("size", "invalid_size") from None
        if not MIN_SIZE <= pixels <= MAX_SIZE:
            raise _invalid("size", "invalid_size")
    return Message(
        text=message,
        title=clean_title or None,
        duration=seconds,
        color=_color("color", color, WHITE),
        background=_color("background", background, BLACK),
        size=pixels,
    )


def _color(field: str, value: object, default: Color) -> Color:
    """Accept [r, g, b] or a CSS colour name."""
    if value is None:
        return default
    if isinstance(value, str):
        from homeassistant.util.color import color_name_to_rgb  # noqa: PLC0415

        try:
            red, green, blue = color_name_to_rgb(value.strip())
        except ValueError:
            raise _invalid(field, "invalid_color") from None
        return (red, green, blue)
    if (
        isinstance(value, list | tuple)
        and len(value) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise _invalid(field, "invalid_color")


def _invalid(field: str, key: str, **placeholders: str) -> ServiceValidationError:
    """Return a translated validation error that names the field."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"field": field, **placeholders},
    )


class HassScheduler:
    """The display controller's clock and thread: Home Assistant's timers and event loop."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Schedule on ``hass``."""
        self._hass = hass

    def now(self) -> datetime:
        """Return Home Assistant's local time."""
        return dt_util.now()

    def call_later(self, delay: float, action: Action) -> Cancel:
        """Run ``action`` after ``delay`` seconds of Home Assistant's clock."""

        @callback
        def fire(_now: datetime) -> None:
            action()

        return async_call_later(self._hass, delay, HassJob(fire, cancel_on_shutdown=True))

    def every_minute(self, action: Action) -> Cancel:
        """Run ``action`` at second 0 of every minute."""

        @callback
        def fire(_now: datetime) -> None:
            action()

        return async_track_time_change(self._hass, fire, second=0)

    def call_soon_threadsafe(self, action: Action) -> None:
        """Hand ``action`` to the event loop from any thread."""
        self._hass.loop.call_soon_threadsafe(action)


class LcdController:
    """Owns one board's LCD: the display controller on Home Assistant's clock."""

    def __init__(self, hass: HomeAssistant, coordinator: QiotEnviroCoordinator) -> None:
        """Prepare the LCD; nothing is shown until :meth:`async_start`."""
        self.hass = hass
        self.coordinator = coordinator
        options = coordinator.config_entry.options
        board = coordinator.board
        detection = board.detection
        # Taps need the light and proximity sensor.
        has_light = detection is not None and SensorGroup.LIGHT in detection.groups
        simulator = coordinator.simulator
        self.display = DisplayController(
            board.show_image,
            board.set_backlight,
            HassScheduler(hass),
            readings=self._readings,
            read_proximity=board.read_proximity if has_light else None,
            # What the emulated controller rebuilt from the SPI bytes.
            panel_picture=simulator.lcd.picture if simulator is not None else None,
            idle_screen=options.get(CONF_IDLE_SCREEN, DEFAULT_IDLE_SCREEN),
            startup_message=bool(options.get(CONF_STARTUP_MESSAGE, DEFAULT_STARTUP_MESSAGE)),
            tap_threshold=int(options.get(CONF_TAP_THRESHOLD, DEFAULT_TAP_THRESHOLD)),
            version=coordinator.version or "",
        )

    # -- state -----------------------------------------------------------------------

    @property
    def worker(self) -> DisplayWorker:
        """Return the thread that renders and sends the frames."""
        return self.display.worker

    @property
    def idle_mode(self) -> str:
        """Return the idle screen chosen in the options."""
        return self.display.idle_mode

    @property
    def startup_message(self) -> bool:
        """Tell whether the startup screen shows first."""
        return self.display.startup_message

    @property
    def tap_threshold(self) -> int:
        """Return the proximity count above which a hand counts as a tap."""
        return self.display.tap_threshold

    @property
    def available(self) -> bool:
        """Tell whether the LCD takes frames (its last frame or backlight change worked)."""
        return self.display.available

    @property
    def backlight(self) -> bool:
        """Return the backlight level the user (or a message, or the idle screen) chose."""
        return self.display.backlight

    @property
    def message(self) -> Message | None:
        """Return the message on show, None when idle."""
        return self.display.message

    @property
    def stopped(self) -> bool:
        """Tell whether the LCD was stopped."""
        return self.display.stopped

    @property
    def idle_page(self) -> int:
        """Return the readings page shown (or shown next)."""
        return self.display.idle_page

    @property
    def preview(self) -> bytes | None:
        """Return the PNG of the picture on the LCD, None before the first frame."""
        return self.display.preview

    @property
    def preview_updated(self) -> datetime | None:
        """Return when the preview listeners were last told (UTC)."""
        return self.display.preview_updated

    @property
    def _message_timer(self) -> Cancel | None:
        """Return what cancels the pending end of the message (tests look at it)."""
        return self.display.message_timer

    @property
    def _idle_timer(self) -> Cancel | None:
        """Return what cancels the pending page turn (tests look at it)."""
        return self.display.idle_timer

    # -- lifecycle -------------------------------------------------------------------

    async def async_start(self) -> None:
        """Show the startup (or idle) screen and start watching for taps."""
        self.display.start()

    async def async_stop(self) -> None:
        """Stop timers and the tap watcher, turn the LCD off, and stop the worker.

        Nothing of the LCD runs afterwards: a tap or a timer that was already on its
        way to the event loop finds the controller stopped and does nothing.
        """
        if self.display.stopped:
            return
        self.display.stop()
        await self.hass.async_add_executor_job(self.display.close)

    # -- actions ---------------------------------------------------------------------

    @callback
    def show(self, message: Message) -> None:
        """Show a message now (newest wins), with the backlight on; it ends after its duration."""
        self.display.show(message)

    @callback
    def dismiss(self) -> None:
        """End the current message and go back to the idle screen."""
        self.display.dismiss()

    @callback
    def tap(self) -> None:
        """Dismiss the message, or move to the next idle screen; tell listeners."""
        self.display.tap()

    @callback
    def set_backlight(self, on: bool) -> None:
        """Switch the backlight (through the worker, after the frames asked for before)."""
        self.display.set_backlight(on)

    def _tap_from_thread(self) -> None:
        """Hand a tap seen by another thread to the event loop."""
        self.display.tap_from_thread()

    # -- listeners -------------------------------------------------------------------

    @callback
    def add_preview_listener(self, listener: Action) -> CALLBACK_TYPE:
        """Call listener when the picture on the LCD changes."""
        return self.display.add_preview_listener(listener)

    @callback
    def add_tap_listener(self, listener: Action) -> CALLBACK_TYPE:
        """Call listener on each tap."""
        return self.display.add_tap_listener(listener)

    @callback
    def add_backlight_listener(self, listener: Action) -> CALLBACK_TYPE:
        """Call listener when the backlight is switched."""
        return self.display.add_backlight_listener(listener)

    # -- internals -------------------------------------------------------------------

    def _readings(self) -> Readings:
        """Return the values the readings pages show."""
        # Set by the first refresh, before the LCD starts.
        return self.coordinator.data.readings()
