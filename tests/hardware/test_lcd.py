"""The LCD: our ST7735 driver against the vendor driver, on the emulated controller.

Both drivers talk to an :class:`EmulatedST7735` through the SPI bytes and the D/C line
only, so "same picture" means the same bytes reached the panel in the same places.
"""

import errno
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import st7735
from PIL import Image, ImageChops, ImageDraw

from custom_components.qiot_enviro.enviro.emulator.gpio import (
    EmulatedGPIOChip,
    EmulatedLineRequest,
)
from custom_components.qiot_enviro.enviro.emulator.st7735 import (
    CASET,
    COLMOD,
    MADCTL,
    RAMWR,
    RASET,
    SLPOUT,
    SWRESET,
    EmulatedSPIPort,
    EmulatedST7735,
)
from custom_components.qiot_enviro.enviro.st7735 import (
    ST7735Display,
    encode_rgb565_numpy,
    encode_rgb565_pillow,
)

FULL_FRAME = 160 * 80 * 2
ROW_BYTES = 160 * 2


class FakeClock:
    """A monotonic clock that only moves when somebody sleeps."""

    def __init__(self) -> None:
        """Start at an arbitrary time."""
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of waiting."""
        self.now += seconds
        self.slept += seconds


@dataclass
class Rig:
    """An emulated LCD: GPIO chip, controller, SPI port and claimed lines."""

    chip: EmulatedGPIOChip
    clock: FakeClock
    controller: EmulatedST7735
    port: EmulatedSPIPort
    lines: EmulatedLineRequest


def make_rig() -> Rig:
    """Build an emulated LCD with D/C and backlight claimed for the test."""
    chip = EmulatedGPIOChip()
    clock = FakeClock()
    controller = EmulatedST7735(chip, clock=clock)
    lines = chip.request_outputs("test-lcd", {"GPIO9": False, "GPIO12": False})
    return Rig(chip, clock, controller, EmulatedSPIPort(controller), lines)


def our_display(
    rig: Rig,
    *,
    rotation: int = 270,
    encoder: Callable[[Image.Image], bytes] | None = None,
) -> ST7735Display:
    """Return our driver on ``rig``, initialised."""
    display = ST7735Display(
        rig.port,
        dc=(rig.lines, 9),
        backlight=(rig.lines, 12),
        rotation=rotation,
        sleep=rig.clock.sleep,
        clock=rig.clock,
        encoder=encoder,
    )
    display.begin()
    return display


@pytest.fixture
def vendor_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[st7735.ST7735, Rig]]:
    """Return a maker of vendor ``st7735.ST7735`` drivers wired to a fresh emulated LCD."""
    ports: list[EmulatedSPIPort] = []

    class ForwardingSpiDev:
        """``spidev.SpiDev`` whose transfers land on the emulated port."""

        def __init__(self, bus: int, device: int) -> None:
            """Remember nothing: the port comes from the rig being built."""
            self.port = ports[-1]
            self.mode = 0
            self.lsbfirst = False
            self.max_speed_hz = 0

        def xfer3(self, data: list[int]) -> None:
            """Send bytes as one transfer."""
            self.port.write(bytes(data))

        xfer2 = xfer3
        writebytes2 = xfer3

    monkeypatch.setattr(st7735.spidev, "SpiDev", ForwardingSpiDev)

    def make(rotation: int = 270) -> tuple[st7735.ST7735, Rig]:
        rig = make_rig()
        ports.append(rig.port)
        monkeypatch.setattr(st7735, "time", SimpleNamespace(sleep=rig.clock.sleep))
        driver = st7735.ST7735(
            port=0,
            cs=1,
            dc=(rig.lines, 9),
            backlight=(rig.lines, 12),
            rotation=rotation,
            spi_speed_hz=10_000_000,
        )
        return driver, rig

    return make


def gradient(size: tuple[int, int]) -> Image.Image:
    """Red left to right, green top to bottom, blue diagonal."""
    red = Image.linear_gradient("L").rotate(90).resize(size)
    green = Image.linear_gradient("L").resize(size)
    blue = ImageChops.blend(red, green, 0.5)
    return Image.merge("RGB", (red, green, blue))


def text(size: tuple[int, int]) -> Image.Image:
    """Coloured text lines on a dark blue background."""
    image = Image.new("RGB", size, (0, 0, 64))
    draw = ImageDraw.Draw(image)
    draw.text((2, 2), "22.5 C  48 %", fill=(255, 255, 255))
    draw.text((2, 30), "PM2.5 12 ug", fill=(255, 200, 0))
    draw.rectangle((0, size[1] - 8, size[0] // 2, size[1] - 1), fill=(0, 255, 0))
    return image


def noise(size: tuple[int, int]) -> Image.Image:
    """Random pixels (fixed seed)."""
    return Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))


def solid(colour: tuple[int, int, int]) -> Callable[[tuple[int, int]], Image.Image]:
    """Return a maker of one-colour images."""
    return lambda size: Image.new("RGB", size, colour)


IMAGES = {
    "gradient": gradient,
    "text": text,
    "noise": noise,
    "red": solid((255, 0, 0)),
    "green": solid((0, 255, 0)),
    "blue": solid((0, 0, 255)),
    "white": solid((255, 255, 255)),
    "black": solid((0, 0, 0)),
}


@pytest.fixture
def rig() -> Iterator[Rig]:
    """Return an emulated LCD, closed afterwards."""
    rig = make_rig()
    yield rig
    rig.port.close()


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("rotation", [270, 90, 0, 180])
def test_same_picture_as_vendor_driver(
    vendor_factory: Callable[..., tuple[st7735.ST7735, Rig]], name: str, rotation: int
) -> None:
    """Our driver leaves exactly the picture the vendor driver leaves."""
    vendor, vendor_rig = vendor_factory(rotation)
    ours = make_rig()
    display = our_display(ours, rotation=rotation)
    image = IMAGES[name](display.size)

    vendor.display(image)
    sent = display.show(image)

    assert sent == FULL_FRAME
    assert ours.controller.picture().tobytes() == vendor_rig.controller.picture().tobytes()
    assert ours.controller.timing_violations == []


@pytest.mark.parametrize("encoder", [encode_rgb565_numpy, encode_rgb565_pillow])
def test_both_encoders_match_vendor(
    vendor_factory: Callable[..., tuple[st7735.ST7735, Rig]],
    encoder: Callable[[Image.Image], bytes],
) -> None:
    """The numpy and Pillow-only encoders put the vendor's bytes on the panel."""
    vendor, vendor_rig = vendor_factory()
    ours = make_rig()
    display = our_display(ours, encoder=encoder)
    image = noise((160, 80))

    vendor.display(image)
    display.show(image)

    assert ours.controller.picture().tobytes() == vendor_rig.controller.picture().tobytes()
    assert encoder(image) == bytes(st7735.image_to_data(image, 0))


