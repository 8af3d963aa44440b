"""An emulated I2C bus with register-level BME280, LTR559 and ADS1015/ADS1115 chips.

The bus answers the calls of ``smbus2.SMBus`` that ``i2cdevice`` (and so every vendor
driver) makes, dispatching by address to a chip emulation that keeps a register map.
The chips turn the :class:`~.environment.Environment` into raw register contents the
way the silicon would, so the unmodified vendor drivers compute the values back:

- BME280 (0x76): calibration NVM, control registers, and raw ADC words found by
  inverting the datasheet's compensation formulas (bisection); until the first
  measurement after a reset or mode change has finished, the data registers hold the
  chip's reset values, which is what makes a real first reading wrong.
- LTR559 (0x23): ids, a software reset bit that clears, ALS channel counts chosen so the
  driver's lux formula returns the target, proximity counts. As on the chip (datasheet,
  ALS_PS_STATUS 0x8C), the "new data" bits are set when an ALS integration or a PS
  measurement completes and clear when the data registers are read; after a reset the
  data registers hold 0 until the first measurement after activation (10 ms wake-up,
  then one integration time or PS measurement period).
- ADS1015 or ADS1115 (0x49): a config register whose OS bit reads 0 while a
  single-shot conversion runs for 1/SPS seconds of real time (off by ``rate_error``:
  TI allows the data rate to be 10 % off), and a conversion register holding the
  MICS6814 divider voltage of the channel latched when it started.

Faults are injected per address: :meth:`EmulatedI2CBus.fail` (NACK or EIO for ``count``
transactions or until cleared) and :meth:`EmulatedI2CBus.remove` (a chip that never
answers). With ``pace=True`` every transaction takes the time it would on a 100 kHz bus.
"""

import errno
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .environment import Environment

# Nine bit-times per byte: eight data bits and the acknowledge. Start, repeated start
# and stop conditions are folded into that figure.
BITS_PER_BYTE = 9
DEFAULT_BIT_RATE = 100_000
# Waits shorter than this are spun rather than slept: sleep() overshoots by ~60 µs.
_SPIN_BELOW = 0.002

# MICS6814 load resistor network on the Enviro+ and its supply.
GAS_SUPPLY_V = 3.3
GAS_LOAD_OHMS = 56_000.0


class I2CChip(Protocol):
    """A device on the emulated bus, reached at its address."""

    def read(self, register: int, length: int, now: float) -> list[int]:
        """Return ``length`` bytes starting at ``register`` at time ``now``."""

    def write(self, register: int, data: Sequence[int], now: float) -> None:
        """Store ``data`` starting at ``register`` at time ``now``."""


@dataclass(slots=True)
class _Fault:
    """An injected transaction failure: an errno for ``remaining`` transactions."""

    err: int
    remaining: int | None


