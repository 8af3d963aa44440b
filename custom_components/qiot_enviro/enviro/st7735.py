"""Our driver for the Enviro+'s 0.96" ST7735 LCD (160x80 landscape as seen).

It replaces the vendor ``st7735`` package, which needs ``spidev`` (no wheels). It sends
the same initialisation as the vendor driver, but each command with all its parameters
in one transfer (two D/C writes per command instead of one transfer and one D/C write
per byte), and after the first frame it sends only the rows of the picture that changed.
"""

import importlib.util
import struct
import threading
import time
from collections.abc import Callable
from typing import Final

from gpiod.line import Value
from PIL import Image, ImageChops

from .bus import LineRequest, SPIPort

SWRESET: Final = 0x01
SLPIN: Final = 0x10
SLPOUT: Final = 0x11
NORON: Final = 0x13
INVOFF: Final = 0x20
INVON: Final = 0x21
DISPOFF: Final = 0x28
DISPON: Final = 0x29
CASET: Final = 0x2A
RASET: Final = 0x2B
RAMWR: Final = 0x2C
MADCTL: Final = 0x36
COLMOD: Final = 0x3A

# The vendor driver's panel settings between SLPOUT and INVON (st7735 1.0.0 ``_init``),
# byte for byte: frame rates, inversion control, power and VCOM.
_PANEL_SETUP: Final = (
    (0xB1, bytes((0x01, 0x2C, 0x2D))),  # FRMCTR1
    (0xB2, bytes((0x01, 0x2C, 0x2D))),  # FRMCTR2
    (0xB3, bytes((0x01, 0x2C, 0x2D, 0x01, 0x2C, 0x2D))),  # FRMCTR3
    (0xB4, bytes((0x07,))),  # INVCTR
    (0xC0, bytes((0xA2, 0x02, 0x84))),  # PWCTR1
    (0xC1, bytes((0x0A, 0x00))),  # PWCTR2
    (0xC3, bytes((0x8A, 0x2A))),  # PWCTR4
    (0xC4, bytes((0x8A, 0xEE))),  # PWCTR5
    (0xC5, bytes((0x0E,))),  # VMCTR1
)
_GAMMA: Final = (
    (0xE0, bytes.fromhex("021c07123732292d29252b3900010310")),  # GMCTRP1
    (0xE1, bytes.fromhex("031d07062e2c292d2e2e373f00000210")),  # GMCTRN1
)
_MADCTL_BGR: Final = 0xC8
_MADCTL_RGB: Final = 0xC0
_COLMOD_16BIT: Final = 0x05

# Waits. The datasheet requires 120 ms after SWRESET before SLPOUT and 120 ms between
# sleep toggles; we keep the vendor's values for the two waits it makes at init (150 ms,
# 500 ms: the booster settles before the panel is driven) and drop the vendor's 100 ms
# after NORON and after DISPON and its 100 ms backlight blink, which no datasheet rule
# asks for.
RESET_WAIT: Final = 0.150
SLEEP_OUT_INIT_WAIT: Final = 0.500
SLEEP_TOGGLE_WAIT: Final = 0.120
# After SLPIN or SLPOUT the datasheet asks for 5 ms before the next command.
COMMAND_WAIT: Final = 0.005

# Glass size in the controller's own orientation (columns x rows).
PANEL_COLS: Final = 80
PANEL_ROWS: Final = 160

# A separate band costs CASET (+4 bytes), RAMWR, four D/C writes and three transfers,
# about 0.3-0.4 ms of system calls on a Pi: roughly 400 bytes of wire time at 10 MHz.
# Two bands closer than that are sent as one. An estimate, not measured on a Pi.
_BAND_OVERHEAD_BYTES: Final = 400

