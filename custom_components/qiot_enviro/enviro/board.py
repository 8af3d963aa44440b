"""The board: detection, the vendor drivers on our buses, one read per polling cycle.

This logic is the same for the Raspberry Pi and the emulator; only the
:class:`~.bus.BusProvider` differs. The unmodified vendor drivers get our bus objects:
the one I2C bus is injected as ``i2c_dev=`` into ``bme280``, ``ltr559`` and ``ads1015``,
and GPIO lines are claimed here (by name) and handed to the drivers as
``(request, offset)`` tuples, so ``gpiodevice`` never searches for a chip and never
raises ``SystemExit``; every claimed line is released on :meth:`Board.close`.

The ADC is driven on our bus directly: each gas reading is one config write, a wait and
two reads, where the ``ads1015`` driver's ``get_voltage`` costs about twice the bus time
(see ``Board._convert``); the values equal ``enviroplus.gas.read_all()``'s for the same
chip state (a differential test checks it). ADS1015 and ADS1115 are told apart by
:func:`identify_adc`, whose margin covers the chips' ±10 % data-rate tolerance, which
the vendor's ``detect_chip_type`` does not.

The LTR559 driver computes lux and proximity only when the chip's status says new data
(the bits clear when the data is read, and come back after the next integration); a
driver built after an error starts from 0 lx and proximity 0. The board waits for the
first real measurement after building the driver (about 110 ms) and never reports
those zeros (see :class:`LightSensorBus`).

Each sensor group (climate, light, gas, particulates) succeeds or fails on its own in a
cycle; a group that failed gets a fresh driver on the next cycle, so it recovers by
itself once the fault is gone. All I2C access is serialized by one lock; the PMS5003 is
read by a thread (``particulates.py``) that never takes it; the LCD has its own lock.
The particulate reader's lifecycle (start, replacement, sampling mode, close) is
serialized by a lock of its own.

The microphone (both variants) is read by a thread of its own (``noise.py``) from its
ALSA capture device; :meth:`Board.read` returns LAeq and LAFmax over the audio captured
since the previous read and never waits for audio. A stream that stops delivering is
an error and is reopened on the next cycle.

The PMS5003 reads continuously by default, or takes a sample every few minutes and
sleeps (fan off) in between (:meth:`Board.set_particulate_sampling`): between samples
:meth:`Board.read` reports the last sample with its time and ``sleeping=True``.
:meth:`Board.particulate_fan_seconds` is the fan's total running time (seed it with
``particulate_fan_seconds=`` or :meth:`Board.restore_particulate_fan_seconds`).
"""

import logging
import math
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Self, override

import bme280
import ltr559
from gpiod.line import Value
from PIL import Image

from .bus import (
    ADDR_ADS1015,
    ADDR_BME280,
    ADDR_LTR559,
    DEFAULT_UART,
    LINE_GAS_HEATER,
    LINE_LCD_BACKLIGHT,
    LINE_LCD_DC,
    LINE_PMS_ENABLE,
    LINE_PMS_RESET,
    BusProvider,
    GPIOChip,
    I2CBus,
    LineRequest,
    SerialPort,
    SPIPort,
)
from .errors import BoardClosedError, BoardError, BoardNotFoundError, GPIOUnavailableError
from .models import (
    BusDevice,
    Chip,
    ClimateReading,
    Detection,
    DeviceProbe,
    DeviceStatus,
    GasReading,
    GroupHealth,
    GroupResult,
    LightReading,
    NoiseReading,
    ParticulateReading,
    SensorGroup,
    Snapshot,
    Variant,
)
from .noise import PERIOD_FRAMES, SAMPLE_RATE, SETTLE_TIME, NoiseMeter
from .particulates import (
    ERROR_KINDS,
    PMS_BAUD_RATE,
    PMS_SAMPLE_FRAMES,
    PMS_SAMPLE_WINDOW,
    PMS_SERIAL_TIMEOUT,
    STATE_COUNTS,
    FanMeter,
    Frame,
    NullLine,
    ParticulateReader,
    ProviderPMS5003,
    check_sampling_interval,
    combined_health,
)
from .st7735 import ST7735Display

_LOGGER = logging.getLogger(__name__)

CONSUMER = "qiot_enviro"
# How long detect() waits for a first PMS5003 frame after enabling the sensor: its
# start-up silence and two stable-mode frame intervals (2.3 s each).
DETECT_FRAME_WAIT = 6.0
# Plantower: "stable data should be got at least 30 seconds after the sensor wakeup".
PMS_WARMUP = 30.0
# No audio for this long after the microphone's settling: the stream has stalled.
NOISE_STALL_AFTER = 1.0 + PERIOD_FRAMES / SAMPLE_RATE
# A particulate value older than this is reported as missing.
PMS_STALE_AFTER = 15.0
# One BME280 measurement at 16x oversampling of T, P and H (datasheet 9.1, maximum).
BME280_MEASUREMENT_TIME = 0.115
# MICS6814 on the ADS1015: full scale ±6.144 V, and the enviroplus load network.
GAS_GAIN = 6.144
GAS_RATE_ADS1015 = 1600
GAS_RATE_ADS1115 = 128
GAS_SUPPLY_V = 3.3
GAS_LOAD_OHMS = 56000
# ADS1x15 registers and config fields (datasheet 8.6.3): single-ended in0, in1, in2
# against GND; ±6.144 V; data-rate code 0b100 is 1600 SPS on an ADS1015 and 128 SPS on
# an ADS1115, the rates enviroplus uses; comparator off.
GAS_MUX = (0b100, 0b101, 0b110)
ADS_REG_CONVERSION = 0x00
ADS_REG_CONFIG = 0x01
ADS_START = 0x8000
ADS_PGA_6144 = 0b000
ADS_SINGLE_SHOT = 0x0100
ADS_DR_CODE = 0b100
ADS_COMPARATOR_OFF = 0b11
# About one config read at 100 kHz: start polling that long before the conversion ends.
ADS_POLL_TIME = 0.0005
# ADS1015 or ADS1115 (datasheets, conversion register): the ADS1015's 12-bit result
# leaves bits 3:0 at 0, so any other value there is an ADS1115. Where the inputs give no
# such value, the conversion time at the shared data-rate code (1600 SPS against
# 128 SPS) decides, split at half an ADS1115's 7.8 ms: an ADS1115 up to twice as fast as
# nominal stays above (TI allows the data rate to be 10 % off), an ADS1015 (0.63 ms)
# below, with 3 ms to spare for the bus transactions timed along with it.
# A conversion faster than the split, or a result with bits 3:0 set, settles it at once;
# only an ADS1115 with inputs at 0 V takes all the samples (62 ms). A busy machine has to
# delay every one of them to make an ADS1015 look like an ADS1115.
ADS_IDENTIFY_SAMPLES = 8
ADS_IDENTIFY_SPLIT = 0.5 / GAS_RATE_ADS1115
ADS_LOW_NIBBLE = 0x000F
# An ADS1115 at 8 SPS, the slowest rate a previous user could have left running.
ADS_IDLE_TIMEOUT = 0.2
# LTR559 (datasheet; LITE-ON's start-up flowchart): active mode starts measuring 10 ms
# after the driver enables it, at the power-on 100 ms integration time and PS rate.
# Wait that long after building the driver, then poll the status for the first data.
LTR559_FIRST_DATA = 0.11
LTR559_FIRST_DATA_TIMEOUT = 0.3
LTR559_POLL_INTERVAL = 0.005
LTR_REG_ALS_DATA = 0x88
LTR_REG_PS_DATA = 0x8D
# Identity registers used to tell which chips answer.
_BME280_CHIP_ID = (0xD0, 0x60)
_LTR559_PART_ID = (0x86, 0x92)

