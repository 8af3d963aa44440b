"""An emulated PMS5003 particulate sensor and the UART it streams into.

:class:`EmulatedPMS5003` is the sensor: in active mode it sends one 32-byte frame
(``0x42 0x4D``, length 28, thirteen big-endian words, byte-sum checksum) every
``frame_interval`` seconds, but only while its SET (enable, GPIO22) and RESET (GPIO27)
lines are both high, and only after a power-up delay once they are. It watches those
lines on the :class:`~.gpio.EmulatedGPIOChip`, so the board's own GPIO requests switch
it on, and a reset pulse restarts it.

:class:`EmulatedSerialPort` is one opened UART: ``read`` blocks like pyserial's, until
enough bytes have arrived, the timeout expires, or ``cancel_read`` is called.

Frames are produced lazily from the clock (no thread): whenever a port reads, the frame
slots that have come due are generated and delivered. Faults replace frame slots:
``corrupt("checksum" | "length" | "garbage", count)`` and ``silence(count)``, for
``count`` slots or, with ``count=None``, until :meth:`EmulatedPMS5003.clear_faults`.
"""

import errno
import math
import random
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from ..bus import LINE_PMS_ENABLE, LINE_PMS_RESET  # noqa: TID252 - keeps the hardware package relocatable
from .environment import Environment, EnvironmentValues
from .gpio import EmulatedGPIOChip

type FrameFault = Literal["checksum", "length", "garbage", "silence"]
FRAME_FAULTS: tuple[FrameFault, ...] = ("checksum", "length", "garbage", "silence")

BAUD_RATE = 9600
FRAME_BYTES = 32
# Ten bits per byte on the wire (start, eight data, stop).
_FRAME_WIRE_TIME = FRAME_BYTES * 10 / BAUD_RATE
# Plantower manual: the stable-mode interval, and how long after wake-up data is stable.
STABLE_INTERVAL = 2.3
STABILISATION_TIME = 30.0
_PARTICULATE_FIELDS = (
    "pm1", "pm2_5", "pm10", "gt0_3um", "gt0_5um", "gt1_0um", "gt2_5um", "gt5_0um", "gt10um",
)  # fmt: skip


def encode_frame(values: EnvironmentValues) -> bytes:
    """Return a valid active-mode frame carrying the environment's particulates."""
    words = (
        values.pm1,
        values.pm2_5,
        values.pm10,
        *values.pm_atmospheric,
        values.gt0_3um,
        values.gt0_5um,
        values.gt1_0um,
        values.gt2_5um,
        values.gt5_0um,
        values.gt10um,
        0,  # reserved
    )
    body = b"\x42\x4d" + struct.pack(">H", 28) + struct.pack(">13H", *words)
    return body + struct.pack(">H", sum(body) & 0xFFFF)


def unstable(values: EnvironmentValues, fraction: float) -> EnvironmentValues:
    """Return what a sensor whose fan is at ``fraction`` of its speed counts.

    Every value is scaled down by the same fraction and rounded down, so a frame stays
    plausible (PM1 <= PM2.5 <= PM10, counts nested) while being wrong.
    """
    scaled = {name: math.floor(getattr(values, name) * fraction) for name in _PARTICULATE_FIELDS}
    return replace(values, **scaled)