def test_begin_sends_vendor_settings_with_fewer_transfers(
    vendor_factory: Callable[..., tuple[st7735.ST7735, Rig]],
) -> None:
    """Same commands and parameters as the vendor's init, batched, and shorter waits."""
    _vendor, vendor_rig = vendor_factory()
    ours = make_rig()

    our_display(ours)

    assert list(ours.controller.recent_commands) == list(vendor_rig.controller.recent_commands)
    assert ours.controller.parameters == vendor_rig.controller.parameters
    assert ours.controller.timing_violations == []
    # One transfer for the command, one for all its parameters (vendor: one per byte).
    assert ours.controller.transfers <= 2 * len(ours.controller.recent_commands)
    assert ours.controller.transfers < vendor_rig.controller.transfers / 2
    assert ours.controller.dc_toggles <= vendor_rig.controller.dc_toggles
    assert 0.62 < ours.clock.slept < vendor_rig.clock.slept


@pytest.mark.parametrize("name", ["gradient", "text", "noise", "red", "white"])
def test_picture_is_the_image_within_rgb565(rig: Rig, name: str) -> None:
    """What a person sees is the image, give or take RGB565's lost low bits."""
    display = our_display(rig)
    image = IMAGES[name]((160, 80))

    display.show(image)

    picture = rig.controller.picture()
    assert picture.size == (160, 80)
    red, green, blue = (
        band.getextrema()[1] for band in ImageChops.difference(picture, image).split()
    )
    # RGB565 keeps 5 bits of red and blue (steps of 8) and 6 of green (steps of 4).
    assert (red <= 7, green <= 3, blue <= 7) == (True, True, True)


def test_text_line_change_sends_only_that_band(rig: Rig) -> None:
    """Changing one text line sends its rows only, and looks like a full frame."""
    display = our_display(rig)
    before = text((160, 80))
    after = before.copy()
    ImageDraw.Draw(after).text((2, 50), "CO2 ok", fill=(255, 0, 0))
    display.show(before)

    sent = display.show(after)

    assert 0 < sent <= 12 * ROW_BYTES
    reference = make_rig()
    our_display(reference).show_full(after)
    assert rig.controller.picture().tobytes() == reference.controller.picture().tobytes()


def test_unchanged_frame_sends_nothing(rig: Rig) -> None:
    """Showing the same picture again costs no pixel bytes."""
    display = our_display(rig)
    image = gradient((160, 80))
    display.show(image)
    written = rig.controller.ramwr_bytes

    assert display.show(image.copy()) == 0
    assert rig.controller.ramwr_bytes == written