# What the vendor drivers raise when a chip or bus misbehaves. ValueError comes from
# i2cdevice's lookup adapters when a register holds a value the driver does not know.
DRIVER_ERRORS = (OSError, RuntimeError, ValueError)


class ImplausibleReadingError(BoardError):
    """A reading no working sensor can produce (dropped, the driver is kept)."""


class LightSensorBus:
    """The I2C bus as the LTR559 driver sees it, noting when it reads measurement data.

    The driver reads ALS_DATA (0x88) only when ALS_PS_STATUS says a new integration is
    there, and PS_DATA (0x8D) only when a new proximity measurement is: once it has read
    each, its lux and proximity are measurements rather than its initial zeros. Watching
    the bus tells that without extra transactions or the driver's private state.
    """

    def __init__(self, bus: I2CBus) -> None:
        """Forward to ``bus``; nothing has been measured yet."""
        self._bus = bus
        self.lux_measured = False
        self.proximity_measured = False

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read ``length`` bytes starting at ``register``; note a data read."""
        data = self._bus.read_i2c_block_data(i2c_addr, register, length)
        if register <= LTR_REG_ALS_DATA < register + length:
            self.lux_measured = True
        if register <= LTR_REG_PS_DATA < register + length:
            self.proximity_measured = True
        return data

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        """Write ``data`` starting at ``register``."""
        self._bus.write_i2c_block_data(i2c_addr, register, data)

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read one byte from ``register``."""
        return self.read_i2c_block_data(i2c_addr, register, 1)[0]

    def close(self) -> None:
        """Leave the bus open: it belongs to the board."""

    @property
    def measured(self) -> bool:
        """Tell whether both lux and proximity come from measurements."""
        return self.lux_measured and self.proximity_measured


@contextmanager
def _released_on_error(request: LineRequest) -> Iterator[LineRequest]:
    try:
        yield request
    except BaseException:
        request.release()
        raise


def request_lines(gpio: GPIOChip | None, label: str, lines: dict[str, bool]) -> LineRequest:
    """Claim named lines as outputs; raise :class:`GPIOUnavailableError` if we cannot."""
    if gpio is None:
        raise GPIOUnavailableError(f"no GPIO chip: cannot drive {', '.join(lines)}")
    try:
        return gpio.request_outputs(f"{CONSUMER}-{label}", lines)
    except OSError as err:
        raise GPIOUnavailableError(f"cannot claim {', '.join(lines)}: {err}") from err


def _adc_config(mux: int) -> int:
    """Return the config word that starts a single-shot gas conversion on ``mux``."""
    config = ADS_START | mux << 12 | ADS_PGA_6144 << 9 | ADS_SINGLE_SHOT | ADS_DR_CODE << 5
    return config | ADS_COMPARATOR_OFF


def _adc_busy(bus: I2CBus) -> bool:
    """Tell whether a conversion runs (the config register's OS bit reads 0)."""
    return not bus.read_i2c_block_data(ADDR_ADS1015, ADS_REG_CONFIG, 2)[0] & 0x80


def _await_adc(bus: I2CBus, timeout: float) -> None:
    """Poll until the running conversion ends; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while _adc_busy(bus):
        if time.monotonic() > deadline:
            raise TimeoutError("the ADC conversion did not finish")


def identify_adc(bus: I2CBus) -> Chip:
    """Tell an ADS1015 from an ADS1115.

    Runs single-shot conversions of the gas inputs at data-rate code 0b100. A result
    with bits 3:0 set can only come from the 16-bit ADS1115; a conversion faster than
    :data:`ADS_IDENTIFY_SPLIT` only from an ADS1015 (7.8 ms against 0.63 ms, each within
    ±10 %). Each is timed from before its start is written, so a busy machine can only
    make a conversion look slower, never faster.
    """
    # A conversion someone else started must end first: a start written meanwhile is lost.
    _await_adc(bus, ADS_IDLE_TIMEOUT)
    for sample in range(ADS_IDENTIFY_SAMPLES):
        config = _adc_config(GAS_MUX[sample % len(GAS_MUX)])
        started = time.monotonic()
        bus.write_i2c_block_data(ADDR_ADS1015, ADS_REG_CONFIG, [config >> 8, config & 0xFF])
        _await_adc(bus, ADS_IDLE_TIMEOUT)
        took = time.monotonic() - started
        msb, lsb = bus.read_i2c_block_data(ADDR_ADS1015, ADS_REG_CONVERSION, 2)
        if (msb << 8 | lsb) & ADS_LOW_NIBBLE:
            return Chip.ADS1115
        if took < ADS_IDENTIFY_SPLIT:
            return Chip.ADS1015
    return Chip.ADS1115


def scan_chips(bus: I2CBus) -> set[Chip]:
    """Return which of the board's chips answer with the right identity."""
    chips: set[Chip] = set()
    for chip, address, (register, expected) in (
        (Chip.BME280, ADDR_BME280, _BME280_CHIP_ID),
        (Chip.LTR559, ADDR_LTR559, _LTR559_PART_ID),
    ):
        with suppress(OSError):
            if bus.read_byte_data(address, register) == expected:
                chips.add(chip)
    with suppress(OSError):
        # The ADS1015 has no identity register: an answer at 0x49 is all there is.
        bus.read_i2c_block_data(ADDR_ADS1015, ADS_REG_CONFIG, 2)
        chips.add(Chip.ADS1015)
    return chips