_TRANSPOSE: Final = {
    0: None,
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


# RGB565 bit fields as byte lookups: high byte RRRRRGGG, low byte GGGBBBBB.
_RED_HIGH: Final = [v & 0xF8 for v in range(256)]
_GREEN_HIGH: Final = [v >> 5 for v in range(256)]
_GREEN_LOW: Final = [(v << 3) & 0xE0 for v in range(256)]
_BLUE_LOW: Final = [v >> 3 for v in range(256)]


def encode_rgb565_pillow(image: Image.Image) -> bytes:
    """Encode an RGB image as big-endian RGB565 with Pillow only (row-major order)."""
    red, green, blue = image.split()
    # The two bit fields of each byte do not overlap, so a saturating add is an "or".
    high = ImageChops.add(red.point(_RED_HIGH), green.point(_GREEN_HIGH))
    low = ImageChops.add(green.point(_GREEN_LOW), blue.point(_BLUE_LOW))
    # An "LA" image stores its two bands interleaved: high byte, low byte per pixel.
    return Image.merge("LA", (high, low)).tobytes()


def encode_rgb565_numpy(image: Image.Image) -> bytes:
    """Encode an RGB image as big-endian RGB565 with numpy (row-major order)."""
    import numpy as np  # noqa: PLC0415 - imported on the first frame, not at HA start

    pixels = np.asarray(image)
    out = np.empty((*pixels.shape[:2], 2), np.uint8)
    # uint8 shifts drop the high bits, which is exactly the masking RGB565 needs.
    out[..., 0] = (pixels[..., 0] & 0xF8) | (pixels[..., 1] >> 5)
    out[..., 1] = ((pixels[..., 1] << 3) & 0xE0) | (pixels[..., 2] >> 3)
    return out.tobytes()


def _pick_encoder() -> Callable[[Image.Image], bytes]:
    """Pick the faster RGB565 encoder that is installed.

    Measured on x86 (Python 3.14, Pillow 12.3, numpy 2.3) for one 160x80 frame: numpy
    46 us, Pillow-only 84 us, the vendor's ``image_to_data`` 195 us; all far below the
    20.5 ms the frame takes on the wire. numpy is imported lazily, on the first frame,
    so it costs nothing at Home Assistant start (a cold import takes about 0.4 s).
    """
    if importlib.util.find_spec("numpy") is None:
        return encode_rgb565_pillow
    return encode_rgb565_numpy


class ST7735Display:
    """The Enviro+ LCD: 160x80 pixels in landscape, RGB565 over SPI.

    ``dc`` and ``backlight`` are ``(line request, offset)`` pairs. The driver is
    thread safe; ``show`` after an error resends the whole frame.
    """

    WIDTH: Final = 160
    HEIGHT: Final = 80

    def __init__(
        self,
        spi: SPIPort,
        dc: tuple[LineRequest, int],
        backlight: tuple[LineRequest, int] | None = None,
        *,
        rotation: int = 270,
        invert: bool = True,
        offset_left: int = 26,
        offset_top: int = 1,
        bgr: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        encoder: Callable[[Image.Image], bytes] | None = None,
    ) -> None:
        """Wire the driver; nothing is sent until :meth:`begin`.

        ``sleep`` and ``clock`` time the datasheet's waits (tests pass fakes);
        ``encoder`` overrides the RGB565 encoder picked by measurement.
        """
        if rotation not in _TRANSPOSE:
            raise ValueError(f"rotation must be 0, 90, 180 or 270, not {rotation}")
        self._spi = spi
        self._dc = dc
        self._backlight = backlight
        self._rotation = rotation
        self._invert = invert
        self._offset_left = offset_left
        self._offset_top = offset_top
        self._bgr = bgr
        self._sleep = sleep
        self._clock = clock
        self._encode = encoder or _pick_encoder()
        self.width, self.height = (
            (PANEL_ROWS, PANEL_COLS) if rotation in (90, 270) else (PANEL_COLS, PANEL_ROWS)
        )
        self._lock = threading.RLock()
        self._dc_level: bool | None = None
        self._window: tuple[int, int, int, int] | None = None
        self._previous: bytes | None = None
        self._last_sleep_toggle = float("-inf")
        self.asleep = True
        self.on = False

    @property
    def size(self) -> tuple[int, int]:
        """Return the picture size ``show`` takes (width, height)."""
        return self.width, self.height

    # -- life cycle ---------------------------------------------------------------

    def begin(self) -> None:
        """Reset and initialise the controller; the backlight comes on at the end."""
        with self._lock:
            self._forget()
            self._set_line(self._backlight, False)
            self._command(SWRESET)
            self._sleep(RESET_WAIT)
            self._command(SLPOUT)
            self._last_sleep_toggle = self._clock()
            self.asleep = False
            self._sleep(SLEEP_OUT_INIT_WAIT)
            for command, parameters in _PANEL_SETUP:
                self._command(command, parameters)
            self._command(INVON if self._invert else INVOFF)
            self._command(MADCTL, bytes((_MADCTL_BGR if self._bgr else _MADCTL_RGB,)))
            self._command(COLMOD, bytes((_COLMOD_16BIT,)))
            self._set_window((0, PANEL_COLS - 1, 0, PANEL_ROWS - 1), force=True)
            for command, parameters in _GAMMA:
                self._command(command, parameters)
            # NORON and DISPON take no parameters: one transfer carries both.
            self._command(bytes((NORON, DISPON)))
            self.on = True
            self._set_line(self._backlight, True)

    def set_backlight(self, on: bool) -> None:
        """Switch the backlight (no-op without a backlight line)."""
        with self._lock:
            self._set_line(self._backlight, on)

    def off(self) -> None:
        """Blank the panel and switch the backlight off; memory keeps the picture."""
        with self._lock:
            self._set_line(self._backlight, False)
            self._command(DISPOFF)
            self.on = False

    def sleep(self) -> None:
        """Like :meth:`off`, and put the controller to sleep to save power."""
        with self._lock:
            self.off()
            if not self.asleep:
                self._wait_for_sleep_toggle()
                self._command(SLPIN)
                self._last_sleep_toggle = self._clock()
                self.asleep = True
                self._sleep(COMMAND_WAIT)

    def wake(self) -> None:
        """Undo :meth:`sleep` or :meth:`off`: the last picture shows again."""
        with self._lock:
            if self.asleep:
                self._wait_for_sleep_toggle()
                self._command(SLPOUT)
                self._last_sleep_toggle = self._clock()
                self.asleep = False
                self._sleep(COMMAND_WAIT)
            self._command(DISPON)
            self.on = True
            self._set_line(self._backlight, True)

    # -- pictures -----------------------------------------------------------------

    def show(self, image: Image.Image) -> int:
        """Show ``image``, sending only the rows that changed; return pixel bytes sent."""
        return self._show(image, full=False)

    def show_full(self, image: Image.Image) -> int:
        """Show ``image`` by sending the whole frame; return pixel bytes sent."""
        return self._show(image, full=True)

    def _show(self, image: Image.Image, *, full: bool) -> int:
        """Encode, compare with the last frame and push the changed bands."""
        if image.size != self.size:
            raise ValueError(f"image is {image.size[0]}x{image.size[1]}, expected {self.size}")
        if image.mode != "RGB":
            image = image.convert("RGB")
        frame = self._encode(image)
        with self._lock:
            previous, self._previous = self._previous, None
            if full or previous is None:
                bands = [(0, self.height - 1)]
            else:
                bands = self._changed_bands(previous, frame)
            sent = 0
            # On an error _previous stays None, so the next frame is sent whole: the
            # controller's memory is unknown after a broken transfer.
            for first, last in bands:
                sent += self._push_band(frame, first, last)
            self._previous = frame
        return sent

    def _changed_bands(self, previous: bytes, frame: bytes) -> list[tuple[int, int]]:
        """Return inclusive row ranges that differ, merging bands closer than a band costs."""
        row_bytes = self.width * 2
        bands: list[tuple[int, int]] = []
        merge_gap = _BAND_OVERHEAD_BYTES // row_bytes
        for row in range(self.height):
            start = row * row_bytes
            if previous[start : start + row_bytes] == frame[start : start + row_bytes]:
                continue
            if bands and row - bands[-1][1] - 1 <= merge_gap:
                bands[-1] = (bands[-1][0], row)
            else:
                bands.append((row, row))
        return bands

    def _push_band(self, frame: bytes, first: int, last: int) -> int:
        """Send picture rows ``first..last`` into the matching controller window."""
        row_bytes = self.width * 2
        rows = last - first + 1
        band = frame[first * row_bytes : (last + 1) * row_bytes]
        transpose = _TRANSPOSE[self._rotation]
        if transpose is not None:
            # "LA" holds two bytes per pixel, so Pillow turns RGB565 pixels unchanged.
            band = Image.frombytes("LA", (self.width, rows), band).transpose(transpose).tobytes()
        self._set_window(self._band_window(first, last))
        self._command(RAMWR)
        self._data(band)
        return len(band)

    def _band_window(self, first: int, last: int) -> tuple[int, int, int, int]:
        """Return the panel window (col0, col1, row0, row1) that picture rows occupy."""
        match self._rotation:
            case 0:
                return 0, PANEL_COLS - 1, first, last
            case 180:
                return 0, PANEL_COLS - 1, self.height - 1 - last, self.height - 1 - first
            case 270:
                return self.height - 1 - last, self.height - 1 - first, 0, PANEL_ROWS - 1
            case _:
                return first, last, 0, PANEL_ROWS - 1

    # -- the wire -----------------------------------------------------------------

    def _set_window(self, window: tuple[int, int, int, int], *, force: bool = False) -> None:
        """Set CASET/RASET, skipping what the controller already holds."""
        col0, col1, row0, row1 = window
        known = self._window
        if force or known is None or known[:2] != window[:2]:
            left = self._offset_left
            self._command(CASET, struct.pack(">HH", col0 + left, col1 + left))
        if force or known is None or known[2:] != window[2:]:
            top = self._offset_top
            self._command(RASET, struct.pack(">HH", row0 + top, row1 + top))
        self._window = window

    def _command(self, command: int | bytes, parameters: bytes = b"") -> None:
        """Send a command byte (or several without parameters), then its parameters."""
        self._set_dc(False)
        self._write(bytes((command,)) if isinstance(command, int) else command)
        if parameters:
            self._data(parameters)

    def _data(self, data: bytes) -> None:
        """Send parameter or pixel bytes."""
        self._set_dc(True)
        self._write(data)

    def _write(self, data: bytes) -> None:
        """Write to SPI; after a failure nothing cached about the controller holds."""
        try:
            self._spi.write(data)
        except OSError:
            self._forget()
            raise

    def _set_dc(self, level: bool) -> None:
        """Drive D/C only when it changes: each GPIO write is a system call."""
        if self._dc_level is level:
            return
        self._dc_level = None
        self._set_line(self._dc, level)
        self._dc_level = level

    def _forget(self) -> None:
        """Drop every cached assumption about the controller and the D/C line."""
        self._previous = None
        self._window = None
        self._dc_level = None

    def _wait_for_sleep_toggle(self) -> None:
        """Wait out the datasheet's 120 ms between SLPIN and SLPOUT."""
        remaining = self._last_sleep_toggle + SLEEP_TOGGLE_WAIT - self._clock()
        if remaining > 0:
            self._sleep(remaining)

    @staticmethod
    def _set_line(line: tuple[LineRequest, int] | None, level: bool) -> None:
        """Drive a GPIO line if there is one."""
        if line is not None:
            request, offset = line
            request.set_value(offset, Value.ACTIVE if level else Value.INACTIVE)
