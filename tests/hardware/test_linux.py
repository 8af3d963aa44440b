"""Probing the Pi's device nodes, on a temporary tree of paths."""

import errno
import os
from pathlib import Path

import pytest

from custom_components.qiot_enviro.hardware.emulator.environment import Environment
from custom_components.qiot_enviro.hardware.emulator.pms5003 import encode_frame
from custom_components.qiot_enviro.hardware.linux import LinuxBusProvider, status_for_errno
from custom_components.qiot_enviro.hardware.models import BusDevice, DeviceStatus


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Return a tree with dev, proc, sys and etc folders."""
    for folder in ("dev", "proc", "sys", "etc"):
        (tmp_path / folder).mkdir()
    return tmp_path


def provider_at(root: Path) -> LinuxBusProvider:
    """Return a provider looking at the tree instead of the machine."""
    return LinuxBusProvider(
        dev=str(root / "dev"), proc=str(root / "proc"), sys=str(root / "sys"), etc=str(root / "etc")
    )


def test_probe_reports_each_device_on_its_own(root: Path) -> None:
    """A present I2C node is OK while SPI, the UART and the GPIO chip are missing."""
    (root / "dev" / "i2c-1").write_bytes(b"")

    probes = {p.device: p for p in provider_at(root).probe(str(root / "dev" / "ttyAMA0"))}

    assert probes[BusDevice.I2C].status is DeviceStatus.OK
    assert probes[BusDevice.SPI].status is DeviceStatus.NOT_PRESENT
    assert "dtparam=spi=on" in probes[BusDevice.SPI].detail
    assert probes[BusDevice.UART].status is DeviceStatus.NOT_PRESENT
    assert probes[BusDevice.UART].path.endswith("ttyAMA0")
    assert probes[BusDevice.GPIO].status is DeviceStatus.NOT_PRESENT


def test_probe_of_something_that_is_no_device(root: Path) -> None:
    """A path that cannot be opened read-write for another reason is an error."""
    (root / "dev" / "ttyAMA0").mkdir()

    probes = {p.device: p for p in provider_at(root).probe(str(root / "dev" / "ttyAMA0"))}

    assert probes[BusDevice.UART].status is DeviceStatus.ERROR


@pytest.mark.parametrize(
    ("err", "status"),
    [
        (errno.ENOENT, DeviceStatus.NOT_PRESENT),
        (errno.ENODEV, DeviceStatus.NOT_PRESENT),
        (errno.ENXIO, DeviceStatus.NOT_PRESENT),
        (errno.EACCES, DeviceStatus.PERMISSION_DENIED),
        (errno.EPERM, DeviceStatus.PERMISSION_DENIED),
        (errno.EBUSY, DeviceStatus.BUSY),
        (errno.EIO, DeviceStatus.ERROR),
    ],
)
def test_errno_to_status(err: int, status: DeviceStatus) -> None:
    """Each errno of opening a node maps to what a user can do about it."""
    assert status_for_errno(err) is status


@pytest.mark.parametrize(
    ("cmdline", "uart", "console"),
    [
        ("console=serial0,115200 console=tty1 root=/dev/mmcblk0p2", "ttyAMA0", True),
        ("console=ttyAMA0,115200 console=tty1", "ttyAMA0", True),
        ("console=tty1 root=/dev/mmcblk0p2", "ttyAMA0", False),
        ("console=ttyS0,115200", "ttyAMA0", False),
    ],
)
def test_serial_console(root: Path, cmdline: str, uart: str, console: bool) -> None:
    """A console on the UART, directly or through the serial0 alias, is detected."""
    (root / "proc" / "cmdline").write_text(cmdline)
    (root / "dev" / "serial0").symlink_to("ttyAMA0")

    assert provider_at(root).serial_console_on(str(root / "dev" / uart)) is console


@pytest.mark.parametrize(
    ("files", "identity"),
    [
        (
            {"proc/device-tree/serial-number": "10000000abcdef01\x00", "etc/machine-id": "m"},
            "10000000abcdef01",
        ),
        (
            {"proc/cpuinfo": "Hardware\t: BCM2835\nSerial\t\t: 00000000deadbeef\n"},
            "00000000deadbeef",
        ),
        ({"proc/cpuinfo": "model name : x86\n", "etc/machine-id": "4f2c\n"}, "4f2c"),
        ({}, "unknown"),
    ],
)
def test_identity(root: Path, files: dict[str, str], identity: str) -> None:
    """The Pi's serial number wins; the machine id is the fallback."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    assert provider_at(root).board_identity() == identity


@pytest.mark.parametrize(("text", "celsius"), [("48312\n", 48.312), ("garbage", None)])
def test_cpu_temperature(root: Path, text: str, celsius: float | None) -> None:
    """The SoC temperature comes from thermal zone 0 in millidegrees."""
    zone = root / "sys" / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text(text)

    assert provider_at(root).cpu_temperature() == celsius


def test_cpu_temperature_without_thermal_zone(root: Path) -> None:
    """No thermal zone: no CPU temperature."""
    assert provider_at(root).cpu_temperature() is None


def test_open_gpio_without_chip(root: Path) -> None:
    """Without a GPIO chip carrying the board's lines, opening it says so."""
    with pytest.raises(FileNotFoundError, match="GPIO"):
        provider_at(root).open_gpio()


def test_opening_missing_devices_fails_clearly(root: Path) -> None:
    """Without the device nodes each open raises an OSError naming what is missing."""
    provider = provider_at(root)
    (root / "dev" / "gpiochip0").write_bytes(b"")  # not a character device: not a chip
    with pytest.raises(FileNotFoundError):
        provider.open_i2c()
    with pytest.raises(FileNotFoundError, match="spi"):
        provider.open_spi()
    with pytest.raises(FileNotFoundError) as err:
        provider.open_gpio()
    assert err.value.errno == errno.ENOENT
    assert provider.gpio_chip_path() is None


def test_serial_port_on_a_pseudo_terminal(root: Path) -> None:
    """The UART opens through pyserial: a PMS5003 frame written to the line reads back."""
    controller, line = os.openpty()
    try:
        port = provider_at(root).open_serial(os.ttyname(line), 9600, 1.0)
        try:
            frame = encode_frame(Environment(3).simulate(0.0))
            os.write(controller, frame)
            assert port.read(len(frame)) == frame
        finally:
            port.close()
    finally:
        os.close(controller)
        os.close(line)