def test_distant_changes_go_as_separate_bands(rig: Rig) -> None:
    """Two one-row changes far apart cost two rows, not everything between them."""
    display = our_display(rig)
    image = Image.new("RGB", (160, 80))
    display.show(image)
    frames = rig.controller.frames
    changed = image.copy()
    changed.putpixel((10, 3), (255, 255, 255))
    changed.putpixel((100, 70), (255, 255, 255))

    assert display.show(changed) == 2 * ROW_BYTES
    assert rig.controller.frames == frames + 2
    assert rig.controller.picture().getpixel((100, 70)) == (255, 255, 255)


def test_show_full_always_sends_everything(rig: Rig) -> None:
    """show_full resends the whole frame even when nothing changed."""
    display = our_display(rig)
    image = text((160, 80))
    display.show(image)

    assert display.show_full(image) == FULL_FRAME


def test_wrong_size_is_refused(rig: Rig) -> None:
    """A portrait image for a landscape panel is an error, not a garbled picture."""
    display = our_display(rig)

    with pytest.raises(ValueError, match="expected"):
        display.show(Image.new("RGB", (80, 160)))


def test_off_and_wake(rig: Rig) -> None:
    """off() blanks panel and backlight; wake() brings the picture back unsent."""
    display = our_display(rig)
    image = gradient((160, 80))
    display.show(image)
    shown = rig.controller.picture().tobytes()
    written = rig.controller.ramwr_bytes

    display.off()

    assert not rig.controller.backlight
    assert not rig.controller.display_on
    assert rig.controller.picture().getextrema() == ((0, 0), (0, 0), (0, 0))

    display.wake()

    assert rig.controller.backlight
    assert rig.controller.picture().tobytes() == shown
    assert rig.controller.ramwr_bytes == written


def test_sleep_and_wake_keep_datasheet_timing(rig: Rig) -> None:
    """Sleep then wake at once waits the required 120 ms and shows the picture again."""
    display = our_display(rig)
    image = text((160, 80))
    display.show(image)
    shown = rig.controller.picture().tobytes()

    display.sleep()
    assert rig.controller.sleeping
    assert not rig.controller.backlight
    display.wake()

    assert not rig.controller.sleeping
    assert rig.controller.timing_violations == []
    assert rig.controller.picture().tobytes() == shown


def test_backlight_switch(rig: Rig) -> None:
    """set_backlight drives the backlight line; without light nothing is seen."""
    display = our_display(rig)
    display.show(Image.new("RGB", (160, 80), (255, 255, 255)))

    display.set_backlight(False)
    assert not rig.controller.backlight
    assert rig.controller.picture().getpixel((80, 40)) == (0, 0, 0)

    display.set_backlight(True)
    assert rig.controller.picture().getpixel((80, 40)) == (255, 255, 255)


def test_spi_error_then_recovery(rig: Rig) -> None:
    """A failed transfer raises from show(); after the fault the next show repaints all."""
    display = our_display(rig)
    first = gradient((160, 80))
    second = text((160, 80))
    display.show(first)
    rig.port.inject_error(None)

    for _ in range(2):
        with pytest.raises(OSError, match="SPI") as caught:
            display.show(second)
        assert caught.value.errno == errno.EIO
    rig.port.clear_error()

    assert display.show(second) == FULL_FRAME
    reference = make_rig()
    our_display(reference).show(second)
    assert rig.controller.picture().tobytes() == reference.controller.picture().tobytes()


def test_error_in_the_middle_of_a_frame_is_repaired(rig: Rig) -> None:
    """An error after the window commands leaves a torn frame; the next show fixes it."""
    display = our_display(rig)
    display.show(gradient((160, 80)))
    image = noise((160, 80))
    rig.port.inject_error(1)

    with pytest.raises(OSError, match="SPI"):
        display.show(image)
    display.show(image)

    reference = make_rig()
    our_display(reference).show(image)
    assert rig.controller.picture().tobytes() == reference.controller.picture().tobytes()


def test_closed_port_raises(rig: Rig) -> None:
    """Writing to a closed port fails loudly."""
    display = our_display(rig)
    rig.port.close()

    with pytest.raises(OSError, match="closed") as caught:
        display.show(gradient((160, 80)))
    assert caught.value.errno == errno.EBADF
    assert rig.port.closed


