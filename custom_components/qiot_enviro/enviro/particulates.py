"""The PMS5003 particulate sensor: the vendor driver on our UART, read by a thread.

The sensor streams a frame every 2.3 s in stable mode (200-800 ms in fast mode, per the
Plantower manual) and ``pms5003.PMS5003.read`` blocks until the next one, so a
background thread reads it and keeps the newest valid frame; a polling cycle takes that
frame without waiting, and the I2C sensors never wait for the UART. The thread survives
every error the driver raises (checksum, a bad length field, garbage without a start
of frame, silence), counts them, resets the sensor through its reset line after several
in a row, and drops frames during a warm-up after the sensor woke up (enabled or reset:
"stable data should be got at least 30 seconds after the sensor wakeup"). Silence
during that warm-up is the sensor starting, not an error: it neither counts nor leads
to a reset, so a slow start cannot turn into a reset loop.
"""

import errno
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, override

import pms5003
from gpiod.line import Value

from .bus import LineRequest, SerialPort
from .models import GroupHealth, ParticulateReading

PMS_BAUD_RATE = 9600
# Longer than the slowest documented frame interval (2.3 s in stable mode) with 1.7 s
# to spare, as the vendor's driver has it: a sensor that is merely slow never times out.
PMS_SERIAL_TIMEOUT = 4.0
# Errors in a row after which the sensor is reset through its RESET line.
PMS_RESET_AFTER = 3
# The PMS5003 range ends at 1000 µg/m³; more is a broken frame, not air.
PMS_MAX_UG = 1000

# Keys of GroupHealth.extra for the particulate group.
ERROR_KINDS = ("checksum", "length", "timeout", "no_frame_start", "io", "implausible")
# Frames dropped during warm-up, silences during warm-up (not errors), resets done.
STATE_COUNTS = ("frames", "warmup", "warmup_silence", "resets")


class NullLine:
    """A stand-in for a GPIO line when the GPIO chip is unavailable: writes go nowhere."""

    def set_value(self, offset: int, value: object) -> None:
        """Do nothing: the line is not driven."""

    def get_value(self, offset: int) -> object:
        """Return inactive: the level is unknown."""
        return Value.INACTIVE

    def release(self) -> None:
        """Do nothing: nothing was claimed."""


type Pin = tuple[LineRequest, int]


class ProviderPMS5003(pms5003.PMS5003):  # type: ignore[misc]  # untyped vendor class
    """``pms5003.PMS5003`` reading from a port the bus provider opened.

    The vendor class opens ``serial.Serial`` itself in ``setup()`` and sleeps 0.2 s in
    ``reset()``; here ``setup()`` takes the provider's port and ``reset()`` waits on an
    event, so stopping the reader never waits for a reset to finish.
    """

    def __init__(
        self,
        open_port: Callable[[], SerialPort],
        *,
        enable: Pin,
        reset: Pin,
        stop: threading.Event | None = None,
    ) -> None:
        """Wrap the sensor; ``enable`` and ``reset`` are already claimed and driven high."""
        self._open_port = open_port
        self._stop = stop or threading.Event()
        self._serial: SerialPort | None = None
        # The vendor constructor passes tuples through gpiodevice.get_pin unchanged.
        super().__init__(pin_enable=enable, pin_reset=reset)

    @property
    def port(self) -> SerialPort | None:
        """Return the open port."""
        return self._serial

    @property
    def stop_event(self) -> threading.Event:
        """Return the event that interrupts waits inside the sensor."""
        return self._stop

    @override
    def setup(self) -> None:
        """Open the provider's port instead of ``serial.Serial``; no reset pulse.

        The lines were just driven high by the board, so the sensor is starting anyway;
        a reset here would only add 0.2 s to every open.
        """
        if self._serial is not None:
            self._serial.close()
        self._serial = self._open_port()
        self._serial.reset_input_buffer()

    @override
    def reset(self) -> None:
        """Pulse the reset line low for 0.1 s, interruptibly."""
        if self._stop.wait(0.1):
            return
        self.set_pin(self._pin_reset, False)
        if self._serial is not None:
            self._serial.reset_input_buffer()
        self._stop.wait(0.1)
        self.set_pin(self._pin_reset, True)

    def close(self) -> None:
        """Close the port (the lines belong to the board)."""
        if self._serial is not None:
            self._serial.close()
            self._serial = None


