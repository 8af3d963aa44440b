"""Probing the Pi's device nodes, on a temporary tree of paths.

The GPIO chips are the kernel's: ``gpiod`` is replaced by a fake that serves the chips
(labels and line names) of each kind of Pi and kernel.
"""

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import gpiod
import pytest
from gpiod.line import Value

from custom_components.qiot_enviro.enviro import linux
from custom_components.qiot_enviro.enviro.bus import (
    LINE_LCD_DC,
    LINE_PMS_ENABLE,
    LINE_PMS_RESET,
)
from custom_components.qiot_enviro.enviro.emulator.environment import Environment
from custom_components.qiot_enviro.enviro.emulator.gpio import KERNEL_NAMINGS
from custom_components.qiot_enviro.enviro.emulator.pms5003 import encode_frame
from custom_components.qiot_enviro.enviro.gpio_lines import LINE_BCM
from custom_components.qiot_enviro.enviro.linux import LinuxBusProvider, status_for_errno
from custom_components.qiot_enviro.enviro.models import BusDevice, DeviceStatus


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


# -- finding the GPIO chip on the kernels a Pi has shipped ------------------------------

# The Pi's other GPIO chips, from the same device trees: a Pi 4's firmware expander, the
# Pi 5's two BCM2712 banks ("-" for unused lines).
EXPANDER = ("raspberrypi-exp-gpio", ("BT_ON", "WL_ON", "PWR_LED_OFF", "GLOBAL_RESET", "VDD_SD_IO_SEL", "CAM_GPIO", "SD_PWR_ON", "SD_OC_N"))  # fmt: skip
PI5_GIO = (
    "gpio-brcmstb@107d508500",
    ("-", "2712_BOOT_CS_N", "2712_BOOT_MISO", "2712_BOOT_MOSI", "2712_BOOT_SCLK", *["-"] * 9, "PCIE_SDA", "PCIE_SCL", *["-"] * 4, "PWR_GPIO", "2712_G21_FS", "-", "-", "BT_RTS", "BT_CTS", "BT_TXD", "BT_RXD", "WL_ON", "BT_ON", "WIFI_SDIO_CLK", "WIFI_SDIO_CMD", "WIFI_SDIO_D0", "WIFI_SDIO_D1", "WIFI_SDIO_D2", "WIFI_SDIO_D3"),
)  # fmt: skip
PI5_AON = (
    "gpio-brcmstb@107d517c00",
    ("RP1_SDA", "RP1_SCL", "RP1_RUN", "SD_IOVDD_SEL", "SD_PWR_ON", "SD_CDET_N", "SD_FLG_N", "-", "2712_WAKE", "2712_STAT_LED", "-", "-", "PMIC_INT", "UART_TX_FS", "UART_RX_FS", "-", "-", *[""] * 15, "HDMI0_SCL", "HDMI0_SDA", "HDMI1_SCL", "HDMI1_SDA", "PMIC_SCL", "PMIC_SDA"),
)  # fmt: skip


def _header(naming: str) -> tuple[str, tuple[str, ...]]:
    table = KERNEL_NAMINGS[naming]
    return table.label, table.names


# Each machine: its chips by node name, and the node that has the header's lines.
MACHINES: dict[str, tuple[dict[str, tuple[str, tuple[str, ...]]], str]] = {
    "pi3-unnamed": ({"gpiochip0": _header("pi3-unnamed"), "gpiochip1": EXPANDER}, "gpiochip0"),
    "pi3-legacy": ({"gpiochip0": _header("pi3-legacy"), "gpiochip1": EXPANDER}, "gpiochip0"),
    "pi3": ({"gpiochip0": _header("pi3"), "gpiochip1": EXPANDER}, "gpiochip0"),
    "pi4-legacy": ({"gpiochip0": _header("pi4-legacy"), "gpiochip1": EXPANDER}, "gpiochip0"),
    "pi4": ({"gpiochip0": _header("pi4"), "gpiochip1": EXPANDER}, "gpiochip0"),
    # The Pi 5 launch kernel registered the RP1 after the BCM2712's banks.
    "pi5-launch": (
        {"gpiochip0": PI5_GIO, "gpiochip1": PI5_AON, "gpiochip4": _header("pi5-launch")},
        "gpiochip4",
    ),
    "pi5": (
        {"gpiochip0": _header("pi5"), "gpiochip10": PI5_GIO, "gpiochip11": PI5_AON},
        "gpiochip0",
    ),
}


@dataclass
class FakeLineInfo:
    """What ``gpiod.Chip.get_line_info`` reports about a line."""

    name: str
    used: bool
    consumer: str


@dataclass
class FakeChipInfo:
    """What ``gpiod.Chip.get_info`` reports about a chip."""

    name: str
    label: str
    num_lines: int


