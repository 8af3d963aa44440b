"""The emulated Enviro / Enviro+ board, its bus provider, and one fault facade.

``create_simulated()`` builds an :class:`EmulatedBoard`: an
:class:`~.environment.Environment`, the I2C bus with the BME280, LTR559 and (Enviro+)
ADS1015 or ADS1115, the GPIO chip, the PMS5003 on the UART (Enviro+), the ST7735
LCD on SPI and the microphone (``audio.py``). ``board.provider`` is a :class:`EmulatedBusProvider`, which the real
``enviro.board.Board`` opens exactly as it opens the Pi's buses: it finds the
header's GPIO lines with the same lookup as on a Pi (``gpio_lines``), on a chip named
as one of the kernels a Pi has shipped (``gpio_naming``, see ``gpio.KERNEL_NAMINGS``).

Faults, all through ``board.faults`` (a :class:`Faults`); ``count=None`` means "until
``clear()``":

- ``i2c_error(address, err=errno.EREMOTEIO, count=None)``: transactions to a chip fail
  with NACK (121) or EIO (``errno.EIO``);
- ``missing_chip(address)``: a chip never answers (NACK);
- ``pms_corrupt(kind, count=None)``: PMS5003 frames with a bad ``"checksum"``, a bad
  ``"length"`` field, or ``"garbage"`` on the line;
- ``pms_silence(count=None)``: PMS5003 frame slots with nothing sent;
- ``spi_error(count=None)``: SPI writes to the LCD fail with EIO;
- ``occupy_line(name, consumer="another-process")``: a GPIO line claimed by a foreign
  process (requests get EBUSY);
- ``missing_device(device)``, ``permission_denied(device)``, ``busy_device(device)``: a
  :class:`~..models.BusDevice` node is absent, not accessible, or busy, both in
  ``probe()`` and when opened;
- ``serial_console(on=True)``: a kernel console holds the UART;
- ``audio_stall(on=True)``: the microphone's stream delivers nothing (a stalled card);
  ``missing_device(BusDevice.AUDIO)`` and ``busy_device(BusDevice.AUDIO)`` act on the
  microphone's capture device as on the other devices;
- ``clear()``: all of the above undone.
"""

import errno
import os
from dataclasses import dataclass, field
from typing import Literal

from ..bus import (  # noqa: TID252 - keeps the hardware package relocatable
    ADDR_ADS1015,
    ADDR_BME280,
    ADDR_LTR559,
    DEFAULT_UART,
)
from ..gpio_lines import header_offsets  # noqa: TID252 - keeps the hardware package relocatable
from ..models import (  # noqa: TID252 - keeps the hardware package relocatable
    BusDevice,
    DeviceProbe,
    DeviceStatus,
    Variant,
)
from .audio import EmulatedCapture, EmulatedMicrophone
from .environment import Environment
from .gpio import DEFAULT_NAMING, EmulatedGPIOChip, EmulatedGPIOHandle
from .i2c import EmulatedADS1x15, EmulatedBME280, EmulatedI2CBus, EmulatedI2CHandle, EmulatedLTR559
from .pms5003 import EmulatedPMS5003, EmulatedSerialPort, FrameFault
from .st7735 import EmulatedSPIPort, EmulatedST7735

I2C_PATH = "/dev/i2c-1"
SPI_PATH = "/dev/spidev0.1"
GPIO_PATH = "/dev/gpiochip0"
AUDIO_DEVICE = "hw:CARD=adau7002,DEV=0"
# UART names that reach the PMS5003 on the emulated Pi.
UART_PATHS = frozenset({DEFAULT_UART, "/dev/serial0"})

_DEVICE_ERRORS = {
    DeviceStatus.NOT_PRESENT: (errno.ENOENT, FileNotFoundError),
    DeviceStatus.PERMISSION_DENIED: (errno.EACCES, PermissionError),
    DeviceStatus.BUSY: (errno.EBUSY, OSError),
}


