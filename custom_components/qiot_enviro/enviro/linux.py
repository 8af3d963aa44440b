"""The Raspberry Pi's buses: ``/dev/i2c-1``, ``/dev/spidev0.1``, the UART and GPIO.

Kept thin on purpose: the board logic lives in ``board.py`` and runs against the
emulator in tests. What is here and testable without a Pi is the probing, which works
on paths (``dev``, ``proc``, ``sys``, ``etc`` roots can point at a temporary tree):
each device node is opened on its own and the errno tells a user what to fix. The GPIO
chip is found by ``gpio_lines.choose_header_chip`` from each chip's label and line
names, which differ between the kernels a Pi has shipped.
"""

import errno
import os
import re
import time
from pathlib import Path
from typing import Any, cast

import gpiod
import serial
import smbus2
from gpiod.line import Direction, Value

from .alsa import DEFAULT_DEVICE as DEFAULT_AUDIO_DEVICE
from .alsa import AlsaCapture, probe_capture
from .bus import (
    BOARD_LINES,
    I2C_BUS,
    SPI_BUS,
    SPI_CHIP_SELECT,
    SPI_SPEED_HZ,
    GPIOChip,
    I2CBus,
    LineRequest,
    SerialPort,
    SPIPort,
)
from .gpio_lines import ChipLines, choose_header_chip
from .models import BusDevice, DeviceProbe, DeviceStatus, status_for_errno
from .noise import CHANNELS, SAMPLE_RATE
from .spi import SpiDevTransport

# Our own GPIO consumers start with this; anyone else holding a line makes it busy.
OWN_CONSUMER_PREFIX = "qiot_enviro"

_HINTS = {
    BusDevice.I2C: "enable I2C (dtparam=i2c_arm=on) and load i2c-dev",
    BusDevice.SPI: "enable SPI (dtparam=spi=on)",
    BusDevice.UART: "enable the UART (enable_uart=1 / dtparam=uart0=on)",
    BusDevice.GPIO: "no GPIO chip carries the Enviro's lines",
}


def probe_node(device: BusDevice, path: str) -> DeviceProbe:
    """Open a device node read-write without side effects and report the outcome."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        status = status_for_errno(err.errno)
        detail = f"{path}: {err.strerror or err}"
        if status is DeviceStatus.NOT_PRESENT:
            detail = f"{detail}; {_HINTS[device]}"
        return DeviceProbe(device, path, status, detail)
    os.close(fd)
    return DeviceProbe(device, path, DeviceStatus.OK)


def console_devices(cmdline: str) -> set[str]:
    """Return the device names of ``console=`` arguments (``ttyAMA0``, ``serial0``)."""
    return {match.split(",")[0] for match in re.findall(r"(?:^|\s)console=(\S+)", cmdline)}


class GpiodChip:
    """A ``gpiod.Chip`` behind the ``GPIOChip`` protocol.

    The board names its lines as the current kernels do (``GPIO9``); ``offsets`` maps
    those names to the offsets this chip has them at, whatever the kernel calls them.
    """

    def __init__(self, path: str, offsets: dict[str, int]) -> None:
        """Open the chip."""
        self.path = path
        self._offsets = dict(offsets)
        self._chip = gpiod.Chip(path)

    def line_offset(self, name: str) -> int:
        """Return the offset of one of the board's lines; ``OSError`` for another name."""
        try:
            return self._offsets[name]
        except KeyError:
            raise OSError(errno.ENOENT, f"line {name} is not one of the board's lines") from None

    def request_outputs(self, consumer: str, lines: dict[str, bool]) -> LineRequest:
        """Claim named lines as outputs at the given levels (``OSError`` EBUSY if held)."""
        config: dict[Any, gpiod.LineSettings | None] = {
            self.line_offset(name): gpiod.LineSettings(
                direction=Direction.OUTPUT,
                output_value=Value.ACTIVE if level else Value.INACTIVE,
            )
            for name, level in lines.items()
        }
        return cast(LineRequest, self._chip.request_lines(config=config, consumer=consumer))

    def foreign_claims(self, names: tuple[str, ...]) -> dict[str, str]:
        """Return the named lines held by other programs, with their consumers."""
        claims: dict[str, str] = {}
        for name in names:
            info = self._chip.get_line_info(self.line_offset(name))
            if info.used and not (info.consumer or "").startswith(OWN_CONSUMER_PREFIX):
                claims[name] = info.consumer or "unknown"
        return claims

    def close(self) -> None:
        """Close the chip's file descriptor."""
        self._chip.close()


def read_chip_lines(path: str) -> ChipLines:
    """Return a chip's label and line names (``OSError`` if it cannot be opened)."""
    with gpiod.Chip(path) as chip:
        info = chip.get_info()
        names = tuple(chip.get_line_info(offset).name or "" for offset in range(info.num_lines))
        return ChipLines(path, info.label, names)


