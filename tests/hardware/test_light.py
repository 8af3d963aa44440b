"""The LTR559 after its driver is rebuilt: no initial zeros, for the cycle or for taps.

The chip's "new data" bits clear when the data is read and come back after the next
integration (50 ms) or proximity measurement (100 ms); a driver just set up returns
its initial 0 lx and proximity 0 until it has seen them.
"""

import errno

import pytest

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.bus import ADDR_LTR559
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.proximity import ProximityWatcher

from .common import LUX_RESOLUTION, PINNED, wait_for


@pytest.mark.parametrize("fault", ["missing_chip", "i2c_error"])
def test_rebuilt_light_sensor_reports_the_room_not_its_initial_zero(
    opened: Board, sim: EmulatedBoard, fault: str
) -> None:
    """The cycle after the chip is back reads the room's light, not "dark, nothing near"."""
    if fault == "missing_chip":
        sim.faults.missing_chip(ADDR_LTR559)
    else:
        sim.faults.i2c_error(ADDR_LTR559, errno.EIO)
    failed = opened.read().light
    sim.faults.clear()

    light = opened.read().light

    assert failed is not None
    assert failed.value is None
    assert light is not None
    assert light.value is not None, light.error
    assert light.value.lux == pytest.approx(PINNED["lux"], abs=LUX_RESOLUTION)
    assert light.value.proximity == PINNED["proximity"]


def test_hand_held_over_a_recovering_sensor_is_one_tap(opened: Board, sim: EmulatedBoard) -> None:
    """The tap watcher never sees a rebuilt driver's proximity 0, which would re-arm it.

    A hand stays over the board while the light sensor drops out and comes back: one
    tap, because no fake "nothing near" sample comes between the real ones.
    """
    sim.env.set(proximity=1900)
    samples: list[int] = []
    taps: list[None] = []

    def read() -> int:
        value = opened.read_proximity()
        samples.append(value)
        return value

    watcher = ProximityWatcher(read, lambda: taps.append(None), threshold=1500, interval=0.005)
    watcher.start()
    try:
        wait_for(lambda: taps)
        held = len(samples)  # from here on the hand is over the sensor
        sim.faults.missing_chip(ADDR_LTR559)
        opened.read()  # the cycle that finds the chip gone drops its driver
        wait_for(lambda: watcher.errors >= 2)
        sim.faults.clear()
        opened.read()  # the cycle that builds a new driver
        # 30 samples, 5 ms apart: longer than the chip's first measurement takes.
        rebuilt = len(samples)
        wait_for(lambda: len(samples) >= rebuilt + 30)
    finally:
        watcher.stop()

    assert taps == [None]
    assert min(samples[held:]) > 1500
