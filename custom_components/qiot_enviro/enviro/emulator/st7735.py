"""An emulated ST7735 LCD controller and the SPI port that feeds it.

The controller is rebuilt from the bytes on the wire: at every SPI write it reads the
D/C line of the emulated GPIO chip (low = command, high = parameters or pixel data),
so a driver that toggles D/C at the wrong moment paints the wrong picture, exactly as
on the board. It keeps the controller's 132x162 frame memory and renders the part
behind the Enviro+'s 80x160 glass as the 160x80 landscape picture a person sees.

Modelling choices, each checked against the vendor ``st7735`` driver (a frame it sends
with the Enviro+ settings must look like the image it was given):

* the glass sits at column 26, row 1 of the memory;
* the panel has a BGR colour filter: MADCTL's RGB bit set (as the vendor sends) gives
  true colours, clear swaps red and blue;
* the panel is normally inverted: INVON (as the vendor sends) gives true colours,
  INVOFF shows the negative;
* nothing is visible while the controller sleeps, the display is off or the backlight
  line is low.

MADCTL's MV (row/column exchange) follows the datasheet's description: the column and
row address counters are mirrored by MX and MY, then MV routes the column counter to
the memory rows. Neither our driver nor the vendor's sets MV, so that path has not been
checked against a real panel.
"""

import errno
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable

from PIL import Image, ImageChops

from .gpio import EmulatedGPIOChip, bcm_number

# Commands (ST7735S datasheet, section 10).
SWRESET = 0x01
SLPIN = 0x10
SLPOUT = 0x11
INVOFF = 0x20
INVON = 0x21
DISPOFF = 0x28
DISPON = 0x29
CASET = 0x2A
RASET = 0x2B
RAMWR = 0x2C
MADCTL = 0x36
COLMOD = 0x3A

MADCTL_MY = 0x80
MADCTL_MX = 0x40
MADCTL_MV = 0x20
MADCTL_ML = 0x10
MADCTL_BGR = 0x08

COLMOD_16BIT = 0x05
# Power-on default of COLMOD is 18-bit colour (datasheet, "default value" table).
COLMOD_RESET = 0x06

MEMORY_COLS = 132
MEMORY_ROWS = 162
# Where the Enviro+'s 80x160 glass sits in the 132x162 memory.
GLASS_LEFT = 26
GLASS_TOP = 1
GLASS_COLS = 80
GLASS_ROWS = 160
# What a person sees: the glass turned to landscape.
PICTURE_SIZE = (GLASS_ROWS, GLASS_COLS)

# Datasheet waits: after SWRESET, 5 ms before any command and 120 ms before SLPOUT;
# after SLPOUT, 5 ms before any command and 120 ms before SLPIN; after SLPIN, 120 ms
# before SLPOUT. A command sent too early is recorded and dropped, so a driver that
# skimps on a required wait shows a black or stale picture instead of passing silently.
WAIT_ANY = 0.005
WAIT_SLEEP_TOGGLE = 0.120

_CLOCK_SLACK = 1e-6
_BYTES_PER_PIXEL = 2
_RECENT_COMMANDS = 256