class EmulatedI2CBus:
    """The I2C bus: chips by address, faults, statistics and optional pacing.

    It implements the ``I2CBus`` protocol itself (the emulator's tests use it
    directly); the bus provider hands out :class:`EmulatedI2CHandle` objects so that
    closing one handle, as the board does, leaves the emulated hardware in place.
    """

    def __init__(
        self,
        chips: dict[int, I2CChip] | None = None,
        *,
        pace: bool = False,
        bit_rate: int = DEFAULT_BIT_RATE,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Create a bus with the given chips attached."""
        self._chips: dict[int, I2CChip] = dict(chips or {})
        self._missing: set[int] = set()
        self._faults: dict[int, _Fault] = {}
        self.pace = pace
        self.bit_rate = bit_rate
        self._clock = clock
        # One transaction at a time, as the kernel's adapter lock does.
        self._lock = threading.Lock()
        self._busy_until = 0.0
        self.bytes_transferred = 0
        self.transactions = 0
        self.open_handles = 0

    # -- chips and faults ---------------------------------------------------------------

    def attach(self, address: int, chip: I2CChip) -> None:
        """Put a chip on the bus."""
        self._chips[address] = chip

    def chip(self, address: int) -> I2CChip:
        """Return the chip at an address."""
        return self._chips[address]

    def fail(self, address: int, err: int = errno.EREMOTEIO, count: int | None = None) -> None:
        """Make transactions to ``address`` fail with ``err`` (``count`` times, or until cleared)."""
        with self._lock:
            self._faults[address] = _Fault(err, count)

    def remove(self, address: int) -> None:
        """Make the chip at ``address`` stop answering (NACK on every transaction)."""
        with self._lock:
            self._missing.add(address)

    def clear_faults(self, address: int | None = None) -> None:
        """Clear injected faults and missing chips (at one address, or all)."""
        with self._lock:
            if address is None:
                self._faults.clear()
                self._missing.clear()
            else:
                self._faults.pop(address, None)
                self._missing.discard(address)

    def reset_stats(self) -> None:
        """Zero the transferred-bytes and transaction counters."""
        with self._lock:
            self.bytes_transferred = 0
            self.transactions = 0

    @property
    def byte_time(self) -> float:
        """Return the seconds one byte occupies the bus."""
        return BITS_PER_BYTE / self.bit_rate

    # -- the smbus2 calls ------------------------------------------------------------

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read ``length`` bytes starting at ``register``."""
        with self._lock:
            # Address+W, register, address+R, then the data bytes.
            chip, end = self._transaction(i2c_addr, length + 3)
            data = chip.read(register, length, end)
            self._wait(end)
            return data

    def write_i2c_block_data(
        self,
        i2c_addr: int,
        register: int,
        data: Sequence[int],
        force: bool | None = None,
    ) -> None:
        """Write ``data`` starting at ``register``."""
        with self._lock:
            chip, end = self._transaction(i2c_addr, len(data) + 2)
            chip.write(register, list(data), end)
            self._wait(end)

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read one byte from ``register``."""
        return self.read_i2c_block_data(i2c_addr, register, 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """Write one byte to ``register``."""
        self.write_i2c_block_data(i2c_addr, register, [value])

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        """Address the chip without data (what ``i2cdetect`` does)."""
        with self._lock:
            _, end = self._transaction(i2c_addr, 1)
            self._wait(end)

    def close(self) -> None:
        """Nothing to release: the emulated bus outlives its users."""

    # -- internals -------------------------------------------------------------------

    def _transaction(self, address: int, size: int) -> tuple[I2CChip, float]:
        """Account for one transaction, raise injected faults, return (chip, end time).

        The chip acts at the end time (a conversion starts at the stop condition), and
        its emulation runs before the wait, so its own cost hides in the bus time.
        """
        self.transactions += 1
        chip = self._chips.get(address)
        fault = self._faults.get(address)
        failure: OSError | None = None
        if chip is None or address in self._missing:
            failure = OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))
        elif fault is not None:
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[address]
            failure = OSError(fault.err, os.strerror(fault.err))
        if failure is not None or chip is None:
            # Only the address byte goes out before the NACK.
            self._wait(self._occupy(1))
            raise failure or OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))
        return chip, self._occupy(size)

    def _occupy(self, size: int) -> float:
        """Count ``size`` bytes on the wire and return when they will have gone out."""
        self.bytes_transferred += size
        now = self._clock()
        if not self.pace:
            return now
        # Accumulate against a deadline rather than sleeping per byte, so the error does
        # not add up over many short transactions.
        self._busy_until = max(self._busy_until, now) + size * self.byte_time
        return self._busy_until

    def _wait(self, end: float) -> None:
        """When pacing, wait until ``end``: sleep the bulk, spin the last stretch."""
        if not self.pace:
            return
        remaining = end - self._clock()
        if remaining > _SPIN_BELOW:
            time.sleep(remaining - _SPIN_BELOW / 2)
        while self._clock() < end:
            pass


class EmulatedI2CHandle:
    """One opened ``/dev/i2c-1``: forwards to the bus until closed."""

    def __init__(self, bus: EmulatedI2CBus) -> None:
        """Open a handle on ``bus``."""
        self._bus: EmulatedI2CBus | None = bus
        bus.open_handles += 1

    def _live(self) -> EmulatedI2CBus:
        if self._bus is None:
            raise OSError(errno.EBADF, "I2C bus handle closed")
        return self._bus

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read ``length`` bytes starting at ``register``."""
        return self._live().read_i2c_block_data(i2c_addr, register, length)

    def write_i2c_block_data(
        self,
        i2c_addr: int,
        register: int,
        data: Sequence[int],
        force: bool | None = None,
    ) -> None:
        """Write ``data`` starting at ``register``."""
        self._live().write_i2c_block_data(i2c_addr, register, data)

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read one byte from ``register``."""
        return self._live().read_byte_data(i2c_addr, register)

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """Write one byte to ``register``."""
        self._live().write_byte_data(i2c_addr, register, value)

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        """Address the chip without data."""
        self._live().write_quick(i2c_addr)

    def close(self) -> None:
        """Close the handle; a second close is harmless."""
        if self._bus is not None:
            self._bus.open_handles -= 1
            self._bus = None


# ---------------------------------------------------------------------------------------
# BME280


@dataclass(frozen=True, slots=True)
class BME280Calibration:
    """Trimming parameters as stored in the chip's NVM (datasheet table 16)."""

    t1: int = 27504
    t2: int = 26435
    t3: int = -1000
    p1: int = 36477
    p2: int = -10685
    p3: int = 3024
    p4: int = 2855
    p5: int = 140
    p6: int = -7
    p7: int = 15500
    p8: int = -14600
    p9: int = 6000
    h1: int = 75
    h2: int = 362
    h3: int = 0
    h4: int = 313
    h5: int = 50
    h6: int = 30

    def nvm_0x88(self) -> list[int]:
        """Return registers 0x88-0xA1: T and P words little-endian, 0xA0 unused, H1."""
        words = (self.t1, self.t2, self.t3, self.p1, self.p2, self.p3)
        words_p = (self.p4, self.p5, self.p6, self.p7, self.p8, self.p9)
        out: list[int] = []
        for word in (*words, *words_p):
            out += list((word & 0xFFFF).to_bytes(2, "little"))
        return [*out, 0x00, self.h1 & 0xFF]

    def nvm_0xe1(self) -> list[int]:
        """Return registers 0xE1-0xE7 with H4 and H5 sharing the nibbles of 0xE5."""
        h2 = list((self.h2 & 0xFFFF).to_bytes(2, "little"))
        e4 = (self.h4 >> 4) & 0xFF
        e5 = (self.h4 & 0x0F) | ((self.h5 & 0x0F) << 4)
        e6 = (self.h5 >> 4) & 0xFF
        return [*h2, self.h3 & 0xFF, e4, e5, e6, self.h6 & 0xFF]

    # The datasheet's floating-point compensation (section 8.1), written from the
    # datasheet rather than copied from the driver, so tests compare two implementations.

    def t_fine(self, adc_t: int) -> float:
        """Return the fine temperature that pressure and humidity compensation use."""
        var1 = (adc_t / 16384.0 - self.t1 / 1024.0) * self.t2
        var2 = (adc_t / 131072.0 - self.t1 / 8192.0) ** 2 * self.t3
        return var1 + var2

    def temperature(self, adc_t: int) -> float:
        """Return °C for a raw temperature word."""
        return self.t_fine(adc_t) / 5120.0

    def pressure(self, adc_p: int, t_fine: float) -> float:
        """Return Pa for a raw pressure word."""
        var1 = t_fine / 2.0 - 64000.0
        var2 = var1 * var1 * self.p6 / 32768.0 + var1 * self.p5 * 2.0
        var2 = var2 / 4.0 + self.p4 * 65536.0
        var1 = (self.p3 * var1 * var1 / 524288.0 + self.p2 * var1) / 524288.0
        var1 = (1.0 + var1 / 32768.0) * self.p1
        if var1 == 0:
            return 0.0
        p = (1048576.0 - adc_p - var2 / 4096.0) * 6250.0 / var1
        return p + (self.p9 * p * p / 2147483648.0 + p * self.p8 / 32768.0 + self.p7) / 16.0

    def humidity(self, adc_h: int, t_fine: float) -> float:
        """Return %RH for a raw humidity word."""
        h = t_fine - 76800.0
        h = (adc_h - (self.h4 * 64.0 + self.h5 / 16384.0 * h)) * (
            self.h2 / 65536.0 * (1.0 + self.h6 / 67108864.0 * h * (1.0 + self.h3 / 67108864.0 * h))
        )
        h *= 1.0 - self.h1 * h / 524288.0
        return min(100.0, max(0.0, h))

    def raw_for(self, temperature: float, pressure: float, humidity: float) -> tuple[int, int, int]:
        """Return the raw (T, P, H) words that compensate to the targets (°C, hPa, %)."""
        adc_t = _bisect(self.temperature, temperature, 0, (1 << 20) - 1)
        fine = self.t_fine(adc_t)
        adc_p = _bisect(lambda raw: -self.pressure(raw, fine), -pressure * 100.0, 0, (1 << 20) - 1)
        adc_h = _bisect(lambda raw: self.humidity(raw, fine), humidity, 0, (1 << 16) - 1)
        return adc_t, adc_p, adc_h


def _bisect(fn: Callable[[int], float], target: float, low: int, high: int) -> int:
    """Return the integer in [low, high] whose ``fn`` (increasing) is nearest ``target``."""
    while high - low > 1:
        mid = (low + high) // 2
        if fn(mid) < target:
            low = mid
        else:
            high = mid
    return low if abs(fn(low) - target) <= abs(fn(high) - target) else high


# Oversampling codes of ctrl_meas / ctrl_hum and the datasheet's typical timing.
_OSRS = {0: 0, 1: 1, 2: 2, 3: 4, 4: 8, 5: 16, 6: 16, 7: 16}
_BME_RESET_T_P = (0x80, 0x00, 0x00)
_BME_RESET_H = (0x80, 0x00)


class EmulatedBME280:
    """A BME280 at register level."""

    CHIP_ID = 0x60

    def __init__(self, env: Environment, calibration: BME280Calibration | None = None) -> None:
        """Create the chip in its power-on state."""
        self._env = env
        self.calibration = calibration or BME280Calibration()
        self._regs = bytearray(256)
        self._first_result_at: float | None = None
        self.resets = 0
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(256)
        self._regs[0x88 : 0x88 + 26] = bytes(self.calibration.nvm_0x88())
        self._regs[0xE1 : 0xE1 + 7] = bytes(self.calibration.nvm_0xe1())
        self._regs[0xD0] = self.CHIP_ID
        self._first_result_at = None

    def measurement_time(self) -> float:
        """Return the seconds one measurement takes with the current oversampling."""
        t = _OSRS[self._regs[0xF4] >> 5]
        p = _OSRS[(self._regs[0xF4] >> 2) & 7]
        h = _OSRS[self._regs[0xF2] & 7]
        # Datasheet 9.1, typical values.
        return (1.0 + 2.0 * t + (2.0 * p + 0.5 if p else 0) + (2.0 * h + 0.5 if h else 0)) / 1000

    def read(self, register: int, length: int, now: float) -> list[int]:
        """Return registers; the data block reflects the environment once measured."""
        regs = bytearray(self._regs)
        mode = regs[0xF4] & 3
        measuring = False
        if self._first_result_at is not None:
            measuring = now < self._first_result_at
            if mode != 0b11 and not measuring:
                # A forced measurement has finished: back to sleep, as the chip does.
                self._regs[0xF4] &= 0xFC
                regs[0xF4] = self._regs[0xF4]
        regs[0xF3] = 0x08 if measuring else 0x00
        if self._first_result_at is not None and now >= self._first_result_at:
            regs[0xF7:0xFF] = bytes(self._data())
        else:
            regs[0xF7:0xFF] = bytes(_BME_RESET_T_P + _BME_RESET_T_P + _BME_RESET_H)
        return [regs[(register + i) & 0xFF] for i in range(length)]

    def write(self, register: int, data: Sequence[int], now: float) -> None:
        """Store control registers; 0xB6 to 0xE0 resets the chip."""
        for i, value in enumerate(data):
            reg = (register + i) & 0xFF
            if reg == 0xE0:
                if value == 0xB6:
                    self.resets += 1
                    self._reset()
                continue
            if reg in (0xF2, 0xF4, 0xF5):
                self._regs[reg] = value
            # Normal or forced mode: the first result appears after one measurement.
            if reg == 0xF4 and value & 3 and (self._first_result_at is None or value & 3 != 3):
                self._first_result_at = now + self.measurement_time()

    def _data(self) -> list[int]:
        values = self._env.values()
        adc_t, adc_p, adc_h = self.calibration.raw_for(
            values.temperature, values.pressure, values.humidity
        )
        if not _OSRS[self._regs[0xF4] >> 5]:
            adc_t = 0x80000
        if not _OSRS[(self._regs[0xF4] >> 2) & 7]:
            adc_p = 0x80000
        if not _OSRS[self._regs[0xF2] & 7]:
            adc_h = 0x8000
        return [
            adc_p >> 12,
            (adc_p >> 4) & 0xFF,
            (adc_p & 0x0F) << 4,
            adc_t >> 12,
            (adc_t >> 4) & 0xFF,
            (adc_t & 0x0F) << 4,
            adc_h >> 8,
            adc_h & 0xFF,
        ]


# ---------------------------------------------------------------------------------------
# LTR559

_LTR_GAIN = {0: 1, 1: 2, 2: 4, 3: 8, 6: 48, 7: 96}
_LTR_INTEGRATION_MS = {0: 100, 1: 50, 2: 200, 3: 400, 4: 150, 5: 250, 6: 300, 7: 350}
# Lux coefficients of the datasheet (appendix A) for an IR ratio below 45 %.
_LTR_CH0_C = 17743
_LTR_CH1_C = -11059
# Indoor light: the IR channel reads about a third of the visible+IR channel.
_LTR_IR_FRACTION = 0.3
# ALS_MEAS_RATE repeat codes and PS_MEAS_RATE codes (8 and above: 10 ms), in ms.
_LTR_REPEAT_MS = {0: 50, 1: 100, 2: 200, 3: 500, 4: 1000, 5: 2000, 6: 2000, 7: 2000}
_LTR_PS_RATE_MS = {0: 50, 1: 70, 2: 100, 3: 200, 4: 500, 5: 1000, 6: 2000, 7: 2000, 8: 10}
# From standby to the start of the first measurement (LITE-ON's start-up flowchart).
_LTR_WAKEUP = 0.010
_LTR_DEFAULTS = {0x82: 0x7F, 0x83: 0x01, 0x84: 0x02, 0x85: 0x03, 0x86: 0x92, 0x87: 0x05}
_LTR_DEFAULTS |= {0x8F: 0x08, 0x90: 0xFF, 0x91: 0x07, 0x97: 0xFF, 0x98: 0xFF}


def ltr559_counts(lux: float, gain: int, integration_ms: int) -> tuple[int, int]:
    """Return ALS (ch0, ch1) counts for which the LTR559 lux formula gives ``lux``."""
    if lux <= 0:
        return 0, 0
    scale = integration_ms / 100.0 * gain * 10000.0
    target = lux * scale
    ideal = target / (_LTR_CH0_C - _LTR_CH1_C * _LTR_IR_FRACTION)
    if ideal >= 65535 or ideal * _LTR_IR_FRACTION >= 65535:
        return 65535, round(65535 * _LTR_IR_FRACTION)  # saturated
    best = (0, 0)
    best_error = math.inf
    # Two integer channels give a fine lattice of lux values: search around the ideal.
    for ch0 in range(max(0, math.floor(ideal) - 4), math.floor(ideal) + 5):
        ch1 = round((target - _LTR_CH0_C * ch0) / -_LTR_CH1_C)
        if not 0 <= ch1 <= 65535 or ch0 + ch1 == 0 or ch1 * 100 / (ch0 + ch1) >= 45:
            continue
        error = abs((ch0 * _LTR_CH0_C - ch1 * _LTR_CH1_C) / scale - lux)
        if error < best_error:
            best, best_error = (ch0, ch1), error
    return best


class EmulatedLTR559:
    """An LTR559 light and proximity sensor at register level, with its measurement timing."""

    def __init__(self, env: Environment, *, reset_time: float = 0.0) -> None:
        """Create the chip; a software reset takes ``reset_time`` seconds to clear."""
        self._env = env
        self._reset_time = reset_time
        self._regs = bytearray(256)
        self._reset_until = 0.0
        self.resets = 0
        self._load_defaults()

    def _load_defaults(self) -> None:
        self._regs[:] = bytes(256)
        for reg, value in _LTR_DEFAULTS.items():
            self._regs[reg] = value
        # When the measurement under way completes (None: in standby), whether the data
        # registers hold a completed measurement, and whether it is unread.
        self._als_due: float | None = None
        self._als_measured = False
        self._als_new = False
        self._ps_due: float | None = None
        self._ps_measured = False
        self._ps_new = False

    def _integration(self) -> float:
        return _LTR_INTEGRATION_MS[(self._regs[0x85] >> 3) & 0x07] / 1000

    def _als_period(self) -> float:
        # Datasheet: a repeat rate shorter than the integration time is raised to it.
        repeat = _LTR_REPEAT_MS[self._regs[0x85] & 0x07] / 1000
        return max(repeat, self._integration())

    def _ps_period(self) -> float:
        return _LTR_PS_RATE_MS[min(self._regs[0x84] & 0x0F, 8)] / 1000

    def _advance(self, now: float) -> None:
        """Complete the measurements that are due by ``now``."""
        if self._als_due is not None and now >= self._als_due:
            period = self._als_period()
            self._als_due += period * (math.floor((now - self._als_due) / period) + 1)
            self._als_measured = self._als_new = True
        if self._ps_due is not None and now >= self._ps_due:
            period = self._ps_period()
            self._ps_due += period * (math.floor((now - self._ps_due) / period) + 1)
            self._ps_measured = self._ps_new = True

    def read(self, register: int, length: int, now: float) -> list[int]:
        """Return registers, with data and status computed from the environment."""
        self._advance(now)
        regs = bytearray(self._regs)
        if now < self._reset_until:
            regs[0x80] |= 0x02
        gain_code = (regs[0x80] >> 2) & 0x07
        values = self._env.values()
        if self._als_measured:
            gain = _LTR_GAIN.get(gain_code, 1)
            integration = _LTR_INTEGRATION_MS[(regs[0x85] >> 3) & 0x07]
            ch0, ch1 = ltr559_counts(values.lux, gain, integration)
            regs[0x88:0x8C] = bytes([ch1 & 0xFF, ch1 >> 8, ch0 & 0xFF, ch0 >> 8])
        if self._ps_measured:
            proximity = max(0, min(2047, values.proximity))
            regs[0x8D:0x8F] = bytes([proximity & 0xFF, proximity >> 8])
        # Data valid (bit 7 clear), gain echo, and "new data" for each unread measurement.
        regs[0x8C] = (
            (gain_code << 4) | (0x04 if self._als_new else 0) | (0x01 if self._ps_new else 0)
        )
        touched = {(register + i) & 0xFF for i in range(length)}
        # Reading the data registers makes their status "old data" until the next one.
        if touched & {0x88, 0x89, 0x8A, 0x8B}:
            self._als_new = False
        if touched & {0x8D, 0x8E}:
            self._ps_new = False
        return [regs[(register + i) & 0xFF] for i in range(length)]

    def write(self, register: int, data: Sequence[int], now: float) -> None:
        """Store registers; the ALS_CONTROL reset bit restores the defaults."""
        self._advance(now)
        for i, value in enumerate(data):
            reg = (register + i) & 0xFF
            if reg in (0x86, 0x87) or 0x88 <= reg <= 0x8E:
                continue  # read-only
            if reg == 0x80 and value & 0x02:
                self.resets += 1
                self._load_defaults()
                self._reset_until = now + self._reset_time
                continue
            was_als = self._regs[0x80] & 0x01
            was_ps = self._regs[0x81] & 0x03 == 0x03
            self._regs[reg] = value
            # Active mode starts measuring after the wake-up time; settings written while
            # active apply from the next measurement. Standby stops, keeping the data.
            if reg == 0x80:
                if value & 0x01 and not was_als:
                    self._als_due = now + _LTR_WAKEUP + self._integration()
                elif not value & 0x01:
                    self._als_due = None
            elif reg == 0x81:
                if value & 0x03 == 0x03 and not was_ps:
                    self._ps_due = now + _LTR_WAKEUP + self._ps_period()
                elif value & 0x03 != 0x03:
                    self._ps_due = None


# ---------------------------------------------------------------------------------------
# ADS1015 / ADS1115

ADS1015_RATES = (128, 250, 490, 920, 1600, 2400, 3300, 3300)
ADS1115_RATES = (8, 16, 32, 64, 128, 250, 475, 860)
_ADS_FSR = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
# Inputs of each multiplexer setting: (positive, negative or None for GND).
_ADS_MUX = ((0, 1), (0, 3), (1, 3), (2, 3), (0, None), (1, None), (2, None), (3, None))
_ADS_CONFIG_RESET = 0x8583
# Single-shot mode wakes the oscillator before converting (datasheet: about 25 µs).
_ADS_WAKEUP_S = 25e-6


def gas_voltage(ohms: float) -> float:
    """Return the divider voltage the ADC sees for a MICS6814 sensing resistance."""
    return GAS_SUPPLY_V * ohms / (ohms + GAS_LOAD_OHMS)


class EmulatedADS1x15:
    """An ADS1015 (12-bit) or ADS1115 (16-bit) ADC with real conversion timing."""

    def __init__(
        self,
        env: Environment,
        *,
        ads1115: bool = False,
        spare_volts: float = 0.0,
        rate_error: float = 0.0,
    ) -> None:
        """Create the ADC in its power-on state; ``spare_volts`` is on AIN3.

        ``rate_error`` is how far the chip's oscillator is off: +0.1 converts 10 %
        faster than the nominal data rate (TI specifies ±10 %).
        """
        self._env = env
        self.ads1115 = ads1115
        self.rate_error = rate_error
        self.spare_volts = spare_volts
        self._config = _ADS_CONFIG_RESET
        self._conversion = 0
        self._lo_thresh = 0x8000
        self._hi_thresh = 0x7FFF
        self._converting_until: float | None = None
        self._latched = _ADS_CONFIG_RESET
        self.conversions = 0

    def rate(self, config: int | None = None) -> int:
        """Return the samples per second of a config word (the current one by default)."""
        code = ((self._config if config is None else config) >> 5) & 7
        return (ADS1115_RATES if self.ads1115 else ADS1015_RATES)[code]

    def voltage(self, mux: int) -> float:
        """Return the differential input voltage of a multiplexer setting."""
        values = self._env.values()
        inputs = (
            gas_voltage(values.oxidising),
            gas_voltage(values.reducing),
            gas_voltage(values.nh3),
            self.spare_volts,
        )
        positive, negative = _ADS_MUX[mux]
        return inputs[positive] - (0.0 if negative is None else inputs[negative])

    def code(self, config: int) -> int:
        """Return the conversion register contents for a conversion with ``config``."""
        volts = self.voltage((config >> 12) & 7)
        fsr = _ADS_FSR[(config >> 9) & 7]
        if self.ads1115:
            value = max(-32768, min(32767, round(volts / fsr * 32768)))
            return value & 0xFFFF
        value = max(-2048, min(2047, round(volts / fsr * 2048)))
        return (value << 4) & 0xFFFF

    def _settle(self, now: float) -> None:
        """Finish a conversion whose time is up."""
        if self._converting_until is not None and now >= self._converting_until:
            self._conversion = self.code(self._latched)
            self._converting_until = None
            self.conversions += 1

    def _single_shot(self) -> bool:
        return bool(self._config & 0x0100)

    def read(self, register: int, length: int, now: float) -> list[int]:
        """Return a 16-bit register, repeated if more bytes are clocked out."""
        self._settle(now)
        pointer = register & 3
        if pointer == 0:
            # Continuous mode always holds a fresh sample of the current input.
            value = self._conversion if self._single_shot() else self.code(self._config)
        elif pointer == 1:
            busy = self._converting_until is not None or not self._single_shot()
            value = (self._config & 0x7FFF) | (0 if busy else 0x8000)
        elif pointer == 2:
            value = self._lo_thresh
        else:
            value = self._hi_thresh
        pair = [value >> 8, value & 0xFF]
        return [pair[i % 2] for i in range(length)]

    def write(self, register: int, data: Sequence[int], now: float) -> None:
        """Write a 16-bit register; a lone byte is ignored, as the chip needs two."""
        self._settle(now)
        if len(data) < 2:
            return
        value = (data[0] << 8) | data[1]
        pointer = register & 3
        if pointer == 1:
            self._config = value & 0x7FFF
            idle = self._converting_until is None
            if value & 0x8000 and self._single_shot() and idle:
                # Settings are latched when the conversion starts; later writes change
                # only the next one (the cause of enviroplus's wrong first reading).
                self._latched = self._config
                rate = self.rate() * (1.0 + self.rate_error)
                self._converting_until = now + _ADS_WAKEUP_S + 1.0 / rate
        elif pointer == 2:
            self._lo_thresh = value
        elif pointer == 3:
            self._hi_thresh = value
