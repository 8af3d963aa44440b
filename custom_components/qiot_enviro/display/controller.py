"""What the LCD shows and when: messages, the startup and idle screens, taps, the preview.

:class:`DisplayController` is the one copy of the LCD's state machine, shared by Home
Assistant (a local board) and the remote agent (a board reached over MQTT). It knows
nothing about either: time comes through a :class:`Scheduler` (Home Assistant's timers
in the integration, an asyncio loop's in the agent), and listeners tell the owner about
a new picture, a tap or a backlight change.

Every method runs in the scheduler's thread (the event loop). Frames are rendered and
sent by a :class:`~.worker.DisplayWorker` in its own thread (newest wins), and taps are
seen by a :class:`~..enviro.proximity.ProximityWatcher` thread; both hand their news
back with the scheduler's ``call_soon_threadsafe``.

The backlight is the user's choice: frames never switch it. A message switches it on,
so that it can be read; the "off" idle screen switches it off each time the screen
goes idle; :meth:`DisplayController.set_backlight` changes it at any time.

The preview follows the panel: every new picture reaches the frame listeners (the agent
publishes each one); the preview listeners are told at once about what a user did (a
message, a dismissal, a tap, a backlight change) and about the idle screens' own
refreshes (rotating readings every 5 s, the clock every minute) at most every
``PREVIEW_IDLE_INTERVAL``, which keeps Home Assistant's recorder from storing a row
every 5 s.
"""

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Final, Protocol

from PIL import Image

# Relative, so that the agent's distribution (package ``qiot_enviro``) uses this file as is.
from ..enviro.errors import BoardError  # noqa: TID252
from ..enviro.proximity import ProximityWatcher, TapDetector  # noqa: TID252
from .screens import (
    READINGS_PAGES,
    Readings,
    render_clock,
    render_message,
    render_off,
    render_readings,
    render_startup,
)
from .worker import DisplayWorker

_LOGGER = logging.getLogger(__name__)

type Color = tuple[int, int, int]
type Action = Callable[[], None]
type Cancel = Callable[[], None]
type FrameListener = Callable[[bytes, bool], None]

IDLE_READINGS: Final = "readings"
IDLE_CLOCK: Final = "clock"
IDLE_OFF: Final = "off"
IDLE_SCREENS: Final = (IDLE_READINGS, IDLE_CLOCK, IDLE_OFF)
DEFAULT_TAP_THRESHOLD: Final = 1000

STARTUP_SECONDS = 5.0
IDLE_ROTATE_SECONDS = 5.0
# The idle screens' own refreshes reach the preview listeners at most this often (288 a
# day); anything a user did shows at once.
PREVIEW_IDLE_INTERVAL = timedelta(minutes=5)
# Image.info key telling the preview whether a frame shows something a user did.
_URGENT: Final = "qiot_urgent"
WHITE: Final[Color] = (255, 255, 255)
BLACK: Final[Color] = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class Message:
    """A message to show: validated text and how to show it."""

    text: str
    title: str | None = None
    duration: float | None = None  # seconds; None = until dismissed
    color: Color = WHITE
    background: Color = BLACK
    size: int | None = None  # pixels; None = automatic


class Scheduler(Protocol):
    """The clock and the thread the controller runs on (an event loop)."""

    def now(self) -> datetime:
        """Return the local time, timezone-aware (the clock screen shows it)."""

    def call_later(self, delay: float, action: Action) -> Cancel:
        """Run ``action`` after ``delay`` seconds; return a callable that cancels it."""

    def every_minute(self, action: Action) -> Cancel:
        """Run ``action`` at the start of every minute; return a callable that stops it."""

    def call_soon_threadsafe(self, action: Action) -> None:
        """Run ``action`` in the scheduler's thread soon; callable from any thread."""