class EmulatedST7735:
    """An ST7735 controller driven through an emulated SPI port and GPIO chip."""

    def __init__(
        self,
        gpio: EmulatedGPIOChip,
        dc_line: str = "GPIO9",
        backlight_line: str = "GPIO12",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wire the controller to the D/C and backlight lines of ``gpio``.

        ``clock`` times the datasheet's required waits; tests that fake ``time.sleep``
        pass the matching fake clock.
        """
        self._gpio = gpio
        # Wired by BCM pin: the kernel's name for the line does not matter to the panel.
        self._dc = bcm_number(dc_line)
        self._backlight = bcm_number(backlight_line)
        self._clock = clock
        self._lock = threading.RLock()
        self._memory = bytearray(MEMORY_COLS * MEMORY_ROWS * _BYTES_PER_PIXEL)
        self._pixels = memoryview(self._memory).cast("H")
        self._listeners: list[Callable[[], None]] = []
        # Counters a test or benchmark reads.
        self.bytes_received = 0
        self.ramwr_bytes = 0
        self.frames = 0
        self.transfers = 0
        self.dc_toggles = 0
        self.dropped_bytes = 0
        self.command_counts: Counter[int] = Counter()
        self.parameters: dict[int, bytes] = {}
        self.recent_commands: deque[int] = deque(maxlen=_RECENT_COMMANDS)
        self.timing_violations: list[str] = []
        self._command: int | None = None
        self._params = bytearray()
        self._pending: int | None = None
        self._frame_counted = False
        self._last_reset = float("-inf")
        self._last_sleep_toggle = float("-inf")
        self._reset_registers()
        gpio.listen(dc_line, self._on_dc)
        gpio.listen(backlight_line, self._on_backlight)

    def _reset_registers(self) -> None:
        """Put the registers in their power-on / software-reset state."""
        self.sleeping = True
        self.display_on = False
        self.inverted = False
        self.madctl = 0
        self.colmod = COLMOD_RESET
        self.window = (0, MEMORY_COLS - 1, 0, MEMORY_ROWS - 1)
        self._col = 0
        self._row = 0

    # -- what a person (or a test) sees ------------------------------------------

    @property
    def backlight(self) -> bool:
        """Tell whether the backlight line is high."""
        return self._gpio.level(self._backlight)

    @property
    def visible(self) -> bool:
        """Tell whether the panel shows anything at all."""
        return self.backlight and self.display_on and not self.sleeping

    def picture(self) -> Image.Image:
        """Return the 160x80 landscape picture a person sees on the Enviro+."""
        if not self.visible:
            return Image.new("RGB", PICTURE_SIZE)
        return self.memory_picture()

    def memory_picture(self) -> Image.Image:
        """Return what the glass would show if display, sleep and backlight allowed it."""
        with self._lock:
            row_bytes = MEMORY_COLS * _BYTES_PER_PIXEL
            start = GLASS_LEFT * _BYTES_PER_PIXEL
            end = start + GLASS_COLS * _BYTES_PER_PIXEL
            glass = b"".join(
                self._memory[row * row_bytes + start : row * row_bytes + end]
                for row in range(GLASS_TOP, GLASS_TOP + GLASS_ROWS)
            )
            bgr_filter_matched = bool(self.madctl & MADCTL_BGR)
            inverted = self.inverted
        # Memory holds big-endian RGB565; Pillow's "BGR;16" unpacker reads little-endian
        # words with red in the top bits, so swap the two bytes of every pixel (this
        # works on either host byte order: it moves bytes, it does not read words).
        words = array("H", glass)
        words.byteswap()
        image = Image.frombytes("RGB", (GLASS_COLS, GLASS_ROWS), words.tobytes(), "raw", "BGR;16")
        if not bgr_filter_matched:
            red, green, blue = image.split()
            image = Image.merge("RGB", (blue, green, red))
        if not inverted:
            image = ImageChops.invert(image)
        # The Enviro+ holds the glass turned a quarter to the left: undo it.
        return image.transpose(Image.Transpose.ROTATE_270)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after each change of the picture; return an unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            """Stop calling the listener."""
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- the wire -----------------------------------------------------------------

    def receive(self, data: bytes | bytearray | memoryview) -> None:
        """Take one SPI transfer, interpreted by the current D/C level."""
        changed = False
        with self._lock:
            self.transfers += 1
            self.bytes_received += len(data)
            if self._gpio.level(self._dc):
                changed = self._receive_data(memoryview(data).cast("B"))
            else:
                for command in bytes(data):
                    changed = self._execute(command) or changed
        if changed:
            self._notify()

    def _on_dc(self, _level: bool) -> None:
        """Count D/C edges: each is a GPIO write the driver had to make."""
        self.dc_toggles += 1

    def _on_backlight(self, _level: bool) -> None:
        """Tell listeners: the backlight decides whether anything shows."""
        self._notify()

    def _notify(self) -> None:
        """Call the picture listeners outside the lock."""
        for listener in list(self._listeners):
            listener()

    def _execute(self, command: int) -> bool:
        """Run one command byte; return whether the picture may have changed."""
        now = self._clock()
        self.recent_commands.append(command)
        self.command_counts[command] += 1
        if self._too_early(command, now):
            self._command = None
            return False
        self._command = command
        self._params = bytearray()
        self._pending = None
        if command == SWRESET:
            self._reset_registers()
            self._last_reset = now
            return True
        if command in (SLPIN, SLPOUT):
            self.sleeping = command == SLPIN
            self._last_sleep_toggle = now
            return True
        if command in (INVON, INVOFF):
            self.inverted = command == INVON
            return True
        if command in (DISPON, DISPOFF):
            self.display_on = command == DISPON
            return True
        if command == RAMWR:
            xs, _xe, ys, _ye = self.window
            self._col, self._row = xs, ys
            self._frame_counted = False
        return False

    def _too_early(self, command: int, now: float) -> bool:
        """Record and refuse a command that breaks a datasheet wait."""
        # A microsecond of slack: a driver that sleeps exactly the required time must
        # not fail on the rounding of the clock's float sums.
        since_reset = now - self._last_reset + _CLOCK_SLACK
        since_toggle = now - self._last_sleep_toggle + _CLOCK_SLACK
        problem = None
        if since_reset < WAIT_ANY or since_toggle < WAIT_ANY:
            problem = "within 5 ms of SWRESET/SLPOUT/SLPIN"
        elif command == SLPOUT and since_reset < WAIT_SLEEP_TOGGLE:
            problem = "SLPOUT within 120 ms of SWRESET"
        elif command in (SLPIN, SLPOUT) and since_toggle < WAIT_SLEEP_TOGGLE:
            problem = "sleep toggled within 120 ms of the previous toggle"
        if problem is None:
            return False
        self.timing_violations.append(f"command 0x{command:02X} {problem}")
        return True

    def _receive_data(self, data: memoryview) -> bool:
        """Take parameter or pixel bytes for the current command."""
        command = self._command
        if command is None:
            self.dropped_bytes += len(data)
            return False
        if command == RAMWR:
            return self._write_pixels(data)
        self._params += data
        self.parameters[command] = bytes(self._params)
        if command in (CASET, RASET) and len(self._params) >= 4:
            start = self._params[0] << 8 | self._params[1]
            end = self._params[2] << 8 | self._params[3]
            xs, xe, ys, ye = self.window
            self.window = (start, end, ys, ye) if command == CASET else (xs, xe, start, end)
        elif command == MADCTL:
            self.madctl = self._params[0]
            return True
        elif command == COLMOD:
            self.colmod = self._params[0]
        return False

    def _write_pixels(self, data: memoryview) -> bool:
        """Store RAMWR bytes at the address counter, which walks the window and wraps."""
        self.ramwr_bytes += len(data)
        if (self.colmod & 0x07) != COLMOD_16BIT:
            # 12- and 18-bit pixel formats are not emulated; a driver that forgets
            # COLMOD gets a blank picture rather than a plausible one.
            self.dropped_bytes += len(data)
            return False
        if not self._frame_counted and len(data):
            self.frames += 1
            self._frame_counted = True
        if self._pending is not None:
            self._store_run(bytes((self._pending, data[0])))
            self._pending = None
            data = data[1:]
        whole = len(data) - len(data) % _BYTES_PER_PIXEL
        if whole:
            self._store_run(data[:whole])
        if whole < len(data):
            self._pending = data[whole]
        return True

    def _store_run(self, data: bytes | memoryview) -> None:
        """Store whole pixels row by row of the window, in C-speed slices."""
        xs, xe, ys, ye = self.window
        if xs > xe or ys > ye:
            self.dropped_bytes += len(data)
            return
        source = memoryview(data).cast("B").cast("H")
        swapped = bool(self.madctl & MADCTL_MV)
        logical_cols, logical_rows = (
            (MEMORY_ROWS, MEMORY_COLS) if swapped else (MEMORY_COLS, MEMORY_ROWS)
        )
        done = 0
        total = len(source)
        while done < total:
            run = min(total - done, xe - self._col + 1)
            self._store_row(source[done : done + run], logical_cols, logical_rows, swapped)
            done += run
            self._col += run
            if self._col > xe:
                self._col = xs
                self._row = ys if self._row >= ye else self._row + 1

    def _store_row(
        self, pixels: memoryview, logical_cols: int, logical_rows: int, swapped: bool
    ) -> None:
        """Store pixels at logical row ``_row`` from column ``_col`` on."""
        row = self._row
        first = self._col
        count = len(pixels)
        # Pixels outside the memory are lost, as on the chip.
        if row >= logical_rows or first >= logical_cols:
            return
        if first + count > logical_cols:
            count = logical_cols - first
            pixels = pixels[:count]
        mirrored_col = bool(self.madctl & MADCTL_MX)
        if self.madctl & MADCTL_MY:
            row = logical_rows - 1 - row
        col = logical_cols - 1 - first if mirrored_col else first
        step_along = -1 if mirrored_col else 1
        if swapped:
            # The column counter walks the memory rows.
            start = col * MEMORY_COLS + row
            step = step_along * MEMORY_COLS
        else:
            start = row * MEMORY_COLS + col
            step = step_along
        stop: int | None = start + step * count
        if stop is not None and stop < 0:
            stop = None
        self._pixels[start:stop:step] = pixels


class EmulatedSPIPort:
    """An SPI port (``SPIPort``) wired to an :class:`EmulatedST7735`.

    With ``pace`` it takes as long as the bytes would take on the wire at
    ``max_speed_hz``, so benchmarks compare a driver against the physical floor.
    """

    def __init__(
        self, controller: EmulatedST7735, *, speed_hz: int = 10_000_000, pace: bool = False
    ) -> None:
        """Connect to ``controller``."""
        self.controller = controller
        self.max_speed_hz = speed_hz
        self.pace = pace
        self.closed = False
        self.writes = 0
        self._errors_left: int | None = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send one transfer; raise ``OSError`` when closed or a fault is injected."""
        if self.closed:
            raise OSError(errno.EBADF, "SPI port is closed")
        if self._errors_left is None or self._errors_left > 0:
            if self._errors_left is not None:
                self._errors_left -= 1
            raise OSError(errno.EIO, "SPI transfer failed (injected fault)")
        started = time.perf_counter()
        self.writes += 1
        self.controller.receive(data)
        if self.pace:
            _wait_until(started + len(data) * 8 / self.max_speed_hz)

    def close(self) -> None:
        """Close the port; later writes raise."""
        self.closed = True

    def inject_error(self, count: int | None) -> None:
        """Fail the next ``count`` writes with EIO (``None``: until cleared)."""
        self._errors_left = count

    def clear_error(self) -> None:
        """Stop failing writes."""
        self._errors_left = 0


def _wait_until(deadline: float) -> None:
    """Wait until ``deadline`` on ``perf_counter``, spinning for the last stretch.

    ``time.sleep`` overshoots by tens of microseconds to milliseconds, too coarse for a
    transfer of a few hundred bytes, so only the bulk of a long wait sleeps.
    """
    remaining = deadline - time.perf_counter()
    if remaining > 0.002:
        time.sleep(remaining - 0.001)
    while time.perf_counter() < deadline:
        pass
