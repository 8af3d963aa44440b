"""The proximity tap: one wave of a hand is one tap, whatever the noise."""

import errno
import threading
import time

import pytest

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.bus import ADDR_LTR559
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.errors import BoardClosedError, BoardError
from custom_components.qiot_enviro.enviro.proximity import ProximityWatcher, TapDetector

from .common import LTR559_PERIOD


@pytest.mark.parametrize(
    ("samples", "taps"),
    [
        ([10, 20, 1600, 1700, 1800, 1700, 30], 1),  # one wave, held for several samples
        ([10, 1600, 20, 1600, 20], 0),  # single-sample spikes: debounced away
        ([10, 1600, 1600, 1200, 1600, 1600, 10], 1),  # dips above the release level: still one
        ([10, 1600, 1600, 10, 1600, 1600, 10], 2),  # two waves
        ([1400] * 10, 0),  # near but under the threshold
    ],
)
def test_tap_detector(samples: list[int], taps: int) -> None:
    """Taps need two samples above the threshold and a fall below 70 % to re-arm."""
    detector = TapDetector(1500)
    assert sum(detector.feed(sample) for sample in samples) == taps


def test_watcher_survives_read_errors_and_reports_taps() -> None:
    """A failing read is counted and retried; taps still arrive; stop joins the thread."""
    values = iter([OSError("bus gone"), OSError("bus gone"), 1800, 1800, 1800])
    tapped = threading.Event()

    def read() -> int:
        value = next(values, 10)
        if isinstance(value, Exception):
            raise value
        return value

    watcher = ProximityWatcher(read, tapped.set, threshold=1500, interval=0.01)
    watcher.start()
    watcher.start()  # a second start is harmless
    assert tapped.wait(5)
    watcher.stop()
    watcher.stop()
    assert watcher.errors == 2


def test_board_reads_proximity_between_cycles(opened: Board, sim: EmulatedBoard) -> None:
    """The board reads the proximity alone; a lost chip or a closed board is a BoardError."""
    sim.env.set(proximity=1234)
    time.sleep(LTR559_PERIOD)  # the chip's next proximity measurement
    assert opened.read_proximity() == pytest.approx(1234, abs=2)
    sim.faults.i2c_error(ADDR_LTR559, errno.EIO)
    with pytest.raises(BoardError):
        opened.read_proximity()
    sim.faults.clear()
    opened.close()
    with pytest.raises(BoardClosedError):
        opened.read_proximity()
