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

The sensor's fan is rated for about 8000 hours, so the reader can duty-cycle it: in
sampling mode (an interval in seconds; ``None`` is continuous reading) it wakes the
sensor through its SET line, waits out the warm-up, takes the per-field median of the
next stable frames (:data:`PMS_SAMPLE_FRAMES`, or what arrived within
:data:`PMS_SAMPLE_WINDOW` seconds) as the sample, and drives SET low again (fan off)
until the next sample is due. While asleep it does not read the UART at all, so the
sleep is neither silence nor an error. A :class:`FanMeter` counts the seconds the
sensor is awake.
"""

import errno
import math
import statistics
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
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
# Frames dropped during warm-up, silences during warm-up (not errors), resets done,
# samples taken in sampling mode, and samples that ended without a valid frame.
STATE_COUNTS = ("frames", "warmup", "warmup_silence", "resets", "samples", "failed_samples")
# Sampling mode: a sample is the median of this many stable frames after the warm-up
# (about 9 s of frames at 2.3 s each), or of what arrived within PMS_SAMPLE_WINDOW s.
PMS_SAMPLE_FRAMES = 5
PMS_SAMPLE_WINDOW = 15.0
# The sampling intervals offered to users (seconds); None is continuous.
SAMPLING_INTERVALS = (300, 600, 900, 1800)
# While asleep the thread looks at its clock this often (real seconds): it notices a
# due sample on a clock that may run faster than real time (the emulator's).
SLEEP_POLL = 0.1


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

    def set_enabled(self, on: bool) -> None:
        """Drive the SET (enable) line: high wakes the sensor, low puts it to sleep (fan off)."""
        self.set_pin(self._pin_enable, on)
        if on and self._serial is not None:
            # Anything buffered is from before the sleep.
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


class FanMeter:
    """Counts the seconds the sensor has been awake (SET high, fan running), in total.

    Monotonic: ``restore`` adds a total stored by an earlier run; the count of this run
    goes on from there. Thread-safe; time is taken from ``clock``.
    """

    def __init__(self, clock: Callable[[], float], stored: float = 0.0) -> None:
        """Start stopped, with ``stored`` seconds counted before."""
        self._clock = clock
        self._lock = threading.Lock()
        self._stored = _valid_seconds(stored)
        self._counted = 0.0
        self._since: float | None = None

    def restore(self, stored: float) -> None:
        """Set the total an earlier run counted (from a state file or a restored entity)."""
        with self._lock:
            self._stored = _valid_seconds(stored)

    def start(self) -> None:
        """Note that the fan runs from now on (no effect if it already does)."""
        with self._lock:
            if self._since is None:
                self._since = self._clock()

    def stop(self) -> None:
        """Note that the fan stopped (no effect if it was not running)."""
        with self._lock:
            if self._since is not None:
                self._counted += max(0.0, self._clock() - self._since)
                self._since = None

    @property
    def running(self) -> bool:
        """Tell whether the fan runs."""
        with self._lock:
            return self._since is not None

    def seconds(self) -> float:
        """Return the fan's total running time in seconds, the current run included."""
        with self._lock:
            running = 0.0 if self._since is None else max(0.0, self._clock() - self._since)
            return self._stored + self._counted + running


def _valid_seconds(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"fan running time must be a finite count of seconds, not {value}")
    return float(value)


def check_sampling_interval(interval: float | None) -> float | None:
    """Return a valid sampling interval (None: continuous); ValueError otherwise."""
    if interval is None:
        return None
    if isinstance(interval, bool) or not math.isfinite(interval) or interval <= 0:
        raise ValueError(f"invalid particulate sampling interval {interval!r}")
    return float(interval)


