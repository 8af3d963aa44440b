"""One background thread that owns the LCD and always shows the newest picture."""

import logging
import threading
import time
from collections.abc import Callable

from PIL import Image

_LOGGER = logging.getLogger(__name__)

type Render = Callable[[], Image.Image]
type Sink = Callable[[Image.Image], None]
# Told after each frame (the image) and after a backlight-only change (None).
type FrameCallback = Callable[[Image.Image | None], None]
type BacklightSink = Callable[[bool], None]


class DisplayWorker:
    """Render and push frames on a thread of its own; the newest request wins.

    ``submit`` only stores the request and wakes the thread, so a caller on the event
    loop never waits for rendering or for the SPI transfer. Requests that arrive while
    a frame is being pushed replace each other: only the newest is drawn next, so a
    burst costs one extra frame, not one per request. A failing render or sink is
    counted and logged once per exception type; the next request is tried as usual.

    The backlight goes through the same thread, so a frame and a backlight change land
    in the order they were asked for, and quick toggles end in the last one asked. The
    wanted level is asserted again after every frame: a panel that was re-initialised
    (which lights the backlight) keeps the level the user chose.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        on_frame: FrameCallback | None = None,
        backlight: BacklightSink | None = None,
        name: str = "qiot-display",
    ) -> None:
        """Start the thread; ``sink`` puts an image on the panel, ``on_frame`` is told after.

        ``backlight`` switches the panel's backlight (see :meth:`set_backlight`).
        """
        self._sink = sink
        self._on_frame = on_frame
        self._backlight_sink = backlight
        self._backlight_want: bool | None = None
        self._backlight_changed = False
        self._backlight_applied: bool | None = None
        self._healthy = True
        self._condition = threading.Condition()
        self._pending: Render | None = None
        self._submitted = 0
        self._handled = 0
        self._stopping = False
        self._running = True
        self._frames = 0
        self._errors = 0
        self._logged: set[type[BaseException]] = set()
        self._last_image: Image.Image | None = None
        # A daemon thread, so a panel stuck in a transfer cannot hold up interpreter exit.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def frames(self) -> int:
        """Return how many frames reached the sink."""
        return self._frames

    @property
    def errors(self) -> int:
        """Return how many renders, sink calls or frame callbacks failed."""
        return self._errors

    @property
    def last_image(self) -> Image.Image | None:
        """Return the last image the sink accepted, None before the first."""
        return self._last_image

    @property
    def backlight(self) -> bool | None:
        """Return the backlight level last applied, None before the first change."""
        return self._backlight_applied

    @property
    def healthy(self) -> bool:
        """Tell whether the last frame or backlight change reached the panel."""
        return self._healthy

    @property
    def running(self) -> bool:
        """Tell whether the thread is still there to take requests."""
        return self._running

    def submit(self, render: Render) -> None:
        """Ask for ``render()`` to be shown; return at once, replacing any waiting request.

        After ``stop`` the request is dropped: a late update racing an unload must not
        fail the caller.
        """
        with self._condition:
            if self._stopping:
                _LOGGER.debug("Display worker stopped, frame dropped")
                return
            self._pending = render
            self._submitted += 1
            self._condition.notify()

    def set_backlight(self, on: bool) -> None:
        """Ask for the backlight on or off, after any frame asked for before; return at once."""
        with self._condition:
            if self._stopping:
                _LOGGER.debug("Display worker stopped, backlight change dropped")
                return
            self._backlight_want = on
            self._backlight_changed = True
            self._submitted += 1
            self._condition.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every request submitted so far was shown, replaced or failed.

        Return False when ``timeout`` seconds passed first, or the thread ended with a
        request still waiting.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("flush() called from the display thread would wait for itself")
        with self._condition:
            target = self._submitted
            self._condition.wait_for(lambda: self._handled >= target or not self._running, timeout)
            return self._handled >= target

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread after the request in hand and any waiting one; join it.

        Calling it again is harmless. Return False when the thread was still busy (a
        sink hanging in a transfer) after ``timeout`` seconds.
        """
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._thread.is_alive():
            _LOGGER.warning("Display thread %s still busy after %s s", self._thread.name, timeout)
            return False
        return True

    def _run(self) -> None:
        """Take the newest request, render it, push it; until stopped with nothing left."""
        try:
            while True:
                with self._condition:
                    while (
                        self._pending is None and not self._backlight_changed and not self._stopping
                    ):
                        self._condition.wait()
                    render, self._pending = self._pending, None
                    changed, self._backlight_changed = self._backlight_changed, False
                    want = self._backlight_want
                    sequence = self._submitted
                if render is None and not changed:
                    return
                if render is not None:
                    self._show(render, want)
                elif want is not None and self._apply_backlight(want):
                    self._notify(None)
                with self._condition:
                    self._handled = sequence
                    self._condition.notify_all()
        finally:
            with self._condition:
                self._running = False
                self._condition.notify_all()

    def _show(self, render: Render, backlight: bool | None) -> None:
        """Render one request and push it, surviving whatever the callables raise."""
        started = time.perf_counter()
        try:
            image = render()
            self._sink(image)
        # This thread is the boundary for arbitrary callables. SystemExit is included
        # because gpiodevice raises it for GPIO trouble, and threading would end this
        # thread silently on it.
        except (Exception, SystemExit) as err:  # noqa: BLE001
            self._healthy = False
            self._failed(err, "Display frame failed")
            return
        self._healthy = True
        self._last_image = image
        self._frames += 1
        _LOGGER.debug(
            "Frame %d shown in %.1f ms", self._frames, (time.perf_counter() - started) * 1000
        )
        if backlight is not None:
            self._apply_backlight(backlight)
        self._notify(image)

    def _apply_backlight(self, on: bool) -> bool:
        """Switch the backlight; return whether it worked."""
        if self._backlight_sink is None:
            return False
        try:
            self._backlight_sink(on)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - same boundary as frames
            self._healthy = False
            self._failed(err, "Display backlight change failed")
            return False
        self._backlight_applied = on
        return True

    def _notify(self, image: Image.Image | None) -> None:
        """Tell the owner a frame (or, with None, a backlight change) reached the panel."""
        if self._on_frame is not None:
            try:
                self._on_frame(image)
            except Exception as err:  # noqa: BLE001 - the callback must not stop the panel
                self._failed(err, "Display frame callback failed")

    def _failed(self, err: BaseException, message: str) -> None:
        """Count a failure; log the first of each exception type in full, later ones at debug."""
        self._errors += 1
        kind = type(err)
        if kind in self._logged:
            _LOGGER.debug("%s again: %r", message, err)
            return
        self._logged.add(kind)
        _LOGGER.error(
            "%s (%s); further %s errors are logged at debug level",
            message,
            err,
            kind.__name__,
            exc_info=err,
        )