@dataclass(slots=True)
class _DeviceFaults:
    """Bus-device states set through the facade."""

    status: dict[BusDevice, DeviceStatus] = field(default_factory=dict)
    serial_console: bool = False
    spi_errors: int | None = 0


class Faults:
    """The one place tests and the simulated board inject faults (see module docstring)."""

    def __init__(self, board: "EmulatedBoard") -> None:
        """Act on ``board``."""
        self._board = board
        self._occupied: set[str] = set()

    def i2c_error(self, address: int, err: int = errno.EREMOTEIO, count: int | None = None) -> None:
        """Fail transactions to ``address`` with ``err`` (NACK by default)."""
        self._board.i2c.fail(address, err, count)

    def missing_chip(self, address: int) -> None:
        """Make a chip stop answering."""
        self._board.i2c.remove(address)

    def pms_corrupt(
        self, kind: Literal["checksum", "length", "garbage"], count: int | None = None
    ) -> None:
        """Corrupt the next PMS5003 frames."""
        self._board.pms.corrupt(kind, count)

    def pms_silence(self, count: int | None = None) -> None:
        """Silence the PMS5003 for frame slots."""
        self._board.pms.corrupt("silence", count)

    def spi_error(self, count: int | None = None) -> None:
        """Fail SPI writes to the LCD."""
        self._board.device_faults.spi_errors = count
        for port in self._board.spi_ports:
            port.inject_error(count)

    def occupy_line(self, name: str, consumer: str = "another-process") -> None:
        """Claim a GPIO line for a foreign consumer."""
        self._board.gpio.occupy(name, consumer)
        self._occupied.add(name)

    def missing_device(self, device: BusDevice) -> None:
        """Make a bus device node absent."""
        self._board.device_faults.status[device] = DeviceStatus.NOT_PRESENT

    def permission_denied(self, device: BusDevice) -> None:
        """Make a bus device node inaccessible."""
        self._board.device_faults.status[device] = DeviceStatus.PERMISSION_DENIED

    def busy_device(self, device: BusDevice) -> None:
        """Make a bus device node busy."""
        self._board.device_faults.status[device] = DeviceStatus.BUSY

    def serial_console(self, on: bool = True) -> None:
        """Pretend a kernel console runs on the UART."""
        self._board.device_faults.serial_console = on

    def audio_stall(self, on: bool = True) -> None:
        """Make the microphone's stream stop delivering audio (or resume)."""
        self._board.microphone.stalled = on

    def clear(self) -> None:
        """Undo every fault."""
        board = self._board
        board.i2c.clear_faults()
        board.pms.clear_faults()
        board.device_faults.status.clear()
        board.device_faults.serial_console = False
        board.device_faults.spi_errors = 0
        board.microphone.stalled = False
        for port in board.spi_ports:
            port.clear_error()
        for name in self._occupied:
            board.gpio.vacate(name)
        self._occupied.clear()