def test_picture_listeners(rig: Rig) -> None:
    """Subscribers hear about new pictures and the backlight until they unsubscribe."""
    display = our_display(rig)
    calls: list[None] = []
    unsubscribe = rig.controller.subscribe(lambda: calls.append(None))

    display.show(gradient((160, 80)))
    after_show = len(calls)
    display.set_backlight(False)
    after_backlight = len(calls)
    unsubscribe()
    display.show(text((160, 80)))

    assert after_show >= 1
    assert after_backlight == after_show + 1
    assert len(calls) == after_backlight


# -- the emulated controller on its own -------------------------------------------


def _send(rig: Rig, command: int, data: bytes = b"") -> None:
    """Send a command and its data the way a driver does, D/C and all."""
    rig.chip.drive(9, False)
    rig.port.write(bytes((command,)))
    if data:
        rig.chip.drive(9, True)
        rig.port.write(data)


def _power_up(rig: Rig) -> None:
    """SWRESET, SLPOUT with the datasheet waits, 16-bit colour, vendor MADCTL, display on."""
    rig.chip.drive(12, True)
    _send(rig, SWRESET)
    rig.clock.sleep(0.15)
    _send(rig, SLPOUT)
    rig.clock.sleep(0.12)
    _send(rig, 0x21)
    _send(rig, MADCTL, b"\xc8")
    _send(rig, COLMOD, b"\x05")
    _send(rig, 0x29)


def test_emulator_address_window_wraps(rig: Rig) -> None:
    """Pixels beyond the window's end wrap to its start, as on the chip."""
    _power_up(rig)
    # The picture's top-left corner is memory column 26, row 160; with MADCTL's MX and
    # MY mirroring, the driver addresses it as column 105, row 1.
    _send(rig, CASET, bytes((0, 104, 0, 105)))
    _send(rig, RASET, bytes((0, 1, 0, 2)))
    white, red = b"\xff\xff", b"\xf8\x00"
    # Five pixels into a 2x2 window, split mid-pixel: the fifth overwrites the first.
    payload = white * 4 + red
    _send(rig, RAMWR, payload[:3])
    rig.port.write(payload[3:])

    assert rig.controller.frames == 1
    picture = rig.controller.picture()
    assert picture.getpixel((0, 1)) == (255, 0, 0)
    assert [picture.getpixel(xy) for xy in ((0, 0), (1, 0), (1, 1))] == [(255, 255, 255)] * 3
    assert picture.getpixel((2, 2)) == (0, 0, 0)
    assert picture.getpixel((0, 2)) == (0, 0, 0)


def test_emulator_colour_and_inversion_model(rig: Rig) -> None:
    """INVOFF shows the negative and an RGB-order MADCTL swaps red and blue."""
    _power_up(rig)
    _send(rig, CASET, bytes((0, 26, 0, 105)))
    _send(rig, RASET, bytes((0, 1, 0, 160)))
    _send(rig, RAMWR, b"\xf8\x00" * (80 * 160))
    assert rig.controller.picture().getpixel((5, 5)) == (255, 0, 0)

    _send(rig, 0x20)
    assert rig.controller.picture().getpixel((5, 5)) == (0, 255, 255)

    _send(rig, 0x21)
    _send(rig, MADCTL, b"\xc0")
    assert rig.controller.picture().getpixel((5, 5)) == (0, 0, 255)


def test_emulator_drops_commands_sent_too_early(rig: Rig) -> None:
    """SLPOUT right after SWRESET is refused: a driver that skips the wait shows nothing."""
    rig.chip.drive(12, True)
    _send(rig, SWRESET)
    rig.clock.sleep(0.01)
    _send(rig, SLPOUT)

    assert rig.controller.sleeping
    assert rig.controller.timing_violations == ["command 0x11 SLPOUT within 120 ms of SWRESET"]


def test_emulator_without_colmod_shows_nothing(rig: Rig) -> None:
    """The power-on 18-bit pixel format is not emulated: a forgotten COLMOD stays blank."""
    rig.chip.drive(12, True)
    _send(rig, SWRESET)
    rig.clock.sleep(0.15)
    _send(rig, SLPOUT)
    rig.clock.sleep(0.12)
    _send(rig, 0x21)
    _send(rig, 0x29)
    _send(rig, RAMWR, b"\xff" * 100)

    assert rig.controller.dropped_bytes == 100
    assert rig.controller.picture().getextrema() == ((0, 0), (0, 0), (0, 0))


def test_emulated_port_paces_to_wire_time(rig: Rig) -> None:
    """A paced port takes at least the bytes' time on the wire."""
    import time

    port = EmulatedSPIPort(rig.controller, speed_hz=1_000_000, pace=True)
    started = time.perf_counter()
    port.write(bytes(1250))  # 10 ms at 1 MHz

    assert time.perf_counter() - started >= 0.010
    assert rig.controller.bytes_received == 1250
