"""Benchmark the LCD screens and the cost of handing a frame to the display thread.

Run from the repository root: ``.venv/bin/python -m benchmarks.display``. Each render is
timed many times and the median reported, in milliseconds, three ways: with every cache
emptied first (Roboto looked up and loaded, advance widths, glyph bitmaps, layouts: the
first frame after a start), with a message the layout has not seen (the text differs on
every run, so the cached layout cannot help, but glyphs are cached) and with the same
message again (layout cached, only drawing left). ``submit`` is timed on the calling
thread while the worker is busy pushing frames to a sink that takes as long as the real
ST7735 transfer (20.5 ms at 10 MHz), which is what a caller on Home Assistant's event
loop pays. Prints a markdown table; all numbers come from one run.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from PIL import Image

from custom_components.qiot_enviro.display import (
    DisplayWorker,
    Readings,
    layout,
    render_clock,
    render_message,
    render_readings,
)

SHORT = "Door open"
MEDIUM = "The washing machine has finished. Please empty it before the clothes start to smell."
LONG = " ".join(["The quick brown fox jumps over the lazy dog."] * 10)
ACCENTED = "Température élevée à Besançon : ÉTÉ CHAUD, Größe µg/m³, Ærøskøbing, Привет"
READINGS = Readings(temperature=21.4, humidity=48.0, pm2_5=12.0, aqi=57, aqi_category="moderate")
NOW = datetime(2025, 1, 14, 9, 5).astimezone()
SPI_FRAME_SECONDS = 0.0205


def median_ms(action: Callable[[int], object], runs: int) -> float:
    """Return the median time of ``action(run)`` over ``runs`` runs, in milliseconds."""
    action(-1)
    times = []
    for run in range(runs):
        started = time.perf_counter_ns()
        action(run)
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1e6


def clear_caches() -> None:
    """Forget every font, measurement, glyph and layout, as after a restart."""
    layout.reset_caches()


def cold_ms(action: Callable[[int], object], runs: int) -> float:
    """Return the median time of ``action(run)`` with all caches emptied before each run."""
    times = []
    for run in range(runs):
        clear_caches()
        started = time.perf_counter_ns()
        action(run)
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1e6


def submit_us(render: Callable[[], Image.Image], calls: int) -> tuple[float, int, int]:
    """Time ``submit`` while the worker pushes frames; return median µs, calls, frames."""

    def sink(image: Image.Image) -> None:
        """Take as long as a full ST7735 frame on the wire."""
        time.sleep(SPI_FRAME_SECONDS)

    worker = DisplayWorker(sink, name="qiot-display-benchmark")
    try:
        times = []
        for _ in range(calls):
            started = time.perf_counter_ns()
            worker.submit(render)
            times.append(time.perf_counter_ns() - started)
            # Spread the calls out a little, as real updates are, so the worker runs too.
            if len(times) % 100 == 0:
                time.sleep(0.001)
        worker.flush(timeout=10)
        return statistics.median(times) / 1e3, calls, worker.frames
    finally:
        worker.stop()


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per render (median)")
    parser.add_argument("--submits", type=int, default=10_000, help="submit calls (median)")
    args = parser.parse_args()
    runs = args.runs

    cases: list[tuple[str, Callable[[int], object], Callable[[int], object]]] = [
        (
            f"message, short ({len(SHORT)} chars)",
            lambda run: render_message(f"{SHORT} {run}"),
            lambda run: render_message(SHORT),
        ),
        (
            f"message, medium ({len(MEDIUM)} chars, auto size)",
            lambda run: render_message(f"{run} {MEDIUM}"),
            lambda run: render_message(MEDIUM),
        ),
        (
            f"message, long ({len(LONG)} chars, truncated with …)",
            lambda run: render_message(f"{run} {LONG}"),
            lambda run: render_message(LONG),
        ),
        (
            f"message, accented ({len(ACCENTED)} chars, Latin + Cyrillic)",
            lambda run: render_message(f"{run} {ACCENTED}"),
            lambda run: render_message(ACCENTED),
        ),
        (
            "message with title",
            lambda run: render_message(f"{run} {MEDIUM}", title=f"Laundry {run}"),
            lambda run: render_message(MEDIUM, title="Laundry"),
        ),
        (
            "readings page (PM2.5 + AQI band)",
            lambda run: render_readings(2, Readings(pm2_5=run / 10, aqi=run % 500)),
            lambda run: render_readings(2, READINGS),
        ),
        (
            "clock",
            lambda run: render_clock(NOW.replace(minute=run % 60, hour=run // 60 % 24)),
            lambda run: render_clock(NOW),
        ),
    ]
    rows = [
        (
            name,
            cold_ms(fresh, max(runs // 10, 5)),
            median_ms(fresh, runs),
            median_ms(same, runs),
        )
        for name, fresh, same in cases
    ]
    submit, calls, frames = submit_us(lambda: render_readings(0, READINGS), args.submits)
    readings_ms = next(cached for name, _, _, cached in rows if name.startswith("readings"))

    print("| screen | cold caches, ms | new text, ms | same text again, ms |")
    print("|---|---:|---:|---:|")
    for name, cold, fresh, cached in rows:
        print(f"| {name} | {cold:.3f} | {fresh:.3f} | {cached:.3f} |")
    print()
    print("| `DisplayWorker.submit` on the caller's thread | value |")
    print("|---|---:|")
    print(f"| median per call | {submit:.2f} µs |")
    print(f"| readings render it avoids on the caller | {readings_ms * 1000:.0f} µs |")
    print(f"| render / submit | {readings_ms * 1000 / submit:.0f}x |")
    print(
        f"| render + SPI frame / submit | {(readings_ms + SPI_FRAME_SECONDS * 1000) * 1000 / submit:.0f}x |"
    )
    print(f"| frames pushed for {calls} submits | {frames} |")


if __name__ == "__main__":
    main()