def variant_of(chips: set[Chip]) -> Variant | None:
    """Return the board variant the answering chips make up."""
    if not chips & {Chip.BME280, Chip.LTR559}:
        return None
    if chips & {Chip.ADS1015, Chip.ADS1115}:
        return Variant.ENVIRO_PLUS
    return Variant.ENVIRO


def gas_ohms(volts: float) -> float:
    """Convert a divider voltage to sensing resistance exactly as enviroplus.gas 1.0.2."""
    try:
        return (volts * GAS_LOAD_OHMS) / (GAS_SUPPLY_V - volts)
    except ZeroDivisionError:
        return 0


def _devices(probes: list[Any]) -> dict[BusDevice, Any]:
    return {probe.device: probe for probe in probes}


def _ok(devices: dict[BusDevice, Any], device: BusDevice) -> bool:
    probe = devices.get(device)
    return probe is not None and probe.status is DeviceStatus.OK


def detect(
    provider: BusProvider, uart_path: str = DEFAULT_UART, *, frame_wait: float = DETECT_FRAME_WAIT
) -> Detection:
    """Find out what is on this machine, then release everything that was opened.

    Probes every bus device, asks which chips answer on I2C (telling an ADS1015 from an
    ADS1115 with :func:`identify_adc`), and on an Enviro+ waits up to ``frame_wait``
    seconds for a valid PMS5003 frame.
    """
    devices = _devices(provider.probe(uart_path))
    chips: set[Chip] = set()
    if _ok(devices, BusDevice.I2C):
        bus = provider.open_i2c()
        try:
            chips = scan_chips(bus)
            if Chip.ADS1015 in chips:
                with suppress(*DRIVER_ERRORS):
                    if identify_adc(bus) is Chip.ADS1115:
                        chips = (chips - {Chip.ADS1015}) | {Chip.ADS1115}
        finally:
            bus.close()
    variant = variant_of(chips)
    frames = False
    if variant is Variant.ENVIRO_PLUS and _ok(devices, BusDevice.UART):
        frames = _frames_arrive(provider, uart_path, devices, frame_wait)
    if frames:
        chips.add(Chip.PMS5003)
    if variant is not None and _ok(devices, BusDevice.SPI) and _ok(devices, BusDevice.GPIO):
        chips.add(Chip.ST7735)
    return Detection(
        devices=devices,
        chips=frozenset(chips),
        variant=variant,
        identity=provider.board_identity(),
        simulated=provider.simulated,
        particulate_frames=frames,
        serial_console=provider.serial_console_on(uart_path),
    )


def _frames_arrive(
    provider: BusProvider, uart_path: str, devices: dict[BusDevice, Any], wait: float
) -> bool:
    """Enable the PMS5003 and tell whether a valid frame arrives within ``wait`` s."""
    gpio: GPIOChip | None = None
    lines: LineRequest | None = None
    sensor: ProviderPMS5003 | None = None
    deadline = time.monotonic() + wait
    try:
        if _ok(devices, BusDevice.GPIO):
            gpio = provider.open_gpio()
            # Lines held by a running board: the sensor streams anyway, read it.
            with suppress(GPIOUnavailableError):
                lines = request_lines(gpio, "detect", {LINE_PMS_ENABLE: True, LINE_PMS_RESET: True})
        pin: tuple[LineRequest, int] = (NullLine(), 0)
        enable = (lines, gpio.line_offset(LINE_PMS_ENABLE)) if lines and gpio else pin
        reset = (lines, gpio.line_offset(LINE_PMS_RESET)) if lines and gpio else pin
        sensor = ProviderPMS5003(
            lambda: provider.open_serial(uart_path, PMS_BAUD_RATE, wait),
            enable=enable,
            reset=reset,
        )
        while (remaining := deadline - time.monotonic()) > 0:
            port = sensor.port
            if port is not None:
                port.timeout = remaining
            try:
                sensor.read()
            except (*DRIVER_ERRORS, struct.error):
                # Checksum and timeout errors are RuntimeErrors: keep trying.
                continue
            return True
    except OSError:
        return False
    finally:
        if sensor is not None:
            sensor.close()
        if lines is not None:
            lines.release()
        if gpio is not None:
            gpio.close()
    return False