class LoopScheduler:
    """A :class:`Scheduler` on an asyncio event loop and the system's local time."""

    # A minute timer that fires a hair early would still see the old minute.
    _MINUTE_MARGIN = 0.05

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Schedule on ``loop``."""
        self._loop = loop

    def now(self) -> datetime:
        """Return the local time, timezone-aware."""
        return datetime.now().astimezone()

    def call_later(self, delay: float, action: Action) -> Cancel:
        """Run ``action`` after ``delay`` seconds on the loop."""
        return self._loop.call_later(delay, action).cancel

    def every_minute(self, action: Action) -> Cancel:
        """Run ``action`` just after the start of every minute of the local clock."""
        handle: asyncio.TimerHandle | None = None

        def schedule() -> None:
            nonlocal handle
            now = self.now()
            left = 60.0 - now.second - now.microsecond / 1_000_000
            handle = self._loop.call_later(left + self._MINUTE_MARGIN, fire)

        def fire() -> None:
            schedule()
            action()

        def cancel() -> None:
            if handle is not None:
                handle.cancel()

        schedule()
        return cancel

    def call_soon_threadsafe(self, action: Action) -> None:
        """Hand ``action`` to the loop; dropped once the loop is closed."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            self._loop.call_soon_threadsafe(action)


def encode_png(image: Image.Image) -> bytes:
    """Encode a picture as PNG (fast: it runs for every frame, in the display thread)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


class DisplayController:
    """Owns one board's LCD: what it shows, for how long, and the backlight.

    Nothing is shown until :meth:`start`. :meth:`stop` (in the scheduler's thread) ends
    every timer and blanks the panel; :meth:`close` (in any other thread) then joins the
    display and tap threads.
    """

    def __init__(
        self,
        show_image: Callable[[Image.Image], None],
        set_backlight: Callable[[bool], None],
        scheduler: Scheduler,
        *,
        readings: Callable[[], Readings] | None = None,
        read_proximity: Callable[[], int] | None = None,
        panel_picture: Callable[[], Image.Image] | None = None,
        idle_screen: str = IDLE_READINGS,
        startup_message: bool = True,
        tap_threshold: int = DEFAULT_TAP_THRESHOLD,
        version: str = "",
        backlight: bool = True,
    ) -> None:
        """Start the display thread; nothing is shown until :meth:`start`.

        ``show_image`` and ``set_backlight`` drive the panel (called in the display
        thread). ``readings`` returns the values of the readings pages when they are
        drawn; without it they come from :meth:`set_readings`. ``read_proximity``
        returns the proximity count (called in the tap thread); without it there are
        no taps from the sensor. ``panel_picture`` returns what the panel shows (an
        emulated panel's picture); without it the preview is the frame last sent.
        ``version`` is shown on the startup screen, ``backlight`` is the level to
        start with.
        """
        self._panel_backlight = set_backlight
        self._scheduler = scheduler
        self._readings_source = readings
        self._readings = Readings()
        self._read_proximity = read_proximity
        self._panel_picture = panel_picture
        self.idle_mode = idle_screen
        self.startup_message = startup_message
        self.tap_threshold = tap_threshold
        self.version = version
        self.backlight = backlight
        self.message: Message | None = None
        self.stopped = False
        self.idle_page = 0
        self.preview: bytes | None = None
        self.preview_updated: datetime | None = None
        self._preview_listeners: list[Action] = []
        self._frame_listeners: list[FrameListener] = []
        self._tap_listeners: list[Action] = []
        self._backlight_listeners: list[Action] = []
        self._message_timer: Cancel | None = None
        self._idle_timer: Cancel | None = None
        self._minute: Cancel | None = None
        self._watcher: ProximityWatcher | None = None
        self.worker = DisplayWorker(show_image, on_frame=self._on_frame, backlight=set_backlight)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Show the startup (or idle) screen and start watching for taps."""
        if self.stopped:
            return
        self.worker.set_backlight(self.backlight)
        self._minute = self._scheduler.every_minute(self._on_minute)
        if self._read_proximity is not None:
            self._watcher = ProximityWatcher(
                self._read_proximity, self.tap_from_thread, threshold=self.tap_threshold
            )
            self._watcher.start()
        if self.startup_message:
            self._submit(partial(render_startup, self.version), urgent=True)
            self._message_timer = self._scheduler.call_later(STARTUP_SECONDS, self._end_message)
        else:
            self._show_idle()

    @property
    def available(self) -> bool:
        """Tell whether the LCD takes frames (its last frame or backlight change worked)."""
        return not self.stopped and self.worker.running and self.worker.healthy

    @property
    def message_timer(self) -> Cancel | None:
        """Return what cancels the pending end of the message or startup screen, if any."""
        return self._message_timer

    @property
    def idle_timer(self) -> Cancel | None:
        """Return what cancels the pending turn of the readings page, if any."""
        return self._idle_timer

    def stop(self) -> None:
        """Stop the timers, blank the panel and ask for the backlight off.

        Nothing of the LCD runs afterwards: a tap or a timer that was already on its
        way finds the controller stopped and does nothing. Call :meth:`close` next.
        """
        if self.stopped:
            return
        self.stopped = True
        if self._minute is not None:
            self._minute()
            self._minute = None
        self._cancel_message_timer()
        self._cancel_idle_timer()
        self.worker.submit(render_off)
        self.worker.set_backlight(False)

    def close(self, timeout: float = 5.0) -> None:
        """Join the tap and display threads; make sure the backlight is off (blocking).

        Call it after :meth:`stop`, outside the scheduler's thread.
        """
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop(timeout)
        self.worker.flush(timeout=timeout)
        if self.worker.stop(timeout) and self.worker.backlight is False:
            return
        # The worker hung or could not switch it: try once more directly.
        try:
            self._panel_backlight(False)
        except BoardError as err:  # the board may be gone already; shutdown must finish
            _LOGGER.debug("Could not switch the LCD backlight off: %s", err)

    # -- actions ---------------------------------------------------------------------

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
            self._message_timer = self._scheduler.call_later(message.duration, self._end_message)

    def dismiss(self) -> None:
        """End the current message (or the startup screen) and go back to the idle screen."""
        if self.stopped:
            return
        self.message = None
        self._cancel_message_timer()
        self._show_idle(urgent=True)

    def tap(self) -> None:
        """Dismiss the message, or move to the next readings page; tell the tap listeners."""
        if self.stopped:
            return
        if self.message is not None or self._message_timer is not None:
            self.dismiss()
        elif self.idle_mode == IDLE_READINGS:
            self.idle_page = (self.idle_page + 1) % READINGS_PAGES
            self._show_idle(urgent=True)
        for listener in list(self._tap_listeners):
            listener()

    def tap_from_thread(self) -> None:
        """Hand a tap seen in another thread (the proximity watcher's) to the scheduler."""
        self._scheduler.call_soon_threadsafe(self.tap)

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

    def set_readings(self, readings: Readings) -> None:
        """Take new values for the readings pages; a page on show is redrawn with them.

        Used when no ``readings`` callable was given (the agent gets them over MQTT).
        The page stays for the rest of its time: new values do not restart the rotation.
        """
        if readings == self._readings:
            return
        self._readings = readings
        if not self.stopped and self._idle_timer is not None:
            self._submit(partial(render_readings, self.idle_page, readings), urgent=False)

    def configure(self, *, idle_screen: str, startup_message: bool, tap_threshold: int) -> None:
        """Change the settings; a new idle screen shows at once unless a message is up."""
        self.startup_message = startup_message
        if tap_threshold != self.tap_threshold:
            self.tap_threshold = tap_threshold
            watcher = self._watcher
            if watcher is not None:
                # The watcher's thread picks the new detector up at its next sample.
                watcher.detector = TapDetector(tap_threshold, debounce=watcher.detector.debounce)
        if idle_screen != self.idle_mode:
            self.idle_mode = idle_screen
            if self.message is None and self._message_timer is None:
                self._show_idle(urgent=True)

    # -- listeners -------------------------------------------------------------------

    def add_preview_listener(self, listener: Action) -> Cancel:
        """Call listener when :attr:`preview` changed (idle refreshes throttled)."""
        return add_listener(self._preview_listeners, listener)

    def add_frame_listener(self, listener: FrameListener) -> Cancel:
        """Call ``listener(png, urgent)`` for every new picture on the panel, unthrottled."""
        return add_listener(self._frame_listeners, listener)

    def add_tap_listener(self, listener: Action) -> Cancel:
        """Call listener on each tap."""
        return add_listener(self._tap_listeners, listener)

    def add_backlight_listener(self, listener: Action) -> Cancel:
        """Call listener when the backlight is switched."""
        return add_listener(self._backlight_listeners, listener)

    # -- internals -------------------------------------------------------------------

    def readings(self) -> Readings:
        """Return the values the readings pages show now."""
        if self._readings_source is not None:
            return self._readings_source()
        return self._readings

    def _submit(self, render: Callable[[], Image.Image], *, urgent: bool) -> None:
        """Queue a frame; ``urgent`` frames (what a user did) reach the preview at once."""

        def tagged() -> Image.Image:
            image = render()
            image.info[_URGENT] = urgent
            return image

        self.worker.submit(tagged)

    def _end_message(self) -> None:
        """End a message (or the startup screen) whose time is up."""
        self._message_timer = None
        if self.stopped:
            return
        self.message = None
        self._show_idle(urgent=True)

    def _show_idle(self, *, urgent: bool = False) -> None:
        """Show the idle screen chosen in the settings.

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
            self._submit(partial(render_clock, self._scheduler.now()), urgent=urgent)
            return
        self._submit(partial(render_readings, self.idle_page, self.readings()), urgent=urgent)
        self._idle_timer = self._scheduler.call_later(IDLE_ROTATE_SECONDS, self._rotate)

    def _rotate(self) -> None:
        """Move to the next readings page."""
        self._idle_timer = None
        if self.stopped:
            return
        self.idle_page = (self.idle_page + 1) % READINGS_PAGES
        self._show_idle()

    def _on_minute(self) -> None:
        """Redraw the clock each minute."""
        if self.stopped or self.message is not None or self._message_timer is not None:
            return
        if self.idle_mode == IDLE_CLOCK:
            self._show_idle()

    def _cancel_message_timer(self) -> None:
        """Cancel the pending end of the message or startup screen."""
        if self._message_timer is not None:
            self._message_timer()
            self._message_timer = None

    def _cancel_idle_timer(self) -> None:
        """Cancel the pending turn of the readings page."""
        if self._idle_timer is not None:
            self._idle_timer()
            self._idle_timer = None

    def _on_frame(self, image: Image.Image | None) -> None:
        """Encode the picture after a frame or backlight change (display thread)."""
        if self._panel_picture is not None:
            picture = self._panel_picture()
        elif self.worker.backlight is False:
            picture = render_off()
        else:
            # A frame just sent, or (after a backlight change) the last one.
            picture = image if image is not None else self.worker.last_image or render_off()
        # A backlight change (no image) is something a user did.
        urgent = image is None or bool(image.info.get(_URGENT, True))
        png = encode_png(picture)
        self._scheduler.call_soon_threadsafe(partial(self._set_preview, png, urgent))

    def _set_preview(self, png: bytes, urgent: bool) -> None:
        """Keep the newest picture; tell the frame listeners now, the preview ones maybe."""
        if png == self.preview:
            return
        self.preview = png
        for frame_listener in list(self._frame_listeners):
            frame_listener(png, urgent)
        now = self._scheduler.now().astimezone(UTC)
        last = self.preview_updated
        if not urgent and last is not None and now - last < PREVIEW_IDLE_INTERVAL:
            return
        self.preview_updated = now
        for listener in list(self._preview_listeners):
            listener()


def add_listener[T](listeners: list[T], listener: T) -> Cancel:
    """Add a listener; return what removes it again."""
    listeners.append(listener)

    def remove() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return remove
