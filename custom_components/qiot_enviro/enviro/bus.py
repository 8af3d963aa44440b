"""The seam between the board logic and the buses.

Everything that touches a device node goes through a :class:`BusProvider`. The
real provider (``linux.py``) opens ``/dev/i2c-1``, ``/dev/spidev0.1``, the UART, the
GPIO chip and the microphone's ALSA device; the emulated provider (``emulator/``)
answers the same calls from register maps and a simulated room, so the real vendor
drivers and our own board code run unchanged in tests and in the simulated board.
"""

from collections.abc import Sequence
from typing import Protocol

from .models import DeviceProbe
from .noise import AudioCapture

# Pins of the Enviro+ on the Raspberry Pi header, by line name.
LINE_LCD_DC = "GPIO9"
LINE_LCD_BACKLIGHT = "GPIO12"
LINE_PMS_ENABLE = "GPIO22"
LINE_PMS_RESET = "GPIO27"
LINE_GAS_HEATER = "GPIO24"
BOARD_LINES = (
    LINE_LCD_DC,
    LINE_LCD_BACKLIGHT,
    LINE_PMS_ENABLE,
    LINE_PMS_RESET,
    LINE_GAS_HEATER,
)

I2C_BUS = 1
ADDR_BME280 = 0x76
ADDR_LTR559 = 0x23
ADDR_ADS1015 = 0x49
DEFAULT_UART = "/dev/ttyAMA0"
SPI_BUS = 0
SPI_CHIP_SELECT = 1
SPI_SPEED_HZ = 10_000_000


class I2CBus(Protocol):
    """The subset of ``smbus2.SMBus`` that ``i2cdevice`` and our probes use."""

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read ``length`` bytes starting at ``register``."""

    def write_i2c_block_data(
        self,
        i2c_addr: int,
        register: int,
        data: Sequence[int],
        force: bool | None = None,
    ) -> None:
        """Write ``data`` starting at ``register``."""

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read one byte from ``register``."""

    def close(self) -> None:
        """Close the bus file descriptor."""


class SerialPort(Protocol):
    """The subset of ``serial.Serial`` that the ``pms5003`` driver uses."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes:
        """Read up to ``size`` bytes, fewer on timeout."""

    def write(self, data: bytes) -> int | None:
        """Write bytes to the port."""

    def flushInput(self) -> None:  # noqa: N802 - pyserial's name, used by the driver
        """Discard buffered input."""

    def reset_input_buffer(self) -> None:
        """Discard buffered input."""

    def cancel_read(self) -> None:
        """Make a blocked ``read`` return at once (used to stop the reader)."""

    def close(self) -> None:
        """Close the port."""


class SPIPort(Protocol):
    """A write-only SPI device (the LCD never answers)."""

    max_speed_hz: int

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send bytes with chip select held for the whole transfer."""

    def close(self) -> None:
        """Close the device."""


class LineRequest(Protocol):
    """Claimed GPIO lines; the same calls as ``gpiod.LineRequest``.

    Instances are handed to vendor drivers as ``(request, offset)`` tuples, which
    ``gpiodevice.get_pin`` passes through unchanged.
    """

    def set_value(self, offset: int, value: object) -> None:
        """Drive an output line (``gpiod.line.Value``)."""

    def get_value(self, offset: int) -> object:
        """Read a line (``gpiod.line.Value``)."""

    def release(self) -> None:
        """Give the lines back to the kernel."""


class GPIOChip(Protocol):
    """A GPIO chip found by its line names."""

    path: str

    def line_offset(self, name: str) -> int:
        """Return the offset of one of the board's lines, named as current kernels name it.

        ``GPIO22`` is found whatever this kernel calls the line (see ``gpio_lines``);
        raise ``OSError`` for a line the board does not use.
        """

    def request_outputs(self, consumer: str, lines: dict[str, bool]) -> LineRequest:
        """Claim named lines as outputs with initial levels; ``OSError(EBUSY)`` if claimed."""

    def close(self) -> None:
        """Close the chip's file descriptor."""


class BusProvider(Protocol):
    """Opens and probes the board's device nodes."""

    @property
    def simulated(self) -> bool:
        """Tell whether this provider is an emulator."""

    def probe(self, uart_path: str) -> list[DeviceProbe]:
        """Probe I2C, SPI, the UART, the GPIO chip and the microphone, each on its own."""

    def open_i2c(self) -> I2CBus:
        """Open I2C bus 1."""

    def open_serial(self, path: str, baudrate: int, timeout: float) -> SerialPort:
        """Open the PMS5003's UART."""

    def open_spi(self) -> SPIPort:
        """Open SPI0 chip-select 1 (the LCD)."""

    def open_gpio(self) -> GPIOChip:
        """Open the GPIO chip that carries the board's lines (found by line names)."""

    def open_audio(self) -> AudioCapture:
        """Open the microphone's capture stream (S32_LE, interleaved stereo)."""

    def serial_console_on(self, uart_path: str) -> bool:
        """Tell whether a kernel serial console holds the UART."""

    def board_identity(self) -> str:
        """Return a stable identity for this machine (the Pi's serial number)."""

    def cpu_temperature(self) -> float | None:
        """Return the CPU temperature in °C, or ``None`` if unknown."""

    def monotonic(self) -> float:
        """Return the monotonic time the devices run on, in seconds.

        The UART's read timeouts are measured on it, so the particulate sensor's warm-up
        and staleness are too: ``time.monotonic`` on a Pi; on the emulator its sensor's
        clock, which tests may run faster than real time.
        """