class Board:
    """An opened Enviro or Enviro+ board.

    ``open()`` detects and sets up; ``read()`` is one polling cycle; ``close()``
    releases every line, descriptor and thread. The LCD, when there is one, is driven
    through :meth:`show_image` and :meth:`set_backlight`.
    """

    def __init__(
        self,
        provider: BusProvider,
        *,
        uart_path: str = DEFAULT_UART,
        particulate_warmup: float = PMS_WARMUP,
        particulate_stale_after: float = PMS_STALE_AFTER,
        particulate_read_timeout: float = PMS_SERIAL_TIMEOUT,
        particulate_sampling: float | None = None,
        particulate_sample_window: float = PMS_SAMPLE_WINDOW,
        particulate_fan_seconds: float = 0.0,
        noise_settle: float = SETTLE_TIME,
    ) -> None:
        """Prepare the board; nothing is opened until :meth:`open`.

        ``particulate_warmup``: seconds after the PMS5003 woke up (enabled or reset)
        whose frames are dropped; ``particulate_stale_after``: age after which the
        newest frame no longer counts; ``particulate_read_timeout``: UART read timeout,
        after which a silent sensor counts as an error (once warmed up). All three are
        measured on the provider's clock (:meth:`BusProvider.monotonic`), the one the
        UART's timeouts run on.

        ``particulate_sampling``: seconds between particulate samples, None to read
        continuously (see :meth:`set_particulate_sampling`); a sample is the median of
        :attr:`particulate_sample_frames` stable frames (5; tests may change the
        attribute before opening), or of those that arrived within
        ``particulate_sample_window`` seconds after the warm-up.
        ``particulate_fan_seconds``: the fan's running time counted by earlier runs.
        ``noise_settle``: seconds of audio dropped after the microphone is (re)opened.
        """
        self.provider = provider
        self.uart_path = uart_path
        self.particulate_warmup = particulate_warmup
        self.particulate_stale_after = particulate_stale_after
        self.particulate_read_timeout = particulate_read_timeout
        self._particulate_clock = provider.monotonic
        self._particulate_sampling = check_sampling_interval(particulate_sampling)
        self.particulate_sample_frames = PMS_SAMPLE_FRAMES
        self.particulate_sample_window = particulate_sample_window
        self._fan = FanMeter(self._particulate_clock, particulate_fan_seconds)
        self._pms_lock = threading.RLock()
        self._detection_lock = threading.Lock()
        self._detection: Detection | None = None
        self.display: ST7735Display | None = None
        self._display_begun = False
        self.display_error: str | None = None
        # Which ADC the last identification found (kept while its driver is rebuilt).
        self.adc_type: Chip | None = None
        self._bus_lock = threading.RLock()
        self._lcd_lock = threading.Lock()
        self._i2c: I2CBus | None = None
        self._gpio: GPIOChip | None = None
        self._spi: SPIPort | None = None
        self._bme: Any = None
        self._bme_ready_at = 0.0
        self._ltr: Any = None
        self._ltr_bus: LightSensorBus | None = None
        self._ltr_ready_at = 0.0
        self._adc: Chip | None = None
        self._heater: LineRequest | None = None
        self._pms_lines: LineRequest | None = None
        self._lcd_lines: LineRequest | None = None
        self._pms: ProviderPMS5003 | None = None
        self._reader: ParticulateReader | None = None
        # Counts of the readers that were replaced, and the last one's state: the
        # sensor's health spans every reader that read it.
        self._retired_health = GroupHealth(extra=dict.fromkeys((*ERROR_KINDS, *STATE_COUNTS), 0))
        self._last_reader_health = GroupHealth()
        # When the sensor woke up and its newest frame, kept for the next reader while
        # the lines stay claimed (the sensor runs on).
        self._pms_woke_at: float | None = None
        self._pms_latest: Frame | None = None
        self._health = {group: GroupHealth() for group in SensorGroup}
        self.noise_settle = noise_settle
        self._noise_lock = threading.Lock()
        self._noise: NoiseMeter | None = None
        self._noise_last: GroupResult[NoiseReading] | None = None
        self._noise_overruns = 0
        self._opened = False

    @property
    def detection(self) -> Detection | None:
        """Return what was found, updated when the PMS5003's first frame arrives."""
        with self._detection_lock:
            return self._detection

    def _set_detection(self, detection: Detection) -> None:
        with self._detection_lock:
            self._detection = detection

    def _particulate_frame_seen(self) -> None:
        """Record that the PMS5003 answers (called from the reader thread)."""
        with self._detection_lock:
            detection = self._detection
            if detection is not None and not detection.particulate_frames:
                self._detection = replace(
                    detection,
                    chips=detection.chips | {Chip.PMS5003},
                    particulate_frames=True,
                )

    # -- lifecycle -------------------------------------------------------------------

    def open(self) -> Detection:
        """Detect the board and set up every sensor group it has.

        Raises :class:`BoardNotFoundError` when no chip answers. A group whose chip or
        GPIO line is unavailable does not stop the others: it reports an error in
        :meth:`read` and is set up again on later cycles.
        """
        if self._opened and (detection := self.detection) is not None:
            return detection
        try:
            return self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> Detection:
        provider = self.provider
        devices = _devices(provider.probe(self.uart_path))
        chips: set[Chip] = set()
        if _ok(devices, BusDevice.I2C):
            self._i2c = provider.open_i2c()
            with self._bus_lock:
                chips = scan_chips(self._i2c)
        variant = variant_of(chips)
        if variant is not None and _ok(devices, BusDevice.GPIO):
            try:
                self._gpio = provider.open_gpio()
            except OSError as err:
                devices[BusDevice.GPIO] = replace(
                    devices[BusDevice.GPIO], status=DeviceStatus.ERROR, detail=str(err)
                )
        if variant is not None and _ok(devices, BusDevice.SPI) and self._gpio is not None:
            chips.add(Chip.ST7735)
        self._opened = True
        if Chip.BME280 in chips:
            self._try_init(SensorGroup.CLIMATE, self._init_climate)
        if Chip.LTR559 in chips:
            self._try_init(SensorGroup.LIGHT, self._init_light)
        if Chip.ADS1015 in chips:
            self._try_init(SensorGroup.GAS, self._init_gas)
            if self.adc_type is Chip.ADS1115:
                chips = (chips - {Chip.ADS1015}) | {Chip.ADS1115}
        detection = Detection(
            devices=devices,
            chips=frozenset(chips),
            variant=variant,
            identity=provider.board_identity(),
            simulated=provider.simulated,
            serial_console=provider.serial_console_on(self.uart_path),
        )
        self._set_detection(detection)
        if not detection.board_found:
            raise BoardNotFoundError(detection)
        if SensorGroup.PARTICULATES in detection.groups:
            with self._pms_lock:
                self._try_init(SensorGroup.PARTICULATES, self._init_particulates)
        if SensorGroup.NOISE in detection.groups:
            with self._noise_lock:
                try:
                    self._start_noise()
                except OSError as err:
                    self._failed(SensorGroup.NOISE, _describe(err))
        if detection.has_display:
            self._open_display()
        # Last, so that the other groups' setup overlaps the first measurements.
        if self._bme is not None:
            self._try_init(SensorGroup.CLIMATE, self._settle_climate)
        if self._ltr is not None:
            self._try_init(SensorGroup.LIGHT, self._settle_light)
        return detection

    def close(self) -> None:
        """Stop the particulate thread and release every line, descriptor and driver."""
        self._opened = False
        with self._noise_lock:
            self._stop_noise()
        with self._pms_lock:
            self._stop_particulates()
            # The lines are given back: the next open starts the sensor's warm-up afresh.
            self._pms_woke_at = None
            self._pms_latest = None
            self._fan.stop()
        with self._lcd_lock:
            self.display = None
            self._display_begun = False
            if self._spi is not None:
                self._spi.close()
                self._spi = None
        with self._bus_lock:
            self._bme = self._ltr = self._adc = self._ltr_bus = None
            if self._heater is not None:
                # The heater draws current; leave it off, as enviroplus.gas does at exit.
                with suppress(OSError):
                    self._heater.set_value(self._line(LINE_GAS_HEATER), Value.INACTIVE)
            for attr in ("_heater", "_pms_lines", "_lcd_lines"):
                request: LineRequest | None = getattr(self, attr)
                if request is not None:
                    request.release()
                    setattr(self, attr, None)
            if self._gpio is not None:
                self._gpio.close()
                self._gpio = None
            if self._i2c is not None:
                self._i2c.close()
                self._i2c = None

    def __enter__(self) -> Self:
        """Open the board for a ``with`` block."""
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the board at the end of a ``with`` block."""
        self.close()

    # -- reading ---------------------------------------------------------------------

    def read(self) -> Snapshot:
        """Read every sensor group once: the whole polling cycle."""
        detection = self.detection
        if not self._opened or detection is None:
            raise BoardClosedError("the board is not open")
        started = time.monotonic()
        read_at = datetime.now(UTC)
        groups = detection.groups
        climate = light = gas = None
        with self._bus_lock:
            if SensorGroup.CLIMATE in groups:
                climate = self._read_group(
                    SensorGroup.CLIMATE, self._ensure_climate, self._read_climate
                )
            if SensorGroup.LIGHT in groups:
                light = self._read_group(SensorGroup.LIGHT, self._ensure_light, self._read_light)
            if SensorGroup.GAS in groups:
                gas = self._read_group(SensorGroup.GAS, self._ensure_gas, self._read_gas)
        particulates = None
        if SensorGroup.PARTICULATES in groups:
            with self._pms_lock:
                particulates = self._particulates_result()
        noise = None
        if SensorGroup.NOISE in groups:
            with self._noise_lock:
                noise = self._noise_result()
        return Snapshot(
            read_at=read_at,
            duration=time.monotonic() - started,
            climate=climate,
            light=light,
            gas=gas,
            particulates=particulates,
            noise=noise,
            cpu_temperature=self.provider.cpu_temperature(),
        )

    def probe(self) -> list[DeviceProbe]:
        """Probe the bus devices again, as they are now, while the board is open.

        The microphone's ALSA device has one reader: while this board captures from
        it, a probe would find it busy, so it is reported as the working device it is.
        """
        probes = self.provider.probe(self.uart_path)
        with self._noise_lock:
            capturing = self._noise is not None and self._noise.alive
        if capturing:
            probes = [
                DeviceProbe(p.device, p.path, DeviceStatus.OK) if p.device is BusDevice.AUDIO else p
                for p in probes
            ]
        return probes

    def health(self) -> dict[SensorGroup, GroupHealth]:
        """Return a copy of every group's running health."""
        health = {group: replace(h, extra=dict(h.extra)) for group, h in self._health.items()}
        current = self._reader
        if current is not None:
            reader = combined_health(self._retired_health, current.health())
        else:
            reader = replace(
                self._retired_health,
                consecutive_errors=self._last_reader_health.consecutive_errors,
                extra=dict(self._retired_health.extra),
            )
        pms = health[SensorGroup.PARTICULATES]
        health[SensorGroup.PARTICULATES] = replace(
            reader,
            error_count=reader.error_count + pms.error_count,
            last_error=pms.last_error if pms.consecutive_errors else reader.last_error,
            consecutive_errors=max(reader.consecutive_errors, pms.consecutive_errors),
            extra={**reader.extra, "fan_seconds": int(self._fan.seconds())},
        )
        meter = self._noise
        overruns = self._noise_overruns + (meter.overruns if meter is not None else 0)
        health[SensorGroup.NOISE].extra["overruns"] = overruns
        return health

    # -- particulate sampling and fan time -------------------------------------------

    @property
    def particulate_sampling(self) -> float | None:
        """Return the particulate sampling interval in seconds; None: continuous."""
        with self._pms_lock:
            return self._particulate_sampling

    def set_particulate_sampling(self, interval_s: float | None) -> None:
        """Read the PMS5003 continuously (None) or take a sample every ``interval_s`` s.

        Each sample wakes the sensor through its SET line, waits out its warm-up, keeps
        the median of the next stable frames and puts it back to sleep (fan off).
        Thread-safe, effective at once, and kept across the reader's restarts; raises
        ValueError for an interval that is not a positive number of seconds. Without
        the GPIO chip the SET line is not driven: samples are taken, the fan runs on.
        """
        interval = check_sampling_interval(interval_s)
        with self._pms_lock:
            self._particulate_sampling = interval
            if self._reader is not None:
                self._reader.set_sampling(interval)

    def particulate_fan_seconds(self) -> float:
        """Return the PMS5003 fan's total running time in seconds (SET high).

        It includes the time restored from earlier runs and never decreases; it is
        also in the particulate group's health as ``extra["fan_seconds"]`` (whole s).
        """
        return self._fan.seconds()

    def restore_particulate_fan_seconds(self, seconds: float) -> None:
        """Set the fan running time counted before this run (a persisted total).

        The time counted since the board opened is added to it. Raises ValueError for a
        negative or non-finite value.
        """
        self._fan.restore(seconds)

    def _read_group[T](
        self, group: SensorGroup, ensure: Callable[[], None], read: Callable[[], T]
    ) -> GroupResult[T]:
        """Read one group; on a bus or driver error drop the driver so it is rebuilt."""
        try:
            ensure()
            value = read()
        except ImplausibleReadingError as err:
            return self._failed(group, str(err))
        except (*DRIVER_ERRORS, BoardError) as err:
            self._drop(group)
            return self._failed(group, _describe(err))
        health = self._health[group]
        if health.consecutive_errors:
            health.recoveries += 1
        health.consecutive_errors = 0
        now = datetime.now(UTC)
        health.last_good = now
        return GroupResult(value, read_at=now)

    def _failed[T](self, group: SensorGroup, message: str) -> GroupResult[T]:
        health = self._health[group]
        health.error_count += 1
        health.consecutive_errors += 1
        health.last_error = message
        return GroupResult(None, error=message)

    def _try_init(self, group: SensorGroup, init: Callable[[], None]) -> None:
        """Run a group's setup at open; a failure is recorded and retried in read()."""
        try:
            with self._bus_lock:
                init()
        except (*DRIVER_ERRORS, BoardError) as err:
            self._drop(group)
            self._failed(group, _describe(err))

    def _drop(self, group: SensorGroup) -> None:
        """Forget a group's driver so the next cycle creates a fresh one."""
        if group is SensorGroup.CLIMATE:
            self._bme = None
        elif group is SensorGroup.LIGHT:
            self._ltr = self._ltr_bus = None
        elif group is SensorGroup.GAS:
            self._adc = None
        elif group is SensorGroup.PARTICULATES:
            self._stop_particulates()
        elif group is SensorGroup.NOISE:
            self._stop_noise()

    # -- climate (BME280) ------------------------------------------------------------

    def _init_climate(self) -> None:
        bme = bme280.BME280(i2c_addr=ADDR_BME280, i2c_dev=self._bus())
        bme.setup()
        # setup() ends by starting normal mode: the first result comes one measurement later.
        self._bme_ready_at = time.monotonic() + BME280_MEASUREMENT_TIME
        self._bme = bme

    def _settle_climate(self) -> None:
        """Wait for the first measurement after setup and throw that reading away."""
        if self._bme is not None:
            self._sleep_until(self._bme_ready_at)
            self._bme.update_sensor()

    def _ensure_climate(self) -> None:
        if self._bme is None:
            self._init_climate()
            self._settle_climate()

    def _read_climate(self) -> ClimateReading:
        bme = self._bme
        bme.update_sensor()
        reading = ClimateReading(
            temperature=bme.temperature, pressure=bme.pressure, humidity=bme.humidity
        )
        if not -40.0 <= reading.temperature <= 85.0:
            raise ImplausibleReadingError(f"implausible temperature {reading.temperature:.2f} °C")
        if not 300.0 <= reading.pressure <= 1100.0:
            raise ImplausibleReadingError(f"implausible pressure {reading.pressure:.2f} hPa")
        if not 0.0 <= reading.humidity <= 100.0:
            raise ImplausibleReadingError(f"implausible humidity {reading.humidity:.2f} %")
        return reading

    # -- light (LTR559) --------------------------------------------------------------

    def _init_light(self) -> None:
        bus = LightSensorBus(self._bus())
        # The constructor resets the chip and enables it: measuring starts now.
        self._ltr = ltr559.LTR559(i2c_dev=bus)
        self._ltr_bus = bus
        self._ltr_ready_at = time.monotonic() + LTR559_FIRST_DATA

    def _settle_light(self) -> None:
        """Wait (bounded) until the driver has read a real integration and PS measurement.

        Until then it would return its initial 0 lx and proximity 0, which look like a
        dark room with nothing near.
        """
        ltr, bus = self._ltr, self._ltr_bus
        if ltr is None or bus is None:
            return
        self._sleep_until(self._ltr_ready_at)
        deadline = self._ltr_ready_at + LTR559_FIRST_DATA_TIMEOUT
        while True:
            ltr.update_sensor()
            if bus.measured:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "the light sensor delivered no measurement "
                    f"{LTR559_FIRST_DATA + LTR559_FIRST_DATA_TIMEOUT:.1f} s after setup"
                )
            time.sleep(LTR559_POLL_INTERVAL)

    def _ensure_light(self) -> None:
        if self._ltr is None:
            self._init_light()
            self._settle_light()

    def _read_light(self) -> LightReading:
        ltr = self._ltr
        ltr.update_sensor()
        lux = float(ltr.get_lux(passive=True))
        proximity = int(ltr.get_proximity(passive=True))
        if not (math.isfinite(lux) and lux >= 0.0):
            raise ImplausibleReadingError(f"implausible illuminance {lux} lx")
        if not 0 <= proximity <= 2047:
            raise ImplausibleReadingError(f"implausible proximity {proximity}")
        return LightReading(lux=lux, proximity=proximity)

    def read_proximity(self) -> int:
        """Read only the LTR559 proximity count (for tap detection between cycles).

        Serialized with every other bus access; raises :class:`BoardError` when the
        light sensor is unavailable.
        """
        if not self._opened:
            raise BoardClosedError("the board is not open")
        with self._bus_lock:
            ltr, bus = self._ltr, self._ltr_bus
            if ltr is None or bus is None:
                raise BoardError("the light and proximity sensor is not available")
            try:
                proximity = int(ltr.get_proximity())
            except DRIVER_ERRORS as err:
                raise BoardError(_describe(err)) from err
            if not bus.proximity_measured:
                # The driver's initial 0 would re-arm the tap detector: no value instead.
                raise BoardError("the proximity sensor has not measured yet")
            return proximity

    # -- gas (MICS6814 on the ADS1015) -----------------------------------------------

    def _init_gas(self) -> None:
        if self._heater is None:
            self._heater = request_lines(self._gpio, "gas-heater", {LINE_GAS_HEATER: True})
        # Every conversion writes the whole config (input, gain, rate, single shot), and
        # identification waits for each of its conversions to end, so no conversion of
        # a stale input selection is left running for the first reading to return.
        self.adc_type = identify_adc(self._bus())
        self._adc = self.adc_type

    def _ensure_gas(self) -> None:
        if self._adc is None:
            self._init_gas()

    def _gas_volts(self) -> list[float]:
        return [self._convert(mux) for mux in GAS_MUX]

    def _convert(self, mux: int) -> float:
        """Run one single-shot conversion and return volts, as ``ADS1015.get_voltage``.

        The vendor ``get_voltage`` does two read-modify-writes of the config register
        (multiplexer, then start); the first already starts a conversion, which ends
        during the second, so the second starts another and the driver sleeps 1 ms
        waiting for it: about twice the bus time. One config write that selects the
        input and starts the conversion, a wait for the known conversion time, then
        polling the OS bit gives the same reading (the scaling below repeats the
        driver's arithmetic) at the bus-time floor.
        """
        bus = self._bus()
        ads1115 = self.adc_type is Chip.ADS1115
        config = _adc_config(mux)
        bus.write_i2c_block_data(ADDR_ADS1015, ADS_REG_CONFIG, [config >> 8, config & 0xFF])
        conversion_time = 1.0 / (GAS_RATE_ADS1115 if ads1115 else GAS_RATE_ADS1015)
        if conversion_time > 2 * ADS_POLL_TIME:
            # An ADS1115 at 128 SPS: sleep rather than hold the bus with ~16 polls.
            time.sleep(conversion_time - ADS_POLL_TIME)
        _await_adc(bus, 10 * conversion_time + 0.1)
        msb, lsb = bus.read_i2c_block_data(ADDR_ADS1015, ADS_REG_CONVERSION, 2)
        raw = msb << 8 | lsb
        value: float
        if ads1115:
            value = raw - 0x10000 if raw & 0x8000 else raw
            value /= 32768.0
        else:
            code = raw >> 4
            value = code - 0x1000 if code & 0x800 else code
            value /= 2048.0
        value *= float(GAS_GAIN * 1000.0)
        return value / 1000.0

    def _read_gas(self) -> GasReading:
        volts = self._gas_volts()
        for name, value in zip(("oxidising", "reducing", "NH3"), volts, strict=True):
            # At the rails the divider says nothing about the sensor: name the fault
            # rather than report the 0 Ω that enviroplus's formula gives at 3.3 V.
            if value >= GAS_SUPPLY_V:
                raise ImplausibleReadingError(
                    f"{name} channel at the {GAS_SUPPLY_V} V supply: open circuit "
                    "(sensor disconnected or heater off?)"
                )
            if value <= 0.0:
                raise ImplausibleReadingError(f"{name} channel at 0 V: short circuit")
        # Strictly between the rails every channel has a finite, positive resistance.
        oxidising, reducing, nh3 = (gas_ohms(v) for v in volts)
        return GasReading(oxidising=oxidising, reducing=reducing, nh3=nh3)

    # -- particulates (PMS5003) ------------------------------------------------------

    def _init_particulates(self) -> None:
        if self._pms_lines is None and self._gpio is not None:
            self._claim_particulate_lines()
        if self._pms_lines is not None:
            enable = (self._pms_lines, self._line(LINE_PMS_ENABLE))
            reset = (self._pms_lines, self._line(LINE_PMS_RESET))
        else:
            # Without the GPIO chip the sensor is best effort: its pull-ups may run it.
            enable = reset = (NullLine(), 0)
        provider, path, timeout = self.provider, self.uart_path, self.particulate_read_timeout

        def open_port() -> SerialPort:
            return provider.open_serial(path, PMS_BAUD_RATE, timeout)

        self._pms = ProviderPMS5003(open_port, enable=enable, reset=reset)
        self._reader = ParticulateReader(
            self._pms,
            warmup=self.particulate_warmup,
            clock=self._particulate_clock,
            woke_at=self._pms_woke_at,
            latest=self._pms_latest,
            on_frame=self._particulate_frame_seen,
            first_frame_within=self.particulate_read_timeout,
            sampling=self._particulate_sampling,
            sample_frames=self.particulate_sample_frames,
            sample_window=self.particulate_sample_window,
            fan=self._fan,
        )
        self._reader.start()

    def _claim_particulate_lines(self) -> None:
        """Drive SET and RESET high: the sensor wakes up now (if it slept)."""
        self._pms_lines = request_lines(
            self._gpio, "pms5003", {LINE_PMS_ENABLE: True, LINE_PMS_RESET: True}
        )
        self._pms_woke_at = self._particulate_clock()
        self._pms_latest = None
        self._fan.start()

    def _stop_particulates(self) -> None:
        if self._reader is not None:
            self._reader.stop()
            health = self._reader.health()
            self._retired_health = combined_health(self._retired_health, health)
            self._last_reader_health = health
            if self._pms_lines is not None:
                # The lines stay claimed: a next reader goes on where this one stopped.
                self._pms_woke_at = self._reader.woke_at
                self._pms_latest = self._reader.latest()
            self._reader = None
        if self._pms is not None:
            self._pms.close()
            self._pms = None

    def _particulates_result(self) -> GroupResult[ParticulateReading]:
        group = SensorGroup.PARTICULATES
        if self._reader is None or not self._reader.alive:
            self._stop_particulates()
            try:
                self._init_particulates()
            except (*DRIVER_ERRORS, BoardError) as err:
                self._stop_particulates()
                return self._failed(group, _describe(err))
            self._health[group].consecutive_errors = 0
        reader = self._reader
        assert reader is not None
        frame = reader.latest()
        age = None if frame is None else self._particulate_clock() - frame.arrived_monotonic
        interval = reader.sampling
        if interval is not None:
            # Duty-cycled: the last sample is held until the next one is taken, for an
            # interval and one sample's awake time; only then is it stale.
            held_for = (
                interval
                + self.particulate_warmup
                + self.particulate_read_timeout
                + self.particulate_sample_window
                + self.particulate_stale_after
            )
            if frame is not None and age is not None and age <= held_for:
                if not reader.sample_failed:
                    return GroupResult(frame.reading, read_at=frame.arrived_at, sleeping=True)
                last = reader.health().last_error
                detail = f" ({last})" if last else ""
                return GroupResult(None, error=f"no valid frame in the last sample{detail}")
        elif frame is not None and age is not None and age <= self.particulate_stale_after:
            return GroupResult(frame.reading, read_at=frame.arrived_at)
        if reader.warming_up:
            # Expected after a start or a reset: a state, not an error.
            return GroupResult(None, warming_up=True)
        last = reader.health().last_error
        detail = f" ({last})" if last else ""
        if age is None:
            return GroupResult(None, error=f"no valid frame yet{detail}")
        return GroupResult(None, error=f"no valid frame for {age:.0f} s{detail}")

    # -- noise (the microphone) ------------------------------------------------------

    def _start_noise(self) -> None:
        """Open the capture stream and start measuring (OSError if it cannot open)."""
        capture = self.provider.open_audio()
        self._noise = NoiseMeter(capture, settle=self.noise_settle)
        self._noise.start()

    def _stop_noise(self) -> None:
        meter, self._noise = self._noise, None
        if meter is not None:
            meter.stop()
            self._noise_overruns += meter.overruns

    def _noise_failed(self, message: str) -> GroupResult[NoiseReading]:
        """Record a microphone fault; logged when it starts, not on every cycle."""
        if not self._health[SensorGroup.NOISE].consecutive_errors:
            _LOGGER.warning("Microphone: %s", message)
        self._noise_last = None
        return self._failed(SensorGroup.NOISE, message)

    def _noise_result(self) -> GroupResult[NoiseReading]:
        """Return LAeq and LAFmax since the previous cycle, without waiting for audio."""
        meter = self._noise
        if meter is not None and not meter.alive:
            # The capture thread ended on an error: report it, reopen next cycle.
            message = meter.error or "the capture stopped"
            self._stop_noise()
            return self._noise_failed(f"microphone capture failed ({message})")
        if meter is None:
            try:
                self._start_noise()
            except OSError as err:
                return self._noise_failed(_describe(err))
            meter = self._noise
            assert meter is not None
        cycle = meter.take()
        if cycle is None:
            silent = meter.silent_for()
            if meter.settling:
                return GroupResult(None, warming_up=True)
            if silent <= NOISE_STALL_AFTER:
                # Read again within one capture period: the last cycle still holds.
                return self._noise_last or GroupResult(None, warming_up=True)
            self._stop_noise()
            return self._noise_failed(f"no audio from the microphone for {silent:.1f} s")
        if not (math.isfinite(cycle.laeq) and cycle.laeq >= 0.0):
            return self._noise_failed(
                "the microphone delivers digital silence (no microphone on the left channel?)"
            )
        health = self._health[SensorGroup.NOISE]
        if health.consecutive_errors:
            health.recoveries += 1
            _LOGGER.info("Microphone: audio again")
        health.consecutive_errors = 0
        now = datetime.now(UTC)
        health.last_good = now
        self._noise_last = GroupResult(
            NoiseReading(laeq=cycle.laeq, lafmax=cycle.lafmax), read_at=now
        )
        return self._noise_last

    # -- the LCD ---------------------------------------------------------------------

    def _open_display(self) -> None:
        """Wire the LCD driver; on failure the board works on without it.

        The controller is initialised on the first picture, not here: its datasheet
        waits take 0.65 s, which every open (and config-entry reload) would pay.
        """
        with self._lcd_lock:
            try:
                if self._lcd_lines is None:
                    self._lcd_lines = request_lines(
                        self._gpio, "lcd", {LINE_LCD_DC: False, LINE_LCD_BACKLIGHT: False}
                    )
                if self._spi is None:
                    self._spi = self.provider.open_spi()
                self.display = ST7735Display(
                    self._spi,
                    dc=(self._lcd_lines, self._line(LINE_LCD_DC)),
                    backlight=(self._lcd_lines, self._line(LINE_LCD_BACKLIGHT)),
                )
                self._display_begun = False
                self.display_error = None
            except (*DRIVER_ERRORS, BoardError) as err:
                self.display = None
                self.display_error = _describe(err)

    def show_image(self, image: Image.Image) -> None:
        """Show a 160x80 picture on the LCD; raise :class:`BoardError` if it cannot."""
        self._with_display(lambda display: display.show(image))

    def set_backlight(self, on: bool) -> None:
        """Switch the LCD backlight."""
        self._with_display(lambda display: display.set_backlight(on))

    def _with_display(self, action: Callable[[ST7735Display], object]) -> None:
        if not self._opened:
            raise BoardClosedError("the board is not open")
        if self.display is None and self.detection is not None and self.detection.has_display:
            self._open_display()
        with self._lcd_lock:
            display = self.display
            if display is None:
                raise BoardError(f"no display: {self.display_error or 'not available'}")
            try:
                if not self._display_begun:
                    display.begin()
                    self._display_begun = True
                action(display)
            except DRIVER_ERRORS as err:
                self.display_error = _describe(err)
                raise BoardError(f"display error: {self.display_error}") from err

    # -- helpers ---------------------------------------------------------------------

    def _bus(self) -> I2CBus:
        if self._i2c is None:
            raise BoardClosedError("the I2C bus is not open")
        return self._i2c

    def _line(self, name: str) -> int:
        if self._gpio is None:
            raise GPIOUnavailableError("no GPIO chip")
        return self._gpio.line_offset(name)

    @staticmethod
    def _sleep_until(deadline: float) -> None:
        if (remaining := deadline - time.monotonic()) > 0:
            time.sleep(remaining)

    @override
    def __repr__(self) -> str:
        """Describe the board for logs."""
        variant = self.detection.variant if self.detection else None
        return f"<Board {variant} uart={self.uart_path} open={self._opened}>"


def _describe(err: BaseException) -> str:
    """Return a one-line description of a driver error, naming the errno if any.

    The bme280 driver replaces the OSError of a missing chip with a RuntimeError that
    only says "IOError"; the errno text is taken from the exception it replaced.
    """
    text = str(err) or type(err).__name__
    if isinstance(err, BoardError):
        return text
    cause = err.__cause__ or err.__context__
    if not isinstance(err, OSError) and isinstance(cause, OSError) and cause.strerror:
        text = f"{text} ({cause.strerror})"
    return f"{type(err).__name__}: {text}"