class FakeLines:
    """A line request of the fake chip: what was asked for, and a release."""

    def __init__(self, config: dict[int, gpiod.LineSettings | None], consumer: str) -> None:
        """Record the request."""
        self.config = config
        self.consumer = consumer

    def release(self) -> None:
        """Nothing is held."""


class FakeKernel:
    """The kernel's GPIO chips of one machine, behind the calls ``linux.py`` makes."""

    def __init__(self, chips: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        """Serve ``chips`` (node name: label and line names)."""
        self.chips = chips
        self.claims: dict[tuple[str, int], str] = {}
        self.requests: list[FakeLines] = []

    def is_gpiochip_device(self, path: str) -> bool:
        """Tell whether a node is one of the chips."""
        return Path(path).name in self.chips

    def chip(self, path: str) -> FakeChip:
        """Open a chip, as ``gpiod.Chip(path)``."""
        return FakeChip(self, Path(path).name)


class FakeChip:
    """An opened chip of a :class:`FakeKernel`."""

    def __init__(self, kernel: FakeKernel, node: str) -> None:
        """Open ``node``."""
        self._kernel = kernel
        self._node = node
        self._label, self._names = kernel.chips[node]

    def __enter__(self) -> Self:
        """Use the chip in a ``with`` block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close at the end of the block."""
        self.close()

    def get_info(self) -> FakeChipInfo:
        """Return the chip's name, label and line count."""
        return FakeChipInfo(self._node, self._label, len(self._names))

    def get_line_info(self, offset: int) -> FakeLineInfo:
        """Return a line's name and claim."""
        consumer = self._kernel.claims.get((self._node, offset), "")
        return FakeLineInfo(self._names[offset], bool(consumer), consumer)

    def line_offset_from_id(self, name: str) -> int:
        """Find a line by name, as the kernel does (``OSError`` if absent)."""
        if name in self._names:
            return self._names.index(name)
        raise OSError(errno.ENOENT, f"no line {name}")

    def request_lines(
        self, config: dict[int, gpiod.LineSettings | None], consumer: str
    ) -> FakeLines:
        """Record a request for lines by offset."""
        request = FakeLines(config, consumer)
        self._kernel.requests.append(request)
        return request

    def close(self) -> None:
        """Nothing to close."""


def fake_machine(root: Path, monkeypatch: pytest.MonkeyPatch, machine: str) -> FakeKernel:
    """Make ``linux.py`` see one machine's GPIO chips under ``root/dev``."""
    chips, _ = MACHINES[machine]
    kernel = FakeKernel(chips)
    for node in chips:
        (root / "dev" / node).write_bytes(b"")
    monkeypatch.setattr(linux.gpiod, "is_gpiochip_device", kernel.is_gpiochip_device)
    monkeypatch.setattr(linux.gpiod, "Chip", kernel.chip)
    return kernel


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_gpio_chip_found_on_every_kernel(
    root: Path, monkeypatch: pytest.MonkeyPatch, machine: str
) -> None:
    """The header's chip is found, probed OK and its lines claimed at their BCM offsets."""
    kernel = fake_machine(root, monkeypatch, machine)
    provider = provider_at(root)

    path = provider.gpio_chip_path()
    probe = provider.probe_gpio()
    chip = provider.open_gpio()
    chip.request_outputs("qiot_enviro-test", {LINE_LCD_DC: False, LINE_PMS_ENABLE: True})
    chip.close()

    header = str(root / "dev" / MACHINES[machine][1])
    assert (path, probe.path, probe.status) == (header, header, DeviceStatus.OK)
    settings = kernel.requests[-1].config
    assert sorted(settings) == [LINE_BCM[LINE_LCD_DC], LINE_BCM[LINE_PMS_ENABLE]]
    assert settings[9] is not None
    assert settings[9].output_value == Value.INACTIVE
    assert settings[22] is not None
    assert settings[22].output_value == Value.ACTIVE


def test_line_held_by_another_program_is_reported_by_the_boards_name(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an old kernel (GPIO9 named SPI_MISO) a foreign claim still reads as busy."""
    kernel = fake_machine(root, monkeypatch, "pi4-legacy")
    kernel.claims["gpiochip0", 9] = "spi0 CS"

    probe = provider_at(root).probe_gpio()

    assert probe.status is DeviceStatus.BUSY
    assert probe.detail == "held: GPIO9 by spi0 CS"


def test_a_line_the_board_does_not_use_is_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The opened chip answers for the board's lines only, as it does on every kernel."""
    fake_machine(root, monkeypatch, "pi5-launch")

    chip = provider_at(root).open_gpio()

    assert chip.line_offset(LINE_PMS_RESET) == 27
    with pytest.raises(OSError, match="GPIO5") as caught:
        chip.line_offset("GPIO5")
    assert caught.value.errno == errno.ENOENT
