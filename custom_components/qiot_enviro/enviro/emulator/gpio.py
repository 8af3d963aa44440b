"""An emulated GPIO chip: line names per kernel, claims, levels, and claim faults.

The Enviro+ is wired to BCM pins; what a kernel calls those lines depends on its
device tree. :data:`KERNEL_NAMINGS` holds the real tables (label and every line's name,
from the raspberrypi/linux device trees) of the kernels a Pi has shipped, so the board
can be opened on each. The emulator's own wiring (the PMS5003, the LCD, tests reading a
level) refers to lines by BCM number (``"GPIO22"`` is BCM 22 whatever the kernel calls
it); the kernel-facing calls (:meth:`EmulatedGPIOChip.line_offset`, ``request_outputs``)
use the kernel's names, as ``gpiod`` does.
"""

import errno
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gpiod.line import Value


@dataclass(frozen=True, slots=True)
class LineNaming:
    """How one kernel presents the chip with the header's lines: label and names."""

    label: str
    names: tuple[str, ...]
    kernel: str


def _gpio(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"GPIO{n}" for n in range(first, last + 1))


# Lines 28-57 of a Pi 4 (bcm2711-rpi-4-b.dts), the same before and after the 2024 rename.
_PI4_TAIL = (
    "RGMII_MDIO", "RGMIO_MDC", "CTS0", "RTS0", "TXD0", "RXD0",
    "SD1_CLK", "SD1_CMD", "SD1_DATA0", "SD1_DATA1", "SD1_DATA2", "SD1_DATA3",
    "PWM0_MISO", "PWM1_MOSI", "STATUS_LED_G_CLK", "SPIFLASH_CE_N", "SDA0", "SCL0",
    "RGMII_RXCLK", "RGMII_RXCTL", "RGMII_RXD0", "RGMII_RXD1", "RGMII_RXD2", "RGMII_RXD3",
    "RGMII_TXCLK", "RGMII_TXCTL", "RGMII_TXD0", "RGMII_TXD1", "RGMII_TXD2", "RGMII_TXD3",
)  # fmt: skip
# Lines 34-53 of a Pi 3 (bcm2710-rpi-3-b(-plus).dts).
_PI3_TAIL = (
    "CTS0", "RTS0", "TXD0", "RXD0",
    "SD1_CLK", "SD1_CMD", "SD1_DATA0", "SD1_DATA1", "SD1_DATA2", "SD1_DATA3",
    "PWM0_OUT", "PWM1_OUT", "ETH_CLK", "WIFI_CLK", "SDA0", "SCL0", "SMPS_SCL", "SMPS_SDA",
    "SD_CLK_R", "SD_CMD_R", "SD_DATA0_R", "SD_DATA1_R", "SD_DATA2_R", "SD_DATA3_R",
)  # fmt: skip
# Lines 28-53 of the Pi 5's RP1 (bcm2712-rpi-5-b.dts).
_PI5_TAIL = (
    "PCIE_RP1_WAKE", "FAN_TACH", "HOST_SDA", "HOST_SCL", "ETH_RST_N", "-",
    "CD0_IO0_MICCLK", "CD0_IO0_MICDAT0", "RP1_PCIE_CLKREQ_N", "-",
    "CD0_SDA", "CD0_SCL", "CD1_SDA", "CD1_SCL", "USB_VBUS_EN", "USB_OC_N",
    "RP1_STAT_LED", "FAN_PWM", "CD1_IO0_MICCLK", "2712_WAKE", "CD1_IO1_MICDAT1",
    "EN_MAX_USB_CUR", "-", "-", "-", "-",
)  # fmt: skip
# GPIO0-27 as the pre-2024 downstream and the upstream device trees name them.
_LEGACY_HEADER = (
    "ID_SDA", "ID_SCL", "SDA1", "SCL1", "GPIO_GCLK", "GPIO5", "GPIO6",
    "SPI_CE1_N", "SPI_CE0_N", "SPI_MISO", "SPI_MOSI", "SPI_SCLK", "GPIO12", "GPIO13",
    "TXD1", "RXD1", *_gpio(16, 27),
)  # fmt: skip
_CURRENT_HEADER = ("ID_SDA", "ID_SCL", *_gpio(2, 27))
# The Pi 5 launch kernel named the RP1's header lines after their header pins.
_PI5_LAUNCH_HEADER = (
    "ID_SD", "ID_SC", "PIN3", "PIN5", "PIN7", "PIN29", "PIN31", "PIN26", "PIN24",
    "PIN21", "PIN19", "PIN23", "PIN32", "PIN33", "PIN8", "PIN10", "PIN36", "PIN11",
    "PIN12", "PIN35", "PIN38", "PIN40", "PIN15", "PIN16", "PIN18", "PIN22", "PIN37",
    "PIN13",
)  # fmt: skip

