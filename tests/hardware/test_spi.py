"""The pure-Python spidev transport, checked against the kernel's ABI.

There is no ``/dev/spidev`` here, so the kernel's side of ``ioctl`` is played by a small
fake that reads the transfer struct the way ``drivers/spi/spidev.c`` does.
"""

import ctypes
import errno
import fcntl
import os
import struct
from pathlib import Path

import pytest

from custom_components.qiot_enviro.enviro.spi import (
    SPI_IOC_WR_BITS_PER_WORD,
    SPI_IOC_WR_MAX_SPEED_HZ,
    SPI_IOC_WR_MODE,
    SpiDevTransport,
    pack_transfer,
    read_bufsiz,
    spi_ioc_message,
)


def test_ioctl_numbers_match_linux_headers() -> None:
    """The request numbers are the ones <linux/spi/spidev.h> defines."""
    assert spi_ioc_message(1) == 0x40206B00
    assert spi_ioc_message(2) == 0x40406B00
    assert SPI_IOC_WR_MAX_SPEED_HZ == 0x40046B04
    assert SPI_IOC_WR_MODE == 0x40016B01
    assert SPI_IOC_WR_BITS_PER_WORD == 0x40016B03


def test_transfer_struct_layout() -> None:
    """The spi_ioc_transfer struct is 32 bytes with the fields where the kernel reads them."""
    packed = pack_transfer(0x1122334455667788, 4096, 10_000_000)

    assert len(packed) == 32
    tx_buf, rx_buf, length, speed = struct.unpack_from("=QQII", packed)
    assert (tx_buf, rx_buf, length, speed) == (0x1122334455667788, 0, 4096, 10_000_000)
    delay, bits, cs_change = struct.unpack_from("=HBB", packed, 24)
    assert (delay, bits, cs_change) == (0, 8, 0)


def test_missing_device_says_how_to_fix_it(tmp_path: Path) -> None:
    """No device node: the error names the node and says to enable SPI."""
    with pytest.raises(FileNotFoundError, match=r"spidev9\.9 does not exist.*dtparam=spi=on"):
        SpiDevTransport(path=str(tmp_path / "spidev9.9"))


def test_default_path_is_the_lcd_chip_select() -> None:
    """Bus 0, device 1: the Enviro+ LCD sits on CE1."""
    if Path("/dev/spidev0.1").exists():
        pytest.skip("a real SPI device is present")
    with pytest.raises(FileNotFoundError, match=r"/dev/spidev0\.1"):
        SpiDevTransport()


def test_not_an_spi_device_is_reported_and_closed(tmp_path: Path) -> None:
    """A node that refuses the SPI ioctls is named as such and its descriptor is closed."""
    node = tmp_path / "not-spi"
    node.write_bytes(b"")
    open_before = len(list(Path("/proc/self/fd").iterdir()))

    with pytest.raises(OSError, match="is not an SPI device") as caught:
        SpiDevTransport(path=str(node))

    assert caught.value.errno == errno.ENOTTY
    assert len(list(Path("/proc/self/fd").iterdir())) == open_before


def test_bufsiz_from_sysfs(tmp_path: Path) -> None:
    """The transfer limit comes from the module parameter, 4096 when unreadable."""
    good = tmp_path / "bufsiz"
    good.write_text("65536\n")
    bad = tmp_path / "bad"
    bad.write_text("lots")

    assert read_bufsiz(good) == 65536
    assert read_bufsiz(bad) == 4096
    assert read_bufsiz(tmp_path / "absent") == 4096


class FakeSpidevKernel:
    """The kernel's spidev ioctls: configuration and SPI_IOC_MESSAGE(1)."""

    def __init__(self, bufsiz: int) -> None:
        """Accept transfers up to ``bufsiz`` bytes."""
        self.bufsiz = bufsiz
        self.mode: int | None = None
        self.bits: int | None = None
        self.max_speed: int | None = None
        self.transfers: list[tuple[bytes, int]] = []
        self.fail_with: int | None = None

    def ioctl(self, fd: int, request: int, arg: bytes) -> bytes:
        """Handle one ioctl like drivers/spi/spidev.c."""
        if request == SPI_IOC_WR_MODE:
            (self.mode,) = struct.unpack("=B", arg)
        elif request == SPI_IOC_WR_BITS_PER_WORD:
            (self.bits,) = struct.unpack("=B", arg)
        elif request == SPI_IOC_WR_MAX_SPEED_HZ:
            (self.max_speed,) = struct.unpack("=I", arg)
        elif request == spi_ioc_message(1):
            if self.fail_with is not None:
                raise OSError(self.fail_with, os.strerror(self.fail_with))
            tx_buf, _rx, length, speed = struct.unpack_from("=QQII", arg)
            if length > self.bufsiz:
                raise OSError(errno.EMSGSIZE, os.strerror(errno.EMSGSIZE))
            self.transfers.append((ctypes.string_at(tx_buf, length), speed))
        else:
            raise OSError(errno.ENOTTY, os.strerror(errno.ENOTTY))
        return arg


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeSpidevKernel:
    """Answer the transport's ioctls with a fake spidev."""
    fake = FakeSpidevKernel(bufsiz=4096)
    monkeypatch.setattr(fcntl, "ioctl", fake.ioctl)
    return fake


@pytest.fixture
def node(tmp_path: Path) -> str:
    """Return a file standing in for the device node (only open/close touch it)."""
    path = tmp_path / "spidev0.1"
    path.write_bytes(b"")
    return str(path)


def test_opening_configures_mode_bits_and_speed(kernel: FakeSpidevKernel, node: str) -> None:
    """Mode 0, 8-bit words and the requested clock are set on open."""
    port = SpiDevTransport(path=node, speed_hz=10_000_000, mode=0)
    port.close()

    assert (kernel.mode, kernel.bits, kernel.max_speed) == (0, 8, 10_000_000)


def test_large_write_is_split_at_bufsiz(kernel: FakeSpidevKernel, node: str) -> None:
    """A frame longer than bufsiz goes out in order, in transfers the kernel accepts."""
    port = SpiDevTransport(path=node, bufsiz=4096)
    frame = os.urandom(25_600)

    port.write(frame)
    port.close()

    assert [len(data) for data, _speed in kernel.transfers] == [4096] * 6 + [25_600 - 6 * 4096]
    assert b"".join(data for data, _speed in kernel.transfers) == frame
    assert {speed for _data, speed in kernel.transfers} == {10_000_000}


def test_failed_transfer_names_the_device(kernel: FakeSpidevKernel, node: str) -> None:
    """A kernel error comes back as an OSError that says what failed where."""
    port = SpiDevTransport(path=node)
    kernel.fail_with = errno.EIO

    with pytest.raises(OSError, match=r"SPI write of 3 bytes to .*spidev0\.1 failed") as caught:
        port.write(b"abc")
    port.close()

    assert caught.value.errno == errno.EIO


def test_write_after_close_raises(kernel: FakeSpidevKernel, node: str) -> None:
    """A closed transport refuses writes and a second close is harmless."""
    port = SpiDevTransport(path=node)
    port.close()
    port.close()

    with pytest.raises(OSError, match="closed") as caught:
        port.write(b"\x00")
    assert caught.value.errno == errno.EBADF
    assert port.closed