def median_reading(readings: list[ParticulateReading]) -> ParticulateReading:
    """Return the per-field median (the lower one of an even count: values stay integers).

    Each field's median is an order statistic, so the nesting of the frames (PM1 <=
    PM2.5 <= PM10, nested counts) holds for the result too.
    """
    return ParticulateReading(
        **{
            name: statistics.median_low(getattr(r, name) for r in readings)
            for name in (f.name for f in fields(ParticulateReading))
        }
    )


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
    """A thread that keeps the newest valid PMS5003 frame (or sample) and the sensor's health."""

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
        sampling: float | None = None,
        sample_frames: int = PMS_SAMPLE_FRAMES,
        sample_window: float = PMS_SAMPLE_WINDOW,
        fan: FanMeter | None = None,
    ) -> None:
        """Prepare the reader; frames in the first ``warmup`` seconds after wake-up are dropped.

        ``woke_at`` is when the sensor woke up (on ``clock``; by default when the
        reader starts), ``latest`` a frame an earlier reader of the same running sensor
        kept, ``on_frame`` is called (from the thread) when the first valid frame,
        warm-up or not, has been read: the sensor is there. The sensor still counts as
        starting for ``first_frame_within`` seconds after the warm-up, until its first
        stable frame: frames are 2.3 s apart, so the first may come that much later.

        ``sampling`` is the sampling interval in seconds (None: read continuously); a
        sample is the median of ``sample_frames`` stable frames, or of those that came
        within ``sample_window`` seconds after the warm-up. ``fan`` counts the time the
        sensor is awake; a reader that finds it stopped wakes the sensor first.
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
        self._interval = check_sampling_interval(sampling)
        if sample_frames < 1:
            raise ValueError("a sample needs at least one frame")
        self._sample_frames = sample_frames
        self._sample_window = sample_window
        self._fan = fan
        self._changed = threading.Event()
        self._asleep = False
        self._sample: list[ParticulateReading] = []
        self._cycle_started = self._woke_at
        self._sample_failed = False
        self._thread = threading.Thread(target=self._run, name="qiot_enviro-pms5003", daemon=True)

    def start(self) -> None:
        """Start reading."""
        if self._given_wake is None:
            self._woke_at = self._clock()
        self._cycle_started = self._woke_at
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread promptly: cancel the blocked read or the sleep, and wait for it."""
        self._stop.set()
        self._changed.set()
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
    def sampling(self) -> float | None:
        """Return the sampling interval in seconds; None when reading continuously."""
        with self._lock:
            return self._interval

    @property
    def asleep(self) -> bool:
        """Tell whether the reader has put the sensor to sleep (SET low) until a sample."""
        with self._lock:
            return self._asleep

    @property
    def sample_failed(self) -> bool:
        """Tell whether the last sample ended without a single valid frame."""
        with self._lock:
            return self._interval is not None and self._sample_failed

    def set_sampling(self, interval: float | None) -> None:
        """Switch between continuous reading (None) and a sample every ``interval`` s.

        Thread-safe and prompt: a sleeping sensor wakes at once when the mode becomes
        continuous, and a new interval counts from the start of the current sample.
        An awake, warm sensor switched to sampling gives its sample right away.
        """
        interval = check_sampling_interval(interval)
        with self._lock:
            if interval is not None and self._interval is None:
                self._cycle_started = self._clock()
                self._sample = []
            self._interval = interval
        self._changed.set()

    @property
    def warming_up(self) -> bool:
        """Tell whether the sensor is still starting after it woke up.

        It is while its frames are dropped, and after a warm-up until its first stable
        frame, for up to ``first_frame_within`` seconds. Without a warm-up (0 s) the
        sensor is never considered starting; asleep it is not starting either.
        """
        if self._warmup <= 0:
            return False
        with self._lock:
            woke, stable, asleep = self._woke_at, self._stable_since_wake, self._asleep
        if asleep:
            return False
        elapsed = self._clock() - woke
        if elapsed < self._warmup:
            return True
        return not stable and elapsed < self._warmup + self._first_frame_within

    def latest(self) -> Frame | None:
        """Return the newest valid frame, or in sampling mode the newest sample, if any."""
        with self._lock:
            return self._latest

    def health(self) -> GroupHealth:
        """Return a copy of the sensor's health."""
        with self._lock:
            return replace(self._health, extra=dict(self._health.extra))

    def _run(self) -> None:
        if self._fan is not None and not self._fan.running:
            # The sensor sleeps (an earlier reader put it to sleep): wake it up.
            self._wake()
        consecutive = 0
        while not self._stop.is_set():
            if self._asleep:
                self._sleep()
                continue
            consecutive = self._read_once(consecutive)
            if self._sample_complete():
                self._finish_sample()

    def _read_once(self, consecutive: int) -> int:
        """Read one frame; count and handle an error. Return the errors in a row."""
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
                return consecutive
            kind, message = "io", f"UART error: {err}"
        else:
            reading = to_reading(data)
            if (why := implausible(reading)) is None:
                self._accept(reading)
                return 0
            kind, message = "implausible", f"implausible frame: {why}"
        if self._stop.is_set():
            return consecutive
        if kind == "timeout" and self.warming_up:
            # The fan is starting: the sensor says nothing yet, and that is fine.
            with self._lock:
                self._health.extra["warmup_silence"] += 1
            return consecutive
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
        return consecutive

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
            if self._interval is None:
                self._latest = Frame(reading, arrived, now)
            else:
                self._sample.append(reading)

    def _sample_complete(self) -> bool:
        """Tell whether the sample being taken has its frames, or its time is up."""
        with self._lock:
            if self._interval is None:
                return False
            if len(self._sample) >= self._sample_frames:
                return True
            collect_from = max(self._woke_at + self._warmup, self._cycle_started)
            return self._clock() >= collect_from + self._sample_window

    def _finish_sample(self) -> None:
        """Keep the sample's median, then sleep until the next one is due."""
        now = self._clock()
        with self._lock:
            interval = self._interval
            if interval is None:
                return
            if self._sample:
                self._latest = Frame(median_reading(self._sample), datetime.now(UTC), now)
                self._health.extra["samples"] += 1
                self._sample_failed = False
            else:
                self._health.extra["failed_samples"] += 1
                self._sample_failed = True
            self._sample = []
            due = self._cycle_started + interval
            if now >= due:
                # The interval is shorter than a sample: the next one starts now.
                self._cycle_started = now
                return
            self._asleep = True
        self._sensor.set_enabled(False)
        if self._fan is not None:
            self._fan.stop()

    def _sleep(self) -> None:
        """Wait until the next sample is due, the mode changes or the reader stops; wake."""
        while not self._stop.is_set():
            with self._lock:
                interval = self._interval
                due = None if interval is None else self._cycle_started + interval
            remaining = 0.0 if due is None else due - self._clock()
            if remaining <= 0:
                break
            self._changed.wait(min(remaining, SLEEP_POLL))
            self._changed.clear()
        if not self._stop.is_set():
            self._wake()

    def _wake(self) -> None:
        """Drive SET high: the fan starts, and so does the warm-up."""
        self._sensor.set_enabled(True)
        if self._fan is not None:
            self._fan.start()
        now = self._clock()
        with self._lock:
            self._asleep = False
            self._woke_at = now
            self._cycle_started = now
            self._stable_since_wake = False
            self._sample = []

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