KERNEL_NAMINGS: dict[str, LineNaming] = {
    "pi4": LineNaming(
        "pinctrl-bcm2711",
        (*_CURRENT_HEADER, *_PI4_TAIL),
        "Pi 4, Raspberry Pi OS / Home Assistant OS kernels since early 2024",
    ),
    "pi4-legacy": LineNaming(
        "pinctrl-bcm2711",
        (*_LEGACY_HEADER, *_PI4_TAIL),
        "Pi 4, kernels before raspberrypi/linux#5902 (Bullseye, early Bookworm)",
    ),
    "pi3": LineNaming(
        "pinctrl-bcm2835",
        (*_CURRENT_HEADER, "HDMI_HPD_N", "STATUS_LED_G", *_PI3_TAIL),
        "Pi 3 B+, kernels since early 2024",
    ),
    "pi3-legacy": LineNaming(
        "pinctrl-bcm2835",
        (*_LEGACY_HEADER, "NC", "LAN_RUN_BOOT", *_PI3_TAIL),
        "Pi 3 B, kernels before raspberrypi/linux#5902 and upstream",
    ),
    "pi3-unnamed": LineNaming(
        "pinctrl-bcm2835", ("",) * 54, "Pi 3, kernels before 2019 (no gpio-line-names)"
    ),
    "pi5": LineNaming(
        "pinctrl-rp1", (*_CURRENT_HEADER, *_PI5_TAIL), "Pi 5, kernels since early 2024"
    ),
    "pi5-launch": LineNaming(
        "pinctrl-rp1", (*_PI5_LAUNCH_HEADER, *_PI5_TAIL), "Pi 5, launch kernel (late 2023)"
    ),
}
DEFAULT_NAMING = "pi4"

_BCM_NAME = re.compile(r"GPIO(\d+)")


def bcm_number(name: str) -> int:
    """Return the BCM number of a board line name (``"GPIO22"`` is 22)."""
    match = _BCM_NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"not a BCM line name: {name!r}")
    return int(match.group(1))


class EmulatedLineRequest:
    """Claimed lines of an :class:`EmulatedGPIOChip`; ``gpiod.LineRequest`` calls."""

    def __init__(self, chip: "EmulatedGPIOChip", consumer: str, offsets: list[int]) -> None:
        """Hold the claim for ``offsets`` on behalf of ``consumer``."""
        self._chip = chip
        self.consumer = consumer
        self.offsets = offsets
        self.released = False

    def set_value(self, offset: int, value: object) -> None:
        """Drive a claimed output line."""
        self._check(offset)
        self._chip.drive(offset, value == Value.ACTIVE)

    def get_value(self, offset: int) -> object:
        """Return the level of a claimed line."""
        self._check(offset)
        return Value.ACTIVE if self._chip.level(offset) else Value.INACTIVE

    def release(self) -> None:
        """Give the lines back; a second release is harmless."""
        if not self.released:
            self.released = True
            self._chip.unclaim(self.offsets)

    def _check(self, offset: int) -> None:
        if self.released:
            raise OSError(errno.EBADF, "line request released")
        if offset not in self.offsets:
            raise OSError(errno.EINVAL, f"line {offset} not in this request")


