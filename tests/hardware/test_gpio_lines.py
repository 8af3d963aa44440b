"""The board's GPIO lines under every naming a Pi's kernel has used, and the board on each.

The tables are the real ones (``emulator.gpio.KERNEL_NAMINGS``, from the raspberrypi/linux
device trees): current names (``GPIO9``), the pre-2024 and upstream ones (``SPI_MISO``),
the Pi 5 launch kernel's (``PIN21``), and a Pi 3 kernel without names.
"""

import pytest
from PIL import Image

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.bus import (
    LINE_GAS_HEATER,
    LINE_LCD_BACKLIGHT,
    LINE_LCD_DC,
    LINE_PMS_ENABLE,
    LINE_PMS_RESET,
)
from custom_components.qiot_enviro.enviro.emulator.board import create_simulated
from custom_components.qiot_enviro.enviro.emulator.gpio import KERNEL_NAMINGS
from custom_components.qiot_enviro.enviro.gpio_lines import (
    LINE_BCM,
    ChipLines,
    choose_header_chip,
    header_offsets,
)
from custom_components.qiot_enviro.enviro.models import BusDevice, DeviceStatus

from .common import FRAME_INTERVAL, PINNED, POWER_UP_DELAY, particulates_when_ready

NAMINGS = sorted(KERNEL_NAMINGS)
# Namings whose names alone (without a known chip label) locate every line.
NAMED = [naming for naming in NAMINGS if naming != "pi3-unnamed"]


@pytest.mark.parametrize("naming", NAMINGS)
def test_the_pis_gpio_chip_gives_bcm_offsets_whatever_its_names(naming: str) -> None:
    """On pinctrl-bcm2835 / -bcm2711 / -rp1 the board's lines are at their BCM numbers."""
    table = KERNEL_NAMINGS[naming]

    assert header_offsets(table.label, table.names) == LINE_BCM


@pytest.mark.parametrize("naming", NAMED)
def test_names_old_and_new_find_the_lines_on_a_chip_of_unknown_label(naming: str) -> None:
    """Without a known label, every name a Pi kernel has given a line still finds it."""
    assert header_offsets("pinctrl-bcm2712", KERNEL_NAMINGS[naming].names) == LINE_BCM


@pytest.mark.parametrize(
    ("label", "names"),
    [
        ("pinctrl-bcm2711", KERNEL_NAMINGS["pi4"].names[:20]),  # too short to be the SoC's
        ("gpio-sim", KERNEL_NAMINGS["pi3-unnamed"].names),  # nothing to go by
        ("raspberrypi-exp-gpio", ("BT_ON", "WL_ON", "PWR_LED_OFF", "GLOBAL_RESET")),
        ("gpio-sim", ("GPIO9", "GPIO12", "GPIO22", "GPIO24")),  # GPIO27 missing
    ],
)
def test_a_chip_without_the_headers_lines_is_not_taken(label: str, names: tuple[str, ...]) -> None:
    """A chip that lacks one of the lines (or says nothing about them) is not the header's."""
    assert header_offsets(label, names) is None


def test_the_socs_chip_wins_over_an_expander_named_like_it() -> None:
    """On a Pi 5 launch kernel the RP1 is gpiochip4: an expander at gpiochip0 loses."""
    expander = ChipLines("/dev/gpiochip0", "mcp23017", tuple(f"GPIO{n}" for n in range(32)))
    rp1 = ChipLines("/dev/gpiochip4", "pinctrl-rp1", KERNEL_NAMINGS["pi5-launch"].names)

    found = choose_header_chip([expander, rp1])

    assert found == (rp1, LINE_BCM)


@pytest.mark.parametrize("naming", NAMINGS)
def test_board_drives_its_lines_on_every_naming(naming: str) -> None:
    """On each kernel's naming the board opens with its LCD, PMS5003 and gas heater.

    The lines are checked where they are wired, by BCM number, on the emulated chip.
    """
    sim = create_simulated(
        seed=7, frame_interval=FRAME_INTERVAL, power_up_delay=POWER_UP_DELAY, gpio_naming=naming
    )
    sim.env.set(**PINNED)
    board = Board(sim.provider, particulate_warmup=0.0, particulate_read_timeout=0.3)
    try:
        detection = board.open()
        levels = {line: sim.gpio.level(LINE_BCM[line]) for line in LINE_BCM}
        board.show_image(Image.new("RGB", (160, 80), (255, 0, 0)))
        backlight = sim.gpio.level(LINE_BCM[LINE_LCD_BACKLIGHT])
        particulates = particulates_when_ready(board)
        gas = board.read().gas
    finally:
        board.close()

    assert detection.devices[BusDevice.GPIO].status is DeviceStatus.OK
    assert detection.has_display
    assert levels == {
        LINE_LCD_DC: False,
        LINE_LCD_BACKLIGHT: False,
        LINE_PMS_ENABLE: True,
        LINE_GAS_HEATER: True,
        LINE_PMS_RESET: True,
    }
    assert sim.lcd.picture().convert("RGB").getpixel((80, 40)) == pytest.approx((255, 0, 0), abs=8)
    assert backlight
    assert particulates.pm2_5 == PINNED["pm2_5"]
    assert gas is not None
    assert gas.ok
