"""The LCD of one board: messages, the startup and idle screens, the tap, the preview.

Every action only records what the screen should show and hands a render job to the
display worker, which renders and sends frames in its own thread (newest wins), so a
call costs the event loop microseconds and a burst of calls cannot interleave frames.
Backlight changes go through the same worker, in order with the frames. Timers
(message duration, idle rotation, the clock) run on the event loop, so they follow
Home Assistant's clock.

The backlight is the user's choice: frames never switch it. A message (an action or a
notification) switches it on, so that it can be read; the "off" idle screen switches
it off each time the screen goes idle; the switch entity changes it at any time.

The preview image follows the panel: a message, a dismissal or a backlight change
shows within a frame time; the idle screens' own refreshes (rotating readings every
5 s, the clock every minute) update it at most every ``PREVIEW_IDLE_INTERVAL``, which
keeps the recorder from storing a row every 5 s.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.event import async_call_later, async_track_time_change
from homeassistant.util import dt as dt_util
from PIL import Image

from .const import (
    CONF_IDLE_SCREEN,
    CONF_STARTUP_MESSAGE,
    CONF_TAP_THRESHOLD,
    DEFAULT_IDLE_SCREEN,
    DEFAULT_STARTUP_MESSAGE,
    DEFAULT_TAP_THRESHOLD,
    DOMAIN,
    IDLE_CLOCK,
    IDLE_OFF,
    IDLE_READINGS,
    LOGGER,
    MAX_MESSAGE_LENGTH,
)
from .coordinator import QiotEnviroCoordinator
from .display.layout import MAX_SIZE, MIN_SIZE, sanitize
from .display.screens import (
    READINGS_PAGES,
    Readings,
    render_clock,
    render_message,
    render_off,
    render_readings,
    render_startup,
)
from .display.worker import DisplayWorker
from .enviro.errors import BoardError
from .enviro.models import SensorGroup
from .enviro.proximity import ProximityWatcher

type Color = tuple[int, int, int]

STARTUP_SECONDS = 5.0
IDLE_ROTATE_SECONDS = 5.0
# The idle screens' own refreshes reach the preview entity at most this often (288 a
# day); anything a user did shows at once.
PREVIEW_IDLE_INTERVAL = timedelta(minutes=5)
# Image.info key telling the preview whether a frame shows something a user did.
_URGENT = "qiot_urgent"
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class Message:
    """A message to show: validated text and how to show it."""

    text: str
    title: str | None = None
    duration: float | None = None  # seconds; None = until dismissed
    color: Color = WHITE
    background: Color = BLACK
    size: int | None = None  # pixels; None = automatic


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


def encode_png(image: Image.Image) -> bytes:
    """Encode a picture as PNG (in the display worker's thread)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


class LcdController:
    """Owns one board's LCD."""

    def __init__(self, hass: HomeAssistant, coordinator: QiotEnviroCoordinator) -> None:
        """Prepare the LCD; nothing is shown until :meth:`async_start`."""
        self.hass = hass
        self.coordinator = coordinator
        options = coordinator.config_entry.options
        self.idle_mode: str = options.get(CONF_IDLE_SCREEN, DEFAULT_IDLE_SCREEN)
        self.startup_message = bool(options.get(CONF_STARTUP_MESSAGE, DEFAULT_STARTUP_MESSAGE))
        self.tap_threshold = int(options.get(CONF_TAP_THRESHOLD, DEFAULT_TAP_THRESHOLD))
        board = coordinator.board
        self.worker = DisplayWorker(
            board.show_image, on_frame=self._on_frame, backlight=board.set_backlight
        )
        self.message: Message | None = None
        self.backlight = True
        self.stopped = False
        self.idle_page = 0
        self.preview: bytes | None = None
        self.preview_updated: datetime | None = None
        self._preview_listeners: list[Callable[[], None]] = []
        self._tap_listeners: list[Callable[[], None]] = []
        self._backlight_listeners: list[Callable[[], None]] = []
        self._message_timer: CALLBACK_TYPE | None = None
        self._idle_timer: CALLBACK_TYPE | None = None
        self._unsubs: list[CALLBACK_TYPE] = []
        self._watcher: ProximityWatcher | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def async_start(self) -> None:
        """Show the startup (or idle) screen and start watching for taps."""
        self.worker.set_backlight(self.backlight)
        self._unsubs.append(async_track_time_change(self.hass, self._on_minute, second=0))
        if self.coordinator.board.detection is not None and self._has_light_sensor():
            self._watcher = ProximityWatcher(
                self.coordinator.board.read_proximity,
                self._tap_from_thread,
                threshold=self.tap_threshold,
            )
            self._watcher.start()
        if self.startup_message:
            version = self.coordinator.version or ""
            self._submit(partial(render_startup, version), urgent=True)
            self._message_timer = async_call_later(
                self.hass, STARTUP_SECONDS, HassJob(self._end_message, cancel_on_shutdown=True)
            )
        else:
            self._show_idle()

    def _has_light_sensor(self) -> bool:
        detection = self.coordinator.board.detection
        return detection is not None and SensorGroup.LIGHT in detection.groups

    @property
    def available(self) -> bool:
        """Tell whether the LCD takes frames (its last frame or backlight change worked)."""
        return not self.stopped and self.worker.running and self.worker.healthy

    async def async_stop(self) -> None:
        """Stop timers and the tap watcher, turn the LCD off, and stop the worker.

        Nothing of the LCD runs afterwards: a tap or a timer that was already on its
        way to the event loop finds the controller stopped and does nothing.
        """
        if self.stopped:
            return
        self.stopped = True
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._cancel_message_timer()
        self._cancel_idle_timer()
        watcher, self._watcher = self._watcher, None
        self.worker.submit(render_off)
        self.worker.set_backlight(False)
        await self.hass.async_add_executor_job(self._stop_blocking, watcher)

    def _stop_blocking(self, watcher: ProximityWatcher | None) -> None:
        """Join the threads; make sure the backlight is off (executor)."""
        if watcher is not None:
            watcher.stop()
        self.worker.flush(timeout=5.0)
        if self.worker.stop() and self.worker.backlight is False:
            return
        # The worker hung or could not switch it: try once more directly.
        try:
            self.coordinator.board.set_backlight(False)
        except BoardError as err:  # the board may be gone already; unload must finish
            LOGGER.debug("Could not switch the LCD backlight off: %s", err)

    # -- actions ---------------------------------------------------------------------

    @callback
    def show(self, message: Message) -> None:
        """Show a message now (newest wins), with the backlight on; it ends after its duration."""
        if self.stopped:
            return
        self.message = message
        self._cancel_message_timer()
        self._cancel_idle_timer()
        self._submit(
            partial(
                render_message,
                message.text,
                title=message.title,
                fg=message.color,
                bg=message.background,
                size=message.size,
            ),
            urgent=True,
        )
        self.set_backlight(True)
        if message.duration:
            self._message_timer = async_call_later(
                self.hass,
                message.duration,
                HassJob(self._end_message, cancel_on_shutdown=True),
            )

    @callback
    def dismiss(self) -> None:
        """End the current message and go back to the idle screen."""
        if self.stopped:
            return
        self.message = None
        self._cancel_message_timer()
        self._show_idle(urgent=True)

    @callback
    def tap(self) -> None:
        """Dismiss the message, or move to the next idle screen; tell listeners."""
        if self.stopped:
            return
        if self.message is not None or self._message_timer is not None:
            self.dismiss()
        elif self.idle_mode == IDLE_READINGS:
            self.idle_page = (self.idle_page + 1) % READINGS_PAGES
            self._show_idle(urgent=True)
        for listener in list(self._tap_listeners):
            listener()

    @callback
    def set_backlight(self, on: bool) -> None:
        """Switch the backlight (through the worker, after the frames asked for before)."""
        if self.stopped:
            return
        changed = on != self.backlight
        self.backlight = on
        self.worker.set_backlight(on)
        if changed:
            for listener in list(self._backlight_listeners):
                listener()

    # -- listeners -------------------------------------------------------------------

    @callback
    def add_preview_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener when the picture on the LCD changes."""
        return self._add(self._preview_listeners, listener)

    @callback
    def add_tap_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener on each tap."""
        return self._add(self._tap_listeners, listener)

    @callback
    def add_backlight_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener when the backlight is switched."""
        return self._add(self._backlight_listeners, listener)

    @staticmethod
    def _add(listeners: list[Callable[[], None]], listener: Callable[[], None]) -> CALLBACK_TYPE:
        listeners.append(listener)

        def remove() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return remove

    # -- internals -------------------------------------------------------------------

    def _submit(self, render: Callable[[], Image.Image], *, urgent: bool) -> None:
        """Queue a frame; ``urgent`` frames (what a user did) reach the preview at once."""

        def tagged() -> Image.Image:
            image = render()
            image.info[_URGENT] = urgent
            return image

        self.worker.submit(tagged)

    @callback
    def _end_message(self, _now: datetime) -> None:
        """End a message (or the startup screen) whose time is up."""
        self._message_timer = None
        if self.stopped:
            return
        self.message = None
        self._show_idle(urgent=True)

    @callback
    def _show_idle(self, *, urgent: bool = False) -> None:
        """Show the idle screen chosen in the options.

        ``urgent``: the screen just went idle (a message ended), rather than the idle
        screen refreshing itself.
        """
        self._cancel_idle_timer()
        if self.stopped:
            return
        if self.idle_mode == IDLE_OFF:
            self._submit(render_off, urgent=True)
            self.set_backlight(False)
            return
        if self.idle_mode == IDLE_CLOCK:
            self._submit(partial(render_clock, dt_util.now()), urgent=urgent)
            return
        self._submit(partial(render_readings, self.idle_page, self._readings()), urgent=urgent)
        self._idle_timer = async_call_later(
            self.hass, IDLE_ROTATE_SECONDS, HassJob(self._rotate, cancel_on_shutdown=True)
        )

    @callback
    def _rotate(self, _now: datetime) -> None:
        """Move to the next readings page."""
        self._idle_timer = None
        self.idle_page = (self.idle_page + 1) % READINGS_PAGES
        self._show_idle()

    @callback
    def _on_minute(self, _now: datetime) -> None:
        """Redraw the clock each minute."""
        if self.message is None and self._message_timer is None and self.idle_mode == IDLE_CLOCK:
            self._show_idle()

    def _readings(self) -> Readings:
        """Return the values the readings pages show."""
        data = self.coordinator.data  # set by the first refresh, before the LCD starts
        particulates = data.snapshot.particulates
        pm25 = particulates.value.pm2_5 if particulates and particulates.value else None
        return Readings(
            temperature=data.temperature,
            humidity=data.humidity,
            pm2_5=pm25,
            aqi=data.air_quality_index,
            aqi_category=data.air_quality_category.value if data.air_quality_category else None,
        )

    def _cancel_message_timer(self) -> None:
        if self._message_timer is not None:
            self._message_timer()
            self._message_timer = None

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer()
            self._idle_timer = None

    def _tap_from_thread(self) -> None:
        """Hand a tap seen by the proximity watcher's thread to the event loop."""
        self.hass.loop.call_soon_threadsafe(self.tap)

    def _on_frame(self, image: Image.Image | None) -> None:
        """Refresh the preview picture after a frame or backlight change (worker thread)."""
        simulator = self.coordinator.simulator
        if simulator is not None:
            # What the emulated controller rebuilt from the SPI bytes.
            picture = simulator.lcd.picture()
        elif self.worker.backlight is False:
            picture = render_off()
        else:
            # A frame just sent, or (after a backlight change) the last one.
            picture = image if image is not None else self.worker.last_image or render_off()
        # A backlight change (no image) is something a user did.
        urgent = image is None or bool(image.info.get(_URGENT, True))
        png = encode_png(picture)
        self.hass.loop.call_soon_threadsafe(self._set_preview, png, urgent)

    @callback
    def _set_preview(self, png: bytes, urgent: bool) -> None:
        """Keep the newest picture; tell the preview entity now or within minutes."""
        if png == self.preview:
            return
        self.preview = png
        now = dt_util.utcnow()
        last = self.preview_updated
        if not urgent and last is not None and now - last < PREVIEW_IDLE_INTERVAL:
            return
        self.preview_updated = now
        for listener in list(self._preview_listeners):
            listener()