@dataclass(frozen=True, slots=True)
class Frame:
    """A valid frame and when it arrived (wall clock and monotonic)."""

    reading: ParticulateReading
    arrived_at: datetime
    arrived_monotonic: float


def to_reading(data: Any) -> ParticulateReading:
    """Convert a ``pms5003.PMS5003Data`` to our reading."""
    return ParticulateReading(
        pm1=data.pm_ug_per_m3(1.0),
        pm2_5=data.pm_ug_per_m3(2.5),
        pm10=data.pm_ug_per_m3(10),
        gt0_3um=data.pm_per_1l_air(0.3),
        gt0_5um=data.pm_per_1l_air(0.5),
        gt1_0um=data.pm_per_1l_air(1.0),
        gt2_5um=data.pm_per_1l_air(2.5),
        gt5_0um=data.pm_per_1l_air(5),
        gt10um=data.pm_per_1l_air(10),
    )


def implausible(reading: ParticulateReading) -> str | None:
    """Return why a frame cannot describe real air, or None if it can."""
    if not reading.pm1 <= reading.pm2_5 <= reading.pm10:
        return f"PM1 {reading.pm1} <= PM2.5 {reading.pm2_5} <= PM10 {reading.pm10} violated"
    if reading.pm10 > PMS_MAX_UG:
        return f"PM10 {reading.pm10} µg/m³ beyond the sensor's range"
    return None


