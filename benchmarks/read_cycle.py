"""How close a polling cycle comes to the I2C bus-time floor, against the vendor way.

The emulated I2C bus is paced like a 100 kHz bus (nine bit-times, 90 µs, per byte on the
wire, address and register bytes included), so a cycle cannot be faster than the bytes
it moves. For each ADC the script times:

- ``Board.read()``: one BME280 update, one LTR559 update, three single-shot gas reads;
- the vendor way, as the enviroplus examples do it: ``get_temperature()``,
  ``get_pressure()``, ``get_humidity()`` (each a full update), ``get_lux()``,
  ``get_proximity()`` and ``enviroplus.gas.read_all()``.

Both are compared with the floor of ``Board.read()`` (its bytes x 90 µs). Medians over
several runs, 0.11 s apart so that each cycle finds new LTR559 data (its "new data"
bits clear when the data is read; readings closer together would skip those reads). Run: ``.venv/bin/python benchmarks/read_cycle.py [--runs N]``.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bme280
import gpiodevice
import ltr559
import smbus2
from enviroplus import gas

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.bus import ADDR_BME280
from custom_components.qiot_enviro.enviro.emulator.board import (
    EmulatedBoard,
    create_simulated,
)
from custom_components.qiot_enviro.enviro.emulator.i2c import EmulatedI2CHandle

# The LTR559 measures proximity every 100 ms (light every 50 ms) at the driver's
# settings, and its data is read only when new.
CYCLE_GAP = 0.11

ROOM = {
    "temperature": 21.5,
    "pressure": 1001.3,
    "humidity": 47.2,
    "lux": 123.4,
    "proximity": 17,
    "oxidising": 20_000.0,
    "reducing": 300_000.0,
    "nh3": 150_000.0,
}


def measure(sim: EmulatedBoard, cycle: Callable[[], object], runs: int) -> tuple[float, int]:
    """Return the median seconds and the median bytes of ``cycle`` on the paced bus."""
    times: list[float] = []
    sizes: list[int] = []
    for _ in range(runs):
        sim.i2c.reset_stats()
        started = time.perf_counter()
        cycle()
        times.append(time.perf_counter() - started)
        sizes.append(sim.i2c.bytes_transferred)
        # As between polls: long enough for the LTR559's next proximity measurement, so
        # that every cycle reads fresh light and proximity data, as a real poll does.
        time.sleep(CYCLE_GAP)
    return statistics.median(times), round(statistics.median(sizes))


def board_cycle(sim: EmulatedBoard, runs: int) -> tuple[float, int]:
    """Time ``Board.read()``."""
    board = Board(sim.provider, particulate_warmup=0.0)
    board.open()
    try:
        return measure(sim, board.read, runs)
    finally:
        board.close()


def vendor_cycle(sim: EmulatedBoard, runs: int) -> tuple[float, int]:
    """Time the enviroplus examples' way, on the same emulated chips."""
    requests: list[Any] = []

    def get_pin(pin: str, label: str, settings: object) -> tuple[Any, int]:
        request = sim.gpio.request_outputs(f"enviroplus-{label}", {pin: True})
        requests.append(request)
        return request, sim.gpio.line_offset(pin)

    with (
        patch.object(smbus2, "SMBus", lambda bus: EmulatedI2CHandle(sim.i2c)),
        patch.object(gpiodevice, "get_pin", get_pin),
        patch.object(gas.atexit, "register", lambda function: function),
    ):
        sensor = bme280.BME280(i2c_addr=ADDR_BME280, i2c_dev=EmulatedI2CHandle(sim.i2c))
        light = ltr559.LTR559(i2c_dev=EmulatedI2CHandle(sim.i2c))
        sensor.get_temperature()
        gas.read_all()
        time.sleep(0.2)

        def cycle() -> None:
            sensor.get_temperature()
            sensor.get_pressure()
            sensor.get_humidity()
            light.get_lux()
            light.get_proximity()
            gas.read_all()

        try:
            return measure(sim, cycle, runs)
        finally:
            for request in requests:
                request.release()
            gas._is_setup = False


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per measurement")
    args = parser.parse_args()
    rows = []
    for adc in ("ads1015", "ads1115"):
        ours_sim = create_simulated(pace=True, adc=adc)
        ours_sim.env.set(**ROOM)
        ours, ours_bytes = board_cycle(ours_sim, args.runs)
        vendor_sim = create_simulated(pace=True, adc=adc)
        vendor_sim.env.set(**ROOM)
        vendor, vendor_bytes = vendor_cycle(vendor_sim, args.runs)
        floor = ours_bytes * ours_sim.i2c.byte_time
        rows.append(("Board.read()", adc, ours, ours_bytes, floor))
        rows.append(("vendor getters", adc, vendor, vendor_bytes, floor))
    print(f"I2C paced at 100 kHz (90 µs per byte); median of {args.runs} runs.\n")
    print(
        "| cycle | ADC | median time | I2C bytes | bytes x 90 µs | floor of Board.read() | ratio to that floor |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, adc, seconds, size, floor in rows:
        print(
            f"| {name} | {adc.upper()} | {seconds * 1000:.2f} ms | {size} "
            f"| {size * 90e-3:.2f} ms | {floor * 1000:.2f} ms | {seconds / floor:.2f} |"
        )
    ads1115_floor = next(r[4] for r in rows if r[0] == "Board.read()" and r[1] == "ads1115")
    conversions = 3 / 128
    print(
        f"\nADS1115: three conversions at 128 SPS take {conversions * 1000:.1f} ms that no bus "
        f"traffic can shorten; bus floor + conversions = "
        f"{(ads1115_floor + conversions) * 1000:.2f} ms."
    )


if __name__ == "__main__":
    main()