class EmulatedGPIOChip:
    """The GPIO chip with the header's lines, named as one kernel names them.

    Each line has a level and at most one claim. Tests and the simulated board can
    claim a line for a foreign consumer (``occupy``) to reproduce "line busy", and
    watch a line's level through listeners (the emulated ST7735 reads D/C this way).
    """

    def __init__(self, path: str = "/dev/gpiochip0", naming: str = DEFAULT_NAMING) -> None:
        """Create a chip whose lines are all low and unclaimed."""
        table = KERNEL_NAMINGS[naming]
        self.path = path
        self.naming = naming
        self.label = table.label
        self.line_names = table.names
        self._lock = threading.Lock()
        self._levels = dict.fromkeys(range(len(self.line_names)), False)
        self._claims: dict[int, str] = {}
        self._listeners: dict[int, list[Callable[[bool], None]]] = {}
        self.open_handles = 0

    # -- the chip as the kernel presents it (gpiod's calls) ---------------------------

    def line_offset(self, name: str) -> int:
        """Return the offset of a line by its kernel name, as ``line_offset_from_id``."""
        if name and name in self.line_names:
            return self.line_names.index(name)
        raise OSError(errno.ENOENT, f"line {name} not found")

    def request_outputs(self, consumer: str, lines: dict[str, bool]) -> EmulatedLineRequest:
        """Claim lines named as the kernel names them as outputs at the given levels."""
        return self.request_offsets(
            consumer, {self.line_offset(name): level for name, level in lines.items()}
        )

    def request_offsets(self, consumer: str, lines: dict[int, bool]) -> EmulatedLineRequest:
        """Claim lines by offset as outputs at the given levels (EBUSY if claimed)."""
        offsets = list(lines)
        with self._lock:
            for offset in offsets:
                if offset in self._claims:
                    raise OSError(
                        errno.EBUSY,
                        f"line {self._describe(offset)} busy: claimed by {self._claims[offset]}",
                    )
            for offset in offsets:
                self._claims[offset] = consumer
        for offset, level in lines.items():
            self.drive(offset, level)
        return EmulatedLineRequest(self, consumer, offsets)

    def opened(self, offsets: dict[str, int]) -> "EmulatedGPIOHandle":
        """Return a handle that finds the board's lines at ``offsets`` (the provider's)."""
        with self._lock:
            self.open_handles += 1
        return EmulatedGPIOHandle(self, offsets)

    def closed(self) -> None:
        """Count a handle closed."""
        with self._lock:
            self.open_handles -= 1

    # -- the emulator's side: lines by BCM number -------------------------------------

    def drive(self, offset: int, level: bool) -> None:
        """Set a line's level and tell whoever listens."""
        with self._lock:
            changed = self._levels[offset] != level
            self._levels[offset] = level
            listeners = list(self._listeners.get(offset, ()))
        if changed:
            for listener in listeners:
                listener(level)

    def level(self, offset: int) -> bool:
        """Return a line's level."""
        return self._levels[offset]

    def level_of(self, name: str) -> bool:
        """Return the level of a BCM line (``"GPIO24"``)."""
        return self._levels[bcm_number(name)]

    def listen(self, name: str, listener: Callable[[bool], None]) -> None:
        """Call ``listener(level)`` whenever a BCM line (``"GPIO9"``) changes level."""
        self._listeners.setdefault(bcm_number(name), []).append(listener)

    def unclaim(self, offsets: list[int]) -> None:
        """Drop the claims on offsets."""
        with self._lock:
            for offset in offsets:
                self._claims.pop(offset, None)

    def occupy(self, name: str, consumer: str = "another-process") -> None:
        """Fault: claim a BCM line for a foreign consumer, so that a request gets EBUSY."""
        with self._lock:
            self._claims[bcm_number(name)] = consumer

    def vacate(self, name: str) -> None:
        """Clear a foreign claim made with :meth:`occupy`."""
        self.unclaim([bcm_number(name)])

    def claimed(self) -> dict[str, str]:
        """Return the claimed lines by BCM name (``"GPIO22"``) with their consumers."""
        with self._lock:
            return {f"GPIO{offset}": consumer for offset, consumer in self._claims.items()}

    def _describe(self, offset: int) -> str:
        name = self.line_names[offset]
        return f"{offset} ({name})" if name else str(offset)


class EmulatedGPIOHandle:
    """One opened chip as the board sees it (the ``GPIOChip`` protocol).

    The board names its lines as current kernels do; the provider found where they are
    on this kernel's chip (``gpio_lines.header_offsets``), exactly as on a Pi.
    """

    def __init__(self, chip: EmulatedGPIOChip, offsets: dict[str, int]) -> None:
        """Serve the board's lines of ``chip`` at ``offsets``."""
        self.chip = chip
        self.path = chip.path
        self._offsets = dict(offsets)
        self._closed = False

    def line_offset(self, name: str) -> int:
        """Return the offset of one of the board's lines."""
        try:
            return self._offsets[name]
        except KeyError:
            raise OSError(errno.ENOENT, f"line {name} is not one of the board's lines") from None

    def request_outputs(self, consumer: str, lines: dict[str, bool]) -> EmulatedLineRequest:
        """Claim the board's named lines as outputs at the given levels."""
        return self.chip.request_offsets(
            consumer, {self.line_offset(name): level for name, level in lines.items()}
        )

    def close(self) -> None:
        """Close the handle; a second close is harmless."""
        if not self._closed:
            self._closed = True
            self.chip.closed()
