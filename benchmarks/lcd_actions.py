"""Benchmark an LCD action: its cost on the event loop, and call to last byte on the wire.

Run from the repository root: ``.venv/bin/python -m benchmarks.lcd_actions``.

What a ``notify.qiot_lcd`` / ``qiot_enviro.show_message`` call does on the event loop is
``validate_message`` plus ``DisplayWorker.submit`` (plus scheduling the duration timer);
rendering and the SPI transfer happen on the display worker's thread. This script
measures exactly those two parts on the calling thread, then the time from the call to
the last byte on the emulated SPI wire (paced at 10 MHz, the real board's bus: the
simulated board's ``Board.show_image`` path, our ST7735 driver, the emulated
controller), against the wire floor of the bytes actually sent. Two cases: a full new
frame (a different message) and a one-line change (the same message with one line
changed, so only the changed rows are sent). Prints a markdown table; ratios come from
the same run.
"""

import argparse
import statistics
import threading
import time
from functools import partial

from custom_components.qiot_enviro.display.screens import render_message
from custom_components.qiot_enviro.display.worker import DisplayWorker
from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import create_simulated
from custom_components.qiot_enviro.lcd import validate_message

SPEED_HZ = 10_000_000


def wire_ms(count: int) -> float:
    """Return the time ``count`` bytes take at SPEED_HZ, in milliseconds."""
    return count * 8 / SPEED_HZ * 1000


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()

    simulated = create_simulated(pace=True, frame_interval=1.0)
    board = Board(simulated.provider, particulate_warmup=0.0)
    board.open()
    arrived = threading.Event()
    worker = DisplayWorker(board.show_image, on_frame=lambda _image: arrived.set())
    try:
        # Initialise the panel and the driver's caches before measuring.
        worker.submit(partial(render_message, "warm up"))
        worker.flush(30)

        loop_us: list[float] = []
        for n in range(args.runs * 20):
            start = time.perf_counter()
            message = validate_message(f"Call {n}", duration=30)
            worker.submit(partial(render_message, message.text))
            loop_us.append((time.perf_counter() - start) * 1e6)
        worker.flush(30)

        def to_wire(text: str) -> tuple[float, int]:
            before = simulated.lcd.ramwr_bytes
            arrived.clear()
            start = time.perf_counter()
            message = validate_message(text, duration=30)
            worker.submit(partial(render_message, message.text))
            arrived.wait(10)
            elapsed = (time.perf_counter() - start) * 1000
            return elapsed, simulated.lcd.ramwr_bytes - before

        full: list[tuple[float, int]] = []
        line: list[tuple[float, int]] = []
        for n in range(args.runs):
            # A new short message at a new size redraws most of the screen.
            full.append(to_wire(f"Full frame {n} " + "x" * (n % 7)))
            to_wire("Kitchen window is open\nTemperature 21 C")
            line.append(to_wire(f"Kitchen window is open\nTemperature {n % 10 + 10} C"))
    finally:
        worker.stop()
        board.close()

    rows = []
    loop = statistics.median(loop_us)
    for name, samples in (("new message (full frame)", full), ("one line changed", line)):
        elapsed = statistics.median(s[0] for s in samples)
        sent = int(statistics.median(s[1] for s in samples))
        rows.append((name, elapsed, sent, wire_ms(sent)))

    print(
        f"LCD action cost, median of {args.runs * 20} calls / {args.runs} frames, SPI paced at 10 MHz"
    )
    print()
    print("| measure | median | wire floor | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| event-loop time of one call (validate + queue) | {loop:.1f} µs | | |")
    for name, elapsed, sent, floor in rows:
        ratio = elapsed / floor if floor else float("nan")
        print(
            f"| call to last byte, {name}: {sent:,} pixel bytes | {elapsed:.2f} ms "
            f"| {floor:.2f} ms | {ratio:.2f} |"
        )
    print(
        f"| event-loop time / call-to-wire time, full frame | {loop / 1000 / rows[0][1]:.5f} | | |"
    )


if __name__ == "__main__":
    main()
