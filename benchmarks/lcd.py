"""Benchmark the LCD drivers against the SPI wire time, on the emulated controller.

Run from the repository root: ``.venv/bin/python -m benchmarks.lcd``. The emulated SPI
port is paced at 10 MHz (a write lasts as long as its bytes on the wire), so a driver's
time divided by the wire floor shows what it adds: conversion, commands, GPIO writes.
It does not show a real Pi's per-transfer system-call cost, which the emulator lacks.
Prints a markdown table; all ratios come from the same run.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import st7735
from PIL import Image, ImageDraw

from custom_components.qiot_enviro.enviro.emulator.gpio import EmulatedGPIOChip
from custom_components.qiot_enviro.enviro.emulator.st7735 import (
    EmulatedSPIPort,
    EmulatedST7735,
)
from custom_components.qiot_enviro.enviro.st7735 import ST7735Display

SPEED_HZ = 10_000_000
FULL_FRAME_BYTES = 160 * 80 * 2


def wire_ms(count: int) -> float:
    """Return how long ``count`` bytes take on the wire at SPEED_HZ, in milliseconds."""
    return count * 8 / SPEED_HZ * 1000


class Rig:
    """An emulated LCD behind a paced SPI port."""

    def __init__(self) -> None:
        """Build chip, controller, paced port and the claimed D/C and backlight lines."""
        self.chip = EmulatedGPIOChip()
        self.controller = EmulatedST7735(self.chip)
        self.port = EmulatedSPIPort(self.controller, speed_hz=SPEED_HZ, pace=True)
        self.lines = self.chip.request_outputs("bench", {"GPIO9": False, "GPIO12": False})


def vendor_driver(rig: Rig) -> st7735.ST7735:
    """Return the vendor driver writing to ``rig`` through a forwarding ``SpiDev``."""
    port = rig.port

    class ForwardingSpiDev:
        """``spidev.SpiDev`` whose transfers land on the emulated port."""

        def __init__(self, bus: int, device: int) -> None:
            """Take the settings the vendor driver assigns."""
            self.mode = 0
            self.lsbfirst = False
            self.max_speed_hz = SPEED_HZ

        def xfer3(self, data: list[int]) -> None:
            """Send bytes as one transfer."""
            port.write(bytes(data))

    saved = st7735.spidev.SpiDev
    st7735.spidev.SpiDev = ForwardingSpiDev
    try:
        return st7735.ST7735(
            port=0,
            cs=1,
            dc=(rig.lines, 9),
            backlight=(rig.lines, 12),
            rotation=270,
            spi_speed_hz=SPEED_HZ,
        )
    finally:
        st7735.spidev.SpiDev = saved


def median_ms(action: Callable[[], object], runs: int, before: Callable[[], object]) -> float:
    """Return the median wall time of ``action`` in ms, calling ``before`` untimed first."""
    samples = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def base_image() -> Image.Image:
    """Return a dashboard-like picture: a background gradient and three text lines."""
    image = Image.linear_gradient("L").resize((160, 80)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.text((4, 4), "Temperature 21.4 C", fill=(255, 255, 255))
    draw.text((4, 24), "Humidity 48 %", fill=(255, 255, 0))
    draw.text((4, 44), "PM2.5 7 ug/m3", fill=(0, 255, 0))
    return image


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25, help="runs per median")
    runs = parser.parse_args().runs

    ours_rig = Rig()
    ours = ST7735Display(ours_rig.port, dc=(ours_rig.lines, 9), backlight=(ours_rig.lines, 12))
    started = time.perf_counter()
    ours.begin()
    ours_begin = time.perf_counter() - started

    vendor_rig = Rig()
    started = time.perf_counter()
    vendor = vendor_driver(vendor_rig)
    vendor_begin = time.perf_counter() - started

    base = base_image()
    changed = base.copy()
    draw = ImageDraw.Draw(changed)
    draw.rectangle((4, 44, 120, 54), fill=base.getpixel((60, 50)))
    draw.text((4, 44), "PM2.5 9 ug/m3", fill=(0, 255, 0))

    ours_full = median_ms(lambda: ours.show_full(base), runs, lambda: None)
    vendor_full = median_ms(lambda: vendor.display(base), runs, lambda: None)
    ours.show(base)
    partial_bytes = ours.show(changed)
    partial = median_ms(lambda: ours.show(changed), runs, lambda: ours.show(base))
    change_full = median_ms(lambda: ours.show_full(changed), runs, lambda: ours.show(base))

    floor = wire_ms(FULL_FRAME_BYTES)
    rows = [
        ("our driver, full frame (`show_full`)", ours_full, FULL_FRAME_BYTES, floor),
        ("vendor `st7735`, full frame (`display`)", vendor_full, FULL_FRAME_BYTES, floor),
        ("one text line changed, our partial `show`", partial, partial_bytes, floor),
        ("one text line changed, our `show_full`", change_full, FULL_FRAME_BYTES, floor),
    ]
    print(f"Emulated SPI paced at {SPEED_HZ / 1e6:g} MHz; medians of {runs} runs.\n")
    print(
        "| case | median time | pixel bytes | wire time of those bytes | time / full-frame floor (20.48 ms) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, elapsed, count, reference in rows:
        print(
            f"| {name} | {elapsed:.2f} ms | {count:,} | {wire_ms(count):.2f} ms "
            f"| {elapsed / reference:.3f} |"
        )
    print(
        f"| init (`begin` / vendor constructor), real sleeps | "
        f"{ours_begin * 1000:.0f} ms / {vendor_begin * 1000:.0f} ms | | | |"
    )
    print(
        f"\nPartial update of one text line: {change_full / partial:.1f}x faster than a full "
        f"frame, {FULL_FRAME_BYTES / max(partial_bytes, 1):.1f}x fewer pixel bytes."
    )
    print(
        f"Transfers per full frame: ours {_transfers(ours_rig, lambda: ours.show_full(base))}, "
        f"vendor {_transfers(vendor_rig, lambda: vendor.display(base))}."
    )


def _transfers(rig: Rig, action: Callable[[], object]) -> int:
    """Return how many SPI writes ``action`` made."""
    before = rig.controller.transfers
    action()
    return rig.controller.transfers - before


if __name__ == "__main__":
    main()