class EmulatedBoard:
    """Everything on an emulated Enviro or Enviro+, wired to one GPIO chip."""

    def __init__(
        self,
        variant: Variant = Variant.ENVIRO_PLUS,
        *,
        seed: int = 0,
        pace: bool = False,
        frame_interval: float | None = None,
        power_up_delay: float | None = None,
        stabilisation_time: float | None = None,
        adc: Literal["ads1015", "ads1115"] = "ads1015",
        adc_rate_error: float = 0.0,
        gpio_naming: str = DEFAULT_NAMING,
        pms_speed: float = 1.0,
        env: Environment | None = None,
    ) -> None:
        """Build the board; see :func:`create_simulated`."""
        self.variant = variant
        self.seed = seed
        self.env = env or Environment(seed)
        self.gpio = EmulatedGPIOChip(GPIO_PATH, naming=gpio_naming)
        self.bme280 = EmulatedBME280(self.env)
        self.ltr559 = EmulatedLTR559(self.env)
        self.i2c = EmulatedI2CBus({ADDR_BME280: self.bme280, ADDR_LTR559: self.ltr559}, pace=pace)
        self.adc: EmulatedADS1x15 | None = None
        if variant is Variant.ENVIRO_PLUS:
            self.adc = EmulatedADS1x15(
                self.env, ads1115=adc == "ads1115", rate_error=adc_rate_error
            )
            self.i2c.attach(ADDR_ADS1015, self.adc)
        self.pms = EmulatedPMS5003(
            self.env,
            self.gpio,
            frame_interval=frame_interval,
            power_up_delay=power_up_delay,
            stabilisation_time=stabilisation_time,
            seed=seed,
            connected=variant is Variant.ENVIRO_PLUS,
            speed=pms_speed,
        )
        self.lcd = EmulatedST7735(self.gpio)
        self.microphone = EmulatedMicrophone(lambda: self.env.values().noise, seed=seed)
        self.pace = pace
        self.spi_ports: list[EmulatedSPIPort] = []
        self.serial_ports: list[EmulatedSerialPort] = []
        self.device_faults = _DeviceFaults()
        self.faults = Faults(self)
        self.identity = f"sim-{seed + 1:016x}"
        self.provider = EmulatedBusProvider(self)

    def open_resources(self) -> dict[str, int]:
        """Return what is open right now, for leak checks."""
        return {
            "i2c": self.i2c.open_handles,
            "gpio_chip": self.gpio.open_handles,
            "gpio_lines": len(self.gpio.claimed()),
            "serial": sum(1 for port in self.serial_ports if port.is_open),
            "spi": sum(1 for port in self.spi_ports if not port.closed),
            "audio": self.microphone.open_streams,
        }


class EmulatedBusProvider:
    """The ``BusProvider`` of an :class:`EmulatedBoard`."""

    def __init__(self, board: EmulatedBoard) -> None:
        """Serve ``board``'s buses."""
        self._board = board

    @property
    def simulated(self) -> bool:
        """Tell that this is an emulator."""
        return True

    def _status(self, device: BusDevice, path: str) -> DeviceStatus:
        status = self._board.device_faults.status.get(device, DeviceStatus.OK)
        if device is BusDevice.UART and path not in UART_PATHS:
            return DeviceStatus.NOT_PRESENT
        if device is BusDevice.GPIO and self._header_offsets() is None:
            return DeviceStatus.NOT_PRESENT
        # An ALSA hw capture device has one reader: open, it is busy for everyone.
        if device is BusDevice.AUDIO and self._board.microphone.open_streams:
            return DeviceStatus.BUSY
        return status

    def _header_offsets(self) -> dict[str, int] | None:
        """Find the board's lines on the chip as the Linux provider would."""
        chip = self._board.gpio
        return header_offsets(chip.label, chip.line_names)

    def _check(self, device: BusDevice, path: str) -> None:
        status = self._status(device, path)
        if status is DeviceStatus.OK:
            return
        err, exc = _DEVICE_ERRORS.get(status, (errno.EIO, OSError))
        raise exc(err, os.strerror(err), path)

    def probe(self, uart_path: str) -> list[DeviceProbe]:
        """Report every bus device, honouring injected device faults."""
        probes = []
        for device, path in (
            (BusDevice.I2C, I2C_PATH),
            (BusDevice.SPI, SPI_PATH),
            (BusDevice.UART, uart_path),
            (BusDevice.GPIO, GPIO_PATH),
            (BusDevice.AUDIO, AUDIO_DEVICE),
        ):
            status = self._status(device, path)
            detail = "" if status is DeviceStatus.OK else f"{path}: {status.value} (simulated)"
            probes.append(DeviceProbe(device, path, status, detail))
        return probes

    def open_i2c(self) -> EmulatedI2CHandle:
        """Open the emulated I2C bus 1."""
        self._check(BusDevice.I2C, I2C_PATH)
        return EmulatedI2CHandle(self._board.i2c)

    def open_serial(self, path: str, baudrate: int, timeout: float) -> EmulatedSerialPort:
        """Open the PMS5003's UART."""
        self._check(BusDevice.UART, path)
        port = self._board.pms.open_port(timeout)
        ports = self._board.serial_ports
        ports[:] = [p for p in ports if p.is_open]
        ports.append(port)
        return port

    def open_spi(self) -> EmulatedSPIPort:
        """Open SPI0 CE1, the LCD."""
        self._check(BusDevice.SPI, SPI_PATH)
        board = self._board
        port = EmulatedSPIPort(board.lcd, pace=board.pace)
        port.inject_error(board.device_faults.spi_errors)
        board.spi_ports[:] = [p for p in board.spi_ports if not p.closed]
        board.spi_ports.append(port)
        return port

    def open_audio(self) -> EmulatedCapture:
        """Open the microphone's capture stream (real-time paced)."""
        self._check(BusDevice.AUDIO, AUDIO_DEVICE)
        return EmulatedCapture(self._board.microphone)

    def open_gpio(self) -> EmulatedGPIOHandle:
        """Open the GPIO chip, with the board's lines found by the kernel's names."""
        self._check(BusDevice.GPIO, GPIO_PATH)
        offsets = self._header_offsets()
        if offsets is None:  # _check already refused: kept for the type checker
            raise FileNotFoundError(errno.ENOENT, "no GPIO chip carries the Enviro's lines")
        return self._board.gpio.opened(offsets)

    def serial_console_on(self, uart_path: str) -> bool:
        """Tell whether the (simulated) kernel console holds the UART."""
        return self._board.device_faults.serial_console

    def board_identity(self) -> str:
        """Return the simulated Pi's serial number."""
        return self._board.identity

    def cpu_temperature(self) -> float | None:
        """Return the simulated SoC temperature."""
        return self._board.env.values().cpu_temperature

    def monotonic(self) -> float:
        """Return the emulated PMS5003's time (its UART's timeouts run on it)."""
        return self._board.pms.now()


