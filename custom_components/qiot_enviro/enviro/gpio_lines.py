"""Finding the Enviro+'s GPIO lines whatever the kernel calls them.

The board is wired to BCM pins 9 (LCD D/C), 12 (backlight), 22 (PMS5003 SET),
24 (gas heater) and 27 (PMS5003 RESET). The kernels a Pi has shipped name those lines
differently: current Raspberry Pi OS and Home Assistant OS kernels say ``GPIO9``;
Raspberry Pi kernels before early 2024 (raspberrypi/linux#5902) and the upstream
device trees name GPIO9 after its SPI function, ``SPI_MISO``; the Pi 5's first kernels
named the RP1's lines after header pins (``PIN21``); and Pi 3 kernels before 2019 gave
the lines no names at all. A lookup by the current names alone finds nothing on those
(the vendor's ``gpiodevice`` has the same failure, enviroplus-python#146).

The SoC's own GPIO chips are recognised by their label instead: on ``pinctrl-bcm2835``
(Pi 3 and older), ``pinctrl-bcm2711`` (Pi 4) and ``pinctrl-rp1`` (Pi 5) a line's offset
is its BCM number, whatever its name. Other chips are matched by the names (current or
older) of each line. Everything here is pure, so every naming is tested without a Pi.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from .bus import (
    BOARD_LINES,
    LINE_GAS_HEATER,
    LINE_LCD_BACKLIGHT,
    LINE_LCD_DC,
    LINE_PMS_ENABLE,
    LINE_PMS_RESET,
)

# The BCM number of each of the board's lines: how the Enviro+ is wired to the header.
LINE_BCM: dict[str, int] = {
    LINE_LCD_DC: 9,
    LINE_LCD_BACKLIGHT: 12,
    LINE_PMS_ENABLE: 22,
    LINE_GAS_HEATER: 24,
    LINE_PMS_RESET: 27,
}

# Every name a Raspberry Pi device tree has given each line: the current one, the
# pre-2024 downstream / upstream one, and the Pi 5 launch kernel's header-pin name.
LINE_ALIASES: dict[str, tuple[str, ...]] = {
    LINE_LCD_DC: ("GPIO9", "SPI_MISO", "PIN21"),
    LINE_LCD_BACKLIGHT: ("GPIO12", "PIN32"),
    LINE_PMS_ENABLE: ("GPIO22", "PIN15"),
    LINE_GAS_HEATER: ("GPIO24", "PIN18"),
    LINE_PMS_RESET: ("GPIO27", "PIN13"),
}

# Labels of the GPIO chips whose offsets are BCM numbers (their drivers number the
# SoC's, or the RP1's, GPIOs from 0 in order).
BCM_CHIP_LABELS = frozenset({"pinctrl-bcm2835", "pinctrl-bcm2711", "pinctrl-rp1"})


@dataclass(frozen=True, slots=True)
class ChipLines:
    """What the kernel tells about one GPIO chip: its node, label and line names."""

    path: str
    label: str
    names: tuple[str, ...]


def header_offsets(label: str, names: Sequence[str]) -> dict[str, int] | None:
    """Return the offset of each of the board's lines on a chip, or None if it lacks one.

    A chip known to number its lines by BCM number is taken by its label (its names may
    be old or absent); any other chip must name every line with one of its aliases.
    """
    if label in BCM_CHIP_LABELS:
        if len(names) > max(LINE_BCM.values()):
            return dict(LINE_BCM)
        return None
    offsets: dict[str, int] = {}
    for line in BOARD_LINES:
        aliases = LINE_ALIASES[line]
        offset = next((i for i, name in enumerate(names) if name in aliases), None)
        if offset is None:
            return None
        offsets[line] = offset
    return offsets


def choose_header_chip(chips: Sequence[ChipLines]) -> tuple[ChipLines, dict[str, int]] | None:
    """Return the chip that carries the board's lines and their offsets on it.

    A chip recognised by its label wins over one that merely has matching names, so a
    GPIO expander whose lines happen to be called ``GPIO9`` cannot take the header's
    place on a Pi 5 whose RP1 is not the first chip (``gpiochip4`` on early kernels).
    """
    by_label = [chip for chip in chips if chip.label in BCM_CHIP_LABELS]
    others = [chip for chip in chips if chip.label not in BCM_CHIP_LABELS]
    for chip in (*by_label, *others):
        offsets = header_offsets(chip.label, chip.names)
        if offsets is not None:
            return chip, offsets
    return None