class LinuxBusProvider:
    """Opens and probes the Pi's device nodes."""

    def __init__(
        self,
        *,
        dev: str = "/dev",
        proc: str = "/proc",
        sys: str = "/sys",
        etc: str = "/etc",
        audio_device: str = DEFAULT_AUDIO_DEVICE,
    ) -> None:
        """Use the given filesystem roots (tests point them at a temporary tree).

        ``audio_device``: the microphone's ALSA capture device name.
        """
        self._dev = Path(dev)
        self._proc = Path(proc)
        self._sys = Path(sys)
        self._etc = Path(etc)
        self.i2c_path = str(self._dev / f"i2c-{I2C_BUS}")
        self.spi_path = str(self._dev / f"spidev{SPI_BUS}.{SPI_CHIP_SELECT}")
        self.audio_device = audio_device

    @property
    def simulated(self) -> bool:
        """Tell that these are real buses."""
        return False

    # -- probing ---------------------------------------------------------------------

    def probe(self, uart_path: str) -> list[DeviceProbe]:
        """Probe I2C, SPI, the UART, the GPIO chip and the microphone, each on its own."""
        return [
            probe_node(BusDevice.I2C, self.i2c_path),
            probe_node(BusDevice.SPI, self.spi_path),
            probe_node(BusDevice.UART, uart_path),
            self.probe_gpio(),
            probe_capture(self.audio_device),
        ]

    def _gpio_chips(self) -> tuple[list[ChipLines], list[str]]:
        """Return every GPIO chip's lines, and the chips that refused to open."""
        chips: list[ChipLines] = []
        denied: list[str] = []
        for path in sorted(self._dev.glob("gpiochip*")):
            if not gpiod.is_gpiochip_device(str(path)):
                continue
            try:
                chips.append(read_chip_lines(str(path)))
            except PermissionError:
                denied.append(str(path))
            except OSError:
                continue
        return chips, denied

    def find_gpio_chip(self) -> tuple[str, dict[str, int]] | None:
        """Return the chip with the header's lines and the board's offsets on it."""
        found = choose_header_chip(self._gpio_chips()[0])
        if found is None:
            return None
        chip, offsets = found
        return chip.path, offsets

    def gpio_chip_path(self) -> str | None:
        """Return the GPIO chip that carries every line the board uses."""
        found = self.find_gpio_chip()
        return found[0] if found else None

    def probe_gpio(self) -> DeviceProbe:
        """Find the header's chip; report foreign claims on our lines as busy."""
        chips, denied = self._gpio_chips()
        found = choose_header_chip(chips)
        if found is not None:
            chip_lines, offsets = found
            try:
                chip = GpiodChip(chip_lines.path, offsets)
                try:
                    claims = chip.foreign_claims(BOARD_LINES)
                finally:
                    chip.close()
            except OSError as err:
                status = status_for_errno(err.errno)
                return DeviceProbe(BusDevice.GPIO, chip_lines.path, status, str(err))
            if claims:
                held = ", ".join(f"{line} by {who}" for line, who in claims.items())
                return DeviceProbe(
                    BusDevice.GPIO, chip_lines.path, DeviceStatus.BUSY, f"held: {held}"
                )
            return DeviceProbe(BusDevice.GPIO, chip_lines.path, DeviceStatus.OK)
        if denied:
            return DeviceProbe(
                BusDevice.GPIO, denied[0], DeviceStatus.PERMISSION_DENIED, "permission denied"
            )
        return DeviceProbe(
            BusDevice.GPIO,
            str(self._dev / "gpiochip0"),
            DeviceStatus.NOT_PRESENT,
            _HINTS[BusDevice.GPIO],
        )

    def serial_console_on(self, uart_path: str) -> bool:
        """Tell whether the kernel command line puts a console on this UART."""
        try:
            cmdline = (self._proc / "cmdline").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        consoles = console_devices(cmdline)
        names = {Path(uart_path).name}
        # /dev/serial0 is a symlink to the UART on the header (ttyAMA0 or ttyS0).
        for alias in ("serial0", "serial1"):
            target = self._dev / alias
            if target.is_symlink() and target.resolve().name in names:
                names.add(alias)
        if Path(uart_path).name.startswith("serial"):
            names.add(Path(uart_path).resolve().name)
        return bool(consoles & names)

    # -- identity and temperature ----------------------------------------------------

    def board_identity(self) -> str:
        """Return the Pi's serial number, or the machine id where there is none."""
        try:
            serial_number = (self._proc / "device-tree" / "serial-number").read_bytes()
            if value := serial_number.rstrip(b"\x00\n").decode("ascii", "replace").strip():
                return value
        except OSError:
            pass
        try:
            cpuinfo = (self._proc / "cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
        if match := re.search(r"^Serial\s*:\s*([0-9a-fA-F]+)\s*$", cpuinfo, re.MULTILINE):
            return match.group(1)
        try:
            return (self._etc / "machine-id").read_text(encoding="ascii").strip()
        except OSError:
            return "unknown"

    def monotonic(self) -> float:
        """Return the system's monotonic time (the UART's timeouts run on it)."""
        return time.monotonic()

    def cpu_temperature(self) -> float | None:
        """Return the SoC temperature in °C from the first thermal zone."""
        try:
            raw = (self._sys / "class" / "thermal" / "thermal_zone0" / "temp").read_text()
            return int(raw.strip()) / 1000.0
        except (OSError, ValueError):
            return None

    # -- opening ---------------------------------------------------------------------

    def open_i2c(self) -> I2CBus:
        """Open I2C bus 1."""
        return cast(I2CBus, smbus2.SMBus(self.i2c_path))

    def open_serial(self, path: str, baudrate: int, timeout: float) -> SerialPort:
        """Open the PMS5003's UART."""
        return cast(SerialPort, serial.Serial(path, baudrate=baudrate, timeout=timeout))

    def open_spi(self) -> SPIPort:
        """Open SPI0 chip-select 1 (the LCD)."""
        return SpiDevTransport(
            bus=SPI_BUS, device=SPI_CHIP_SELECT, speed_hz=SPI_SPEED_HZ, path=self.spi_path
        )

    def open_audio(self) -> AlsaCapture:
        """Open the microphone's capture device (OSError with the errno on failure)."""
        return AlsaCapture(self.audio_device, rate=SAMPLE_RATE, channels=CHANNELS)

    def open_gpio(self) -> GPIOChip:
        """Open the GPIO chip that carries the board's lines."""
        found = self.find_gpio_chip()
        if found is None:
            raise FileNotFoundError(errno.ENOENT, _HINTS[BusDevice.GPIO], str(self._dev))
        return GpiodChip(*found)
