"""The proximity "tap": a debounced rise of the LTR559's proximity above a threshold.

A hand held over the board raises the proximity count (0-2047) from a few tens to well
over a thousand. :class:`TapDetector` turns samples into taps: the count must stay
above ``threshold`` for ``debounce`` samples in a row, and it must fall below
``release`` (hysteresis) before another tap counts, so one wave of the hand is one tap.
:class:`ProximityWatcher` samples in its own thread, so taps are seen within a fraction
of a second, independent of the slower polling cycle.
"""

import logging
import threading
from collections.abc import Callable

from .errors import BoardError

_LOGGER = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.1
DEFAULT_DEBOUNCE = 2


class TapDetector:
    """Turn proximity samples into taps."""

    def __init__(
        self, threshold: int, *, debounce: int = DEFAULT_DEBOUNCE, release: int | None = None
    ) -> None:
        """Count a tap after ``debounce`` samples above ``threshold``."""
        self.threshold = threshold
        self.debounce = max(1, debounce)
        self.release = release if release is not None else int(threshold * 0.7)
        self._above = 0
        self._armed = True

    def feed(self, proximity: int) -> bool:
        """Take one sample; return True when it completes a tap."""
        if proximity < self.release:
            self._armed = True
            self._above = 0
            return False
        if proximity <= self.threshold:
            self._above = 0
            return False
        self._above += 1
        if self._armed and self._above >= self.debounce:
            self._armed = False
            return True
        return False


class ProximityWatcher:
    """Sample the proximity in a thread and call ``on_tap`` for each tap."""

    def __init__(
        self,
        read: Callable[[], int],
        on_tap: Callable[[], None],
        *,
        threshold: int,
        interval: float = DEFAULT_INTERVAL,
        debounce: int = DEFAULT_DEBOUNCE,
    ) -> None:
        """Prepare the watcher; :meth:`start` starts sampling."""
        self._read = read
        self._on_tap = on_tap
        self._interval = interval
        self.detector = TapDetector(threshold, debounce=debounce)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0
        self._last_error: str | None = None

    def start(self) -> None:
        """Start sampling."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="qiot_enviro-proximity", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling and join the thread (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                proximity = self._read()
            except (BoardError, OSError) as err:  # a bus fault must not end the thread
                self.errors += 1
                message = f"{type(err).__name__}: {err}"
                if message != self._last_error:
                    _LOGGER.debug("Proximity read failed: %s", message)
                    self._last_error = message
                continue
            self._last_error = None
            if self.detector.feed(proximity):
                self._on_tap()