class EmulatedPMS5003:
    """The sensor: a frame schedule driven by its enable and reset lines."""

    def __init__(
        self,
        env: Environment,
        gpio: EmulatedGPIOChip,
        *,
        frame_interval: float | None = None,
        power_up_delay: float | None = None,
        stabilisation_time: float | None = None,
        seed: int = 0,
        connected: bool = True,
        clock: Callable[[], float] = time.monotonic,
        speed: float = 1.0,
    ) -> None:
        """Attach the sensor to its lines.

        ``frame_interval`` defaults to the manual's 2.3 s, ``power_up_delay`` (silence
        after wake-up) to two frames, ``stabilisation_time`` to the manual's 30 s, or to
        none when ``frame_interval`` is given. A sensor that is not ``connected`` never
        sends anything (the plain Enviro has no PMS5003 connector, but the Pi still has
        its UART). ``clock`` is the sensor's time (tests step it by hand); ``speed``
        runs it faster than real time, the port's read timeouts included, so that the
        manual's timings can be tested in a fraction of their length.
        """
        self.connected = connected
        self._env = env
        self._gpio = gpio
        if stabilisation_time is None:
            stabilisation_time = STABILISATION_TIME if frame_interval is None else 0.0
        self.frame_interval = STABLE_INTERVAL if frame_interval is None else frame_interval
        self.power_up_delay = 2 * self.frame_interval if power_up_delay is None else power_up_delay
        self.stabilisation_time = stabilisation_time
        self._woke_at = 0.0
        self.speed = speed
        self._clock = clock
        if speed != 1.0:
            real, origin = clock, clock()

            def sped_up() -> float:
                return origin + (real() - origin) * speed

            self._clock = sped_up
        self._random = random.Random(seed)
        self.cond = threading.Condition()
        self._ports: list[EmulatedSerialPort] = []
        self._next_slot: float | None = None
        self._fault: FrameFault | None = None
        self._fault_remaining: int | None = None
        self._reset_level = gpio.level_of(LINE_PMS_RESET)
        self.frames_sent = 0
        self.unstable_frames = 0
        self.faulty_slots = 0
        self.resets = 0
        self.open_ports = 0
        self._power_changed()
        gpio.listen(LINE_PMS_ENABLE, self._on_line)
        gpio.listen(LINE_PMS_RESET, self._on_line)

    # -- faults ----------------------------------------------------------------------

    def corrupt(self, kind: FrameFault, count: int | None = None) -> None:
        """Replace the next ``count`` frames (all until cleared if None) with a fault."""
        if kind not in FRAME_FAULTS:
            raise ValueError(f"unknown frame fault {kind!r}")
        with self.cond:
            self._pump(self._clock())
            self._fault = kind
            self._fault_remaining = count

    def silence(self, count: int | None = None) -> None:
        """Send nothing in the next ``count`` frame slots (until cleared if None)."""
        self.corrupt("silence", count)

    def clear_faults(self) -> None:
        """Send valid frames again."""
        with self.cond:
            self._pump(self._clock())
            self._fault = None
            self._fault_remaining = None

    @property
    def powered(self) -> bool:
        """Tell whether the sensor runs: enable and reset both high."""
        gpio = self._gpio
        return self.connected and gpio.level_of(LINE_PMS_ENABLE) and gpio.level_of(LINE_PMS_RESET)

    # -- ports -----------------------------------------------------------------------

    def open_port(self, timeout: float | None = None) -> "EmulatedSerialPort":
        """Open the UART; bytes sent before it was opened are not seen."""
        port = EmulatedSerialPort(self, timeout)
        with self.cond:
            self._pump(self._clock())
            self._ports.append(port)
            self.open_ports += 1
        return port

    def detach(self, port: "EmulatedSerialPort") -> None:
        """Forget a closed port."""
        with self.cond:
            if port in self._ports:
                self._ports.remove(port)
                self.open_ports -= 1
            self.cond.notify_all()

    def pump(self) -> float | None:
        """Deliver the frames that are due; return when the next one is (None: never).

        Callers hold :attr:`cond`.
        """
        self._pump(self._clock())
        return self._next_slot

    def now(self) -> float:
        """Return the sensor's clock."""
        return self._clock()

    # -- internals -------------------------------------------------------------------

    def _on_line(self, level: bool) -> None:
        with self.cond:
            self._pump(self._clock())
            reset_level = self._gpio.level_of(LINE_PMS_RESET)
            if reset_level and not self._reset_level:
                self.resets += 1
            self._reset_level = reset_level
            self._power_changed()
            self.cond.notify_all()

    def _power_changed(self) -> None:
        if not self.powered:
            self._next_slot = None
        elif self._next_slot is None:
            # Woken up (SET high, reset released): the fan starts from standstill, and
            # the first frame arrives one wire-time after the power-up delay.
            self._woke_at = self._clock()
            self._next_slot = self._woke_at + self.power_up_delay + _FRAME_WIRE_TIME

    def _pump(self, now: float) -> None:
        while self._next_slot is not None and self._next_slot <= now:
            data = self._slot(self._next_slot)
            self._next_slot += self.frame_interval
            if data:
                for port in self._ports:
                    port.deliver(data)

    def _slot(self, at: float) -> bytes:
        """Return the bytes of the frame slot at ``at``, faulty while a fault is active."""
        values = self._env.values()
        awake = at - self._woke_at
        if awake < self.stabilisation_time:
            values = unstable(values, awake / self.stabilisation_time)
        frame = encode_frame(values)
        kind = self._fault
        if kind is None:
            self.frames_sent += 1
            if awake < self.stabilisation_time:
                self.unstable_frames += 1
            return frame
        self.faulty_slots += 1
        if self._fault_remaining is not None:
            self._fault_remaining -= 1
            if self._fault_remaining <= 0:
                self._fault = None
                self._fault_remaining = None
        if kind == "checksum":
            return frame[:-2] + struct.pack(">H", (sum(frame[:-2]) + 1) & 0xFFFF)
        if kind == "length":
            # A length field that disagrees with the 28 data bytes that follow.
            return frame[:2] + struct.pack(">H", 20) + frame[4:24]
        if kind == "garbage":
            # Line noise (never a 0x42), then a false start of frame with a short
            # random length, as a mismatched baud rate or a mini UART produces.
            noise = bytes(self._random.choice(range(0x43, 0x100)) for _ in range(12))
            length = self._random.randrange(0, 28)
            junk = bytes(self._random.randrange(256) for _ in range(length))
            return noise + b"\x42\x4d" + struct.pack(">H", length) + junk
        return b""  # silence