class ParticulateReader:
    """A thread that keeps the newest valid PMS5003 frame and the sensor's health."""

    def __init__(
        self,
        sensor: ProviderPMS5003,
        *,
        warmup: float,
        reset_after: int = PMS_RESET_AFTER,
        clock: Callable[[], float] = time.monotonic,
        woke_at: float | None = None,
        latest: Frame | None = None,
        on_frame: Callable[[], None] | None = None,
        first_frame_within: float = PMS_SERIAL_TIMEOUT,
    ) -> None:
        """Prepare the reader; frames in the first ``warmup`` seconds after wake-up are dropped.

        ``woke_at`` is when the sensor woke up (on ``clock``; by default when the
        reader starts), ``latest`` a frame an earlier reader of the same running sensor
        kept, ``on_frame`` is called (from the thread) when the first valid frame,
        warm-up or not, has been read: the sensor is there. The sensor still counts as
        starting for ``first_frame_within`` seconds after the warm-up, until its first
        stable frame: frames are 2.3 s apart, so the first may come that much later.
        """
        self._sensor = sensor
        self._warmup = warmup
        self._reset_after = reset_after
        self._clock = clock
        self._on_frame = on_frame
        self._seen_frame = False
        self._stop = sensor.stop_event
        self._lock = threading.Lock()
        self._latest: Frame | None = latest
        self._health = GroupHealth(extra=dict.fromkeys((*ERROR_KINDS, *STATE_COUNTS), 0))
        self._first_frame_within = first_frame_within
        self._given_wake = woke_at
        self._woke_at = clock() if woke_at is None else woke_at
        self._stable_since_wake = latest is not None
        self._thread = threading.Thread(target=self._run, name="qiot_enviro-pms5003", daemon=True)

    def start(self) -> None:
        """Start reading."""
        if self._given_wake is None:
            self._woke_at = self._clock()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread promptly: cancel the blocked read and wait for it to end."""
        self._stop.set()
        port = self._sensor.port
        if port is not None:
            port.cancel_read()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Tell whether the thread runs."""
        return self._thread.is_alive()

    @property
    def woke_at(self) -> float:
        """Return when the sensor last woke up (enabled, or reset by this reader)."""
        with self._lock:
            return self._woke_at

    @property
    def warming_up(self) -> bool:
        """Tell whether the sensor is still starting after it woke up.

        It is while its frames are dropped, and after a warm-up until its first stable
        frame, for up to ``first_frame_within`` seconds. Without a warm-up (0 s) the
        sensor is never considered starting.
        """
        if self._warmup <= 0:
            return False
        with self._lock:
            woke, stable = self._woke_at, self._stable_since_wake
        elapsed = self._clock() - woke
        if elapsed < self._warmup:
            return True
        return not stable and elapsed < self._warmup + self._first_frame_within

    def latest(self) -> Frame | None:
        """Return the newest valid frame, if any."""
        with self._lock:
            return self._latest

    def health(self) -> GroupHealth:
        """Return a copy of the sensor's health."""
        with self._lock:
            return replace(self._health, extra=dict(self._health.extra))

    def _run(self) -> None:
        consecutive = 0
        while not self._stop.is_set():
            try:
                data = self._sensor.read()
            except pms5003.ChecksumMismatchError as err:
                kind, message = "checksum", str(err)
            except struct.error as err:
                kind, message = "length", f"bad frame length: {err}"
            except pms5003.SerialTimeoutError as err:
                kind, message = "timeout", str(err)
            except pms5003.ReadTimeoutError as err:
                kind, message = "no_frame_start", str(err)
            except OSError as err:
                if err.errno == errno.EBADF and self._stop.is_set():
                    break
                kind, message = "io", f"UART error: {err}"
            else:
                reading = to_reading(data)
                if (why := implausible(reading)) is None:
                    consecutive = 0
                    self._accept(reading)
                    continue
                kind, message = "implausible", f"implausible frame: {why}"
            if self._stop.is_set():
                break
            if kind == "timeout" and self.warming_up:
                # The fan is starting: the sensor says nothing yet, and that is fine.
                with self._lock:
                    self._health.extra["warmup_silence"] += 1
                continue
            consecutive += 1
            self._record_error(kind, message)
            if consecutive >= self._reset_after:
                consecutive = 0
                with self._lock:
                    self._health.extra["resets"] += 1
                self._sensor.reset()
                # Reset released: the sensor starts over, fan and all.
                with self._lock:
                    self._woke_at = self._clock()
                    self._stable_since_wake = False

    def _accept(self, reading: ParticulateReading) -> None:
        if not self._seen_frame:
            self._seen_frame = True
            if self._on_frame is not None:
                self._on_frame()
        now = self._clock()
        with self._lock:
            if now - self._woke_at < self._warmup:
                self._health.extra["warmup"] += 1
                return
            health = self._health
            if health.consecutive_errors:
                health.recoveries += 1
            health.consecutive_errors = 0
            health.extra["frames"] += 1
            self._stable_since_wake = True
            arrived = datetime.now(UTC)
            health.last_good = arrived
            self._latest = Frame(reading, arrived, now)

    def _record_error(self, kind: str, message: str) -> None:
        with self._lock:
            health = self._health
            health.error_count += 1
            health.consecutive_errors += 1
            health.last_error = message
            health.extra[kind] += 1


def combined_health(earlier: GroupHealth, later: GroupHealth) -> GroupHealth:
    """Return the health of two readers of the same sensor, one after the other.

    Counts add up; the streak and the newest error are the later reader's, unless it
    has none yet.
    """
    last_goods = [h.last_good for h in (earlier, later) if h.last_good is not None]
    extra = dict(earlier.extra)
    for key, count in later.extra.items():
        extra[key] = extra.get(key, 0) + count
    return GroupHealth(
        last_good=max(last_goods) if last_goods else None,
        error_count=earlier.error_count + later.error_count,
        consecutive_errors=later.consecutive_errors,
        last_error=later.last_error or earlier.last_error,
        recoveries=earlier.recoveries + later.recoveries,
        extra=extra,
    )
