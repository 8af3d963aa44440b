"""An emulated GPIO chip: named lines, claims, levels, and claim faults."""

import errno
import threading
from collections.abc import Callable

from gpiod.line import Value

# Line names of the Raspberry Pi header, as the kernel names them on pinctrl-bcm2835.
PI_LINE_NAMES = tuple(f"GPIO{n}" for n in range(28))


class EmulatedLineRequest:
    """Claimed lines of an :class:`EmulatedGPIOChip`; ``gpiod.LineRequest`` calls."""

    def __init__(self, chip: EmulatedGPIOChip, consumer: str, offsets: list[int]) -> None:
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
    """A GPIO chip with the Raspberry Pi's line names.

    Each line has a level and at most one claim. Tests and the simulated board can
    claim a line for a foreign consumer (``occupy``) to reproduce "line busy", and
    watch a line's level through listeners (the emulated ST7735 reads D/C this way).
    """

    def __init__(self, path: str = "/dev/gpiochip0", label: str = "pinctrl-bcm2835") -> None:
        """Create a chip whose lines are all low and unclaimed."""
        self.path = path
        self.label = label
        self._lock = threading.Lock()
        self._levels = dict.fromkeys(range(len(PI_LINE_NAMES)), False)
        self._claims: dict[int, str] = {}
        self._listeners: dict[int, list[Callable[[bool], None]]] = {}
        self.open_handles = 0

    # -- the chip as the board code sees it (GPIOChip protocol) --------------------

    def line_offset(self, name: str) -> int:
        """Return the offset of a named line."""
        try:
            return PI_LINE_NAMES.index(name)
        except ValueError:
            raise OSError(errno.ENOENT, f"line {name} not found") from None

    def request_outputs(self, consumer: str, lines: dict[str, bool]) -> EmulatedLineRequest:
        """Claim named lines as outputs at the given levels."""
        offsets = [self.line_offset(name) for name in lines]
        with self._lock:
            for offset in offsets:
                if offset in self._claims:
                    raise OSError(
                        errno.EBUSY,
                        f"line {PI_LINE_NAMES[offset]} busy: claimed by {self._claims[offset]}",
                    )
            for offset in offsets:
                self._claims[offset] = consumer
        for name, level in lines.items():
            self.drive(self.line_offset(name), level)
        return EmulatedLineRequest(self, consumer, offsets)

    def close(self) -> None:
        """Close a handle on the chip."""
        self.open_handles = max(0, self.open_handles - 1)

    # -- the emulator's side ------------------------------------------------------

    def opened(self) -> EmulatedGPIOChip:
        """Count a handle opened by the provider and return the chip."""
        self.open_handles += 1
        return self

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
        """Return a named line's level."""
        return self._levels[self.line_offset(name)]

    def listen(self, name: str, listener: Callable[[bool], None]) -> None:
        """Call ``listener(level)`` whenever the named line changes level."""
        self._listeners.setdefault(self.line_offset(name), []).append(listener)

    def unclaim(self, offsets: list[int]) -> None:
        """Drop the claims on offsets."""
        with self._lock:
            for offset in offsets:
                self._claims.pop(offset, None)

    def occupy(self, name: str, consumer: str = "another-process") -> None:
        """Fault: claim a line for a foreign consumer, so that a request gets EBUSY."""
        with self._lock:
            self._claims[self.line_offset(name)] = consumer

    def vacate(self, name: str) -> None:
        """Clear a foreign claim made with :meth:`occupy`."""
        self.unclaim([self.line_offset(name)])

    def claimed(self) -> dict[str, str]:
        """Return the claimed lines by name with their consumers."""
        with self._lock:
            return {PI_LINE_NAMES[o]: c for o, c in self._claims.items()}