class EmulatedSerialPort:
    """One opened UART of the emulated PMS5003 (the ``SerialPort`` protocol)."""

    def __init__(self, sensor: EmulatedPMS5003, timeout: float | None) -> None:
        """Open the port with a read timeout in seconds (None blocks forever)."""
        self._sensor = sensor
        self.timeout = timeout
        self._buffer = bytearray()
        self._cancelled = False
        self.is_open = True
        self.written = bytearray()

    def deliver(self, data: bytes) -> None:
        """Receive bytes from the sensor (called with the sensor's condition held)."""
        self._buffer += data

    def read(self, size: int = 1) -> bytes:
        """Read ``size`` bytes, fewer if the timeout expires or the read is cancelled."""
        sensor = self._sensor
        with sensor.cond:
            deadline = None if self.timeout is None else sensor.now() + self.timeout
            while True:
                if not self.is_open:
                    raise OSError(errno.EBADF, "serial port closed")
                next_slot = sensor.pump()
                if len(self._buffer) >= size or self._cancelled:
                    self._cancelled = False
                    return self._take(size)
                now = sensor.now()
                if deadline is not None and now >= deadline:
                    return self._take(size)
                wake = [t for t in (deadline, next_slot) if t is not None]
                # The sensor's time may run faster than the real time a wait takes.
                sensor.cond.wait(max(0.0, min(wake) - now) / sensor.speed if wake else None)

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data: bytes) -> int | None:
        """Accept bytes (passive-mode commands); active mode ignores them."""
        if not self.is_open:
            raise OSError(errno.EBADF, "serial port closed")
        self.written += data
        return len(data)

    def flushInput(self) -> None:  # noqa: N802 - pyserial's name, used by the driver
        """Discard buffered input."""
        self.reset_input_buffer()

    def reset_input_buffer(self) -> None:
        """Discard buffered input."""
        with self._sensor.cond:
            self._sensor.pump()
            self._buffer.clear()

    def cancel_read(self) -> None:
        """Make a blocked (or the next) ``read`` return at once, as pyserial does."""
        with self._sensor.cond:
            self._cancelled = True
            self._sensor.cond.notify_all()

    def close(self) -> None:
        """Close the port; a second close is harmless."""
        if self.is_open:
            self.is_open = False
            self._sensor.detach(self)
