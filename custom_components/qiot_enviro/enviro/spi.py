"""SPI through the kernel's spidev driver, in pure Python.

The ``spidev`` package has no wheels and Home Assistant's image has no compiler, so the
LCD is driven with ``os.open`` and ``fcntl.ioctl`` on ``/dev/spidevB.D`` directly. The
ioctl numbers and the ``struct spi_ioc_transfer`` layout come from
``include/uapi/linux/spi/spidev.h``; they are built by pure functions so that tests can
check them on machines without an SPI bus.
"""

import ctypes
import errno
import fcntl
import os
import struct
from pathlib import Path

# include/uapi/asm-generic/ioctl.h: direction in bits 30-31, size in 16-29, type, number.
_IOC_WRITE = 1
_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = 8
_IOC_SIZESHIFT = 16
_IOC_DIRSHIFT = 30
_IOC_SIZEMASK = (1 << 14) - 1
SPI_IOC_MAGIC = ord("k")

# struct spi_ioc_transfer: u64 tx_buf, u64 rx_buf, u32 len, u32 speed_hz,
# u16 delay_usecs, u8 bits_per_word, u8 cs_change, u8 tx_nbits, u8 rx_nbits,
# u8 word_delay_usecs, u8 pad. Native byte order: the kernel reads it as a C struct.
_TRANSFER = struct.Struct("@QQIIHBBBBBB")
TRANSFER_SIZE = 32

BUFSIZ_PATH = Path("/sys/module/spidev/parameters/bufsiz")
DEFAULT_BUFSIZ = 4096


def ioc_write(number: int, size: int) -> int:
    """Return the request number of ``_IOW(SPI_IOC_MAGIC, number, <size bytes>)``."""
    if not 0 <= size <= _IOC_SIZEMASK:
        raise ValueError(f"ioctl argument of {size} bytes does not fit the size field")
    return (
        (_IOC_WRITE << _IOC_DIRSHIFT)
        | (size << _IOC_SIZESHIFT)
        | (SPI_IOC_MAGIC << _IOC_TYPESHIFT)
        | (number << _IOC_NRSHIFT)
    )


def spi_ioc_message(count: int) -> int:
    """Return ``SPI_IOC_MESSAGE(count)``: ``count`` transfers in one chip-select frame."""
    return ioc_write(0, count * TRANSFER_SIZE)


SPI_IOC_WR_MODE = ioc_write(1, 1)
SPI_IOC_WR_BITS_PER_WORD = ioc_write(3, 1)
SPI_IOC_WR_MAX_SPEED_HZ = ioc_write(4, 4)


def pack_transfer(tx_address: int, length: int, speed_hz: int, bits_per_word: int = 8) -> bytes:
    """Return one ``struct spi_ioc_transfer`` that sends ``length`` bytes, receives none."""
    return _TRANSFER.pack(tx_address, 0, length, speed_hz, 0, bits_per_word, 0, 0, 0, 0, 0)


def read_bufsiz(path: Path = BUFSIZ_PATH) -> int:
    """Return the largest transfer spidev accepts (module parameter ``bufsiz``)."""
    try:
        value = int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return DEFAULT_BUFSIZ
    return value if value > 0 else DEFAULT_BUFSIZ


class SpiDevTransport:
    """A write-only SPI device on ``/dev/spidev<bus>.<device>`` (an ``SPIPort``)."""

    def __init__(
        self,
        bus: int = 0,
        device: int = 1,
        speed_hz: int = 10_000_000,
        mode: int = 0,
        *,
        path: str | None = None,
        bufsiz: int | None = None,
    ) -> None:
        """Open the device and set mode, word size and clock.

        ``path`` overrides ``/dev/spidev<bus>.<device>``; ``bufsiz`` overrides the
        kernel's transfer limit read from sysfs.
        """
        self.path = path or f"/dev/spidev{bus}.{device}"
        self.max_speed_hz = speed_hz
        self.bufsiz = bufsiz or read_bufsiz()
        self._buffer = ctypes.create_string_buffer(self.bufsiz)
        self._address = ctypes.addressof(self._buffer)
        # The kernel reads tx_buf by address, so the bytes must sit in memory we own
        # for the whole ioctl; one preallocated buffer avoids an allocation per chunk.
        self._staging = memoryview(self._buffer).cast("B")
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                err.errno,
                f"{self.path} does not exist: enable SPI on the Pi (dtparam=spi=on in "
                "config.txt) and check that the LCD's chip select is CE1",
                self.path,
            ) from err
        except PermissionError as err:
            raise PermissionError(
                err.errno,
                f"no permission to open {self.path}: add the user to the 'spi' group "
                "or pass the device to the container",
                self.path,
            ) from err
        try:
            self._configure(mode, speed_hz)
        except OSError:
            self.close()
            raise

    def _configure(self, mode: int, speed_hz: int) -> None:
        """Set SPI mode, 8-bit words and the maximum clock."""
        assert self._fd is not None
        try:
            fcntl.ioctl(self._fd, SPI_IOC_WR_MODE, struct.pack("=B", mode))
            fcntl.ioctl(self._fd, SPI_IOC_WR_BITS_PER_WORD, struct.pack("=B", 8))
            fcntl.ioctl(self._fd, SPI_IOC_WR_MAX_SPEED_HZ, struct.pack("=I", speed_hz))
        except OSError as err:
            if err.errno in (errno.ENOTTY, errno.EINVAL):
                raise OSError(err.errno, f"{self.path} is not an SPI device", self.path) from err
            raise OSError(err.errno, f"cannot configure {self.path}: {err.strerror}") from err

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data``, split into transfers of at most ``bufsiz`` bytes.

        Chip select is released between chunks; the ST7735 keeps its RAMWR address
        counter across that, as with the vendor driver's ``xfer3``.
        """
        fd = self._fd
        if fd is None:
            raise OSError(errno.EBADF, f"{self.path} is closed")
        view = memoryview(data).cast("B")
        for start in range(0, len(view), self.bufsiz):
            chunk = view[start : start + self.bufsiz]
            self._staging[: len(chunk)] = chunk
            message = pack_transfer(self._address, len(chunk), self.max_speed_hz)
            try:
                fcntl.ioctl(fd, spi_ioc_message(1), message)
            except OSError as err:
                raise OSError(
                    err.errno,
                    f"SPI write of {len(chunk)} bytes to {self.path} failed: {err.strerror}",
                ) from err

    def close(self) -> None:
        """Close the device; a second close is harmless."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def closed(self) -> bool:
        """Tell whether the device is closed."""
        return self._fd is None
