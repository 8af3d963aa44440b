"""The spidev transport's remaining error paths: what a user is told when SPI fails."""

import errno
import os
from pathlib import Path

import pytest

from custom_components.qiot_enviro.enviro import spi
from custom_components.qiot_enviro.enviro.spi import SPI_IOC_WR_MODE, SpiDevTransport, ioc_write

from .test_spi import FakeSpidevKernel


def test_ioctl_size_must_fit_its_field() -> None:
    """An argument larger than the 14-bit size field cannot be encoded."""
    assert ioc_write(0, (1 << 14) - 1) >> 16 & 0x3FFF == (1 << 14) - 1

    with pytest.raises(ValueError, match="16384 bytes does not fit"):
        ioc_write(0, 1 << 14)


def test_permission_denied_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """No access to the node: the error names the spi group (tests may run as root)."""

    def denied(path: str, flags: int) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(spi.os, "open", denied)

    with pytest.raises(PermissionError, match=r"no permission to open .*spidev0\.1.*'spi' group"):
        SpiDevTransport(path="/dev/spidev0.1")


class FailingConfigKernel(FakeSpidevKernel):
    """A spidev that refuses the mode ioctl with a given errno."""

    def __init__(self, err: int) -> None:
        """Fail SPI_IOC_WR_MODE with ``err``."""
        super().__init__(bufsiz=4096)
        self.err = err

    def ioctl(self, fd: int, request: int, arg: bytes) -> bytes:
        """Refuse the mode, accept the rest."""
        if request == SPI_IOC_WR_MODE:
            raise OSError(self.err, os.strerror(self.err))
        return super().ioctl(fd, request, arg)


def test_configuration_failure_is_reported_and_closed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A driver error while configuring says which node and why, and leaks no descriptor."""
    node = tmp_path / "spidev0.1"
    node.write_bytes(b"")
    monkeypatch.setattr(spi.fcntl, "ioctl", FailingConfigKernel(errno.EIO).ioctl)
    open_before = len(list(Path("/proc/self/fd").iterdir()))

    with pytest.raises(
        OSError, match=r"cannot configure .*spidev0\.1: Input/output error"
    ) as caught:
        SpiDevTransport(path=str(node))

    assert caught.value.errno == errno.EIO
    assert len(list(Path("/proc/self/fd").iterdir())) == open_before