def create_simulated(
    variant: Variant = Variant.ENVIRO_PLUS,
    *,
    seed: int = 0,
    pace: bool = False,
    frame_interval: float | None = None,
    adc: Literal["ads1015", "ads1115"] = "ads1015",
    power_up_delay: float | None = None,
    stabilisation_time: float | None = None,
    adc_rate_error: float = 0.0,
    gpio_naming: str = DEFAULT_NAMING,
    pms_speed: float = 1.0,
) -> EmulatedBoard:
    """Build an emulated board.

    ``seed`` fixes the simulated air; ``pace`` makes the I2C bus take 100 kHz time and
    SPI 10 MHz time. The PMS5003: ``frame_interval`` is its frame period (by default the
    manual's 2.3 s; tests use about 0.05 s), ``power_up_delay`` its silence after
    wake-up (two intervals by default), ``stabilisation_time`` how long after wake-up its
    values are still the fan's unstable ones (by default the manual's 30 s, or none when
    ``frame_interval`` is given), ``pms_speed`` how much faster than real time its
    clock runs (tests of those timings speed it up; the board measures the sensor's
    warm-up on it, through ``EmulatedBusProvider.monotonic``). ``adc``
    picks the Enviro+'s ADC and ``adc_rate_error`` how far its data rate is off (TI
    allows ±10 %: +0.1 converts 10 % fast). ``gpio_naming`` picks how the kernel names
    the GPIO lines (a key of ``gpio.KERNEL_NAMINGS``: "pi4", "pi4-legacy", "pi3",
    "pi3-legacy", "pi3-unnamed", "pi5", "pi5-launch").
    """
    return EmulatedBoard(
        variant,
        seed=seed,
        pace=pace,
        frame_interval=frame_interval,
        power_up_delay=power_up_delay,
        stabilisation_time=stabilisation_time,
        adc=adc,
        adc_rate_error=adc_rate_error,
        gpio_naming=gpio_naming,
        pms_speed=pms_speed,
    )


__all__ = [
    "EmulatedBoard",
    "EmulatedBusProvider",
    "Faults",
    "FrameFault",
    "create_simulated",
]
