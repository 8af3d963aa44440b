"""The PMS5003 read by the board's thread through the vendor driver, with faults."""

import time
from typing import Literal

import pytest

from custom_components.qiot_enviro.hardware.board import Board
from custom_components.qiot_enviro.hardware.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.hardware.models import GroupHealth, SensorGroup

from .common import FRAME_INTERVAL, particulates_when_ready, pinned_particulates, wait_for


def particulate_health(board: Board) -> GroupHealth:
    """Return the particulate group's health."""
    return board.health()[SensorGroup.PARTICULATES]


def test_newest_frame_with_its_arrival_time(opened: Board, sim: EmulatedBoard) -> None:
    """The snapshot carries the newest frame and when it arrived, not when read() ran."""
    first = particulates_when_ready(opened)
    sim.env.set(pm1=30, pm2_5=40, pm10=45)
    wait_for(lambda: (r := opened.read().particulates) and r.value and r.value.pm10 == 45)

    snapshot = opened.read()

    assert first == pinned_particulates()
    assert snapshot.particulates is not None
    assert snapshot.particulates.value is not None
    assert (snapshot.particulates.value.pm1, snapshot.particulates.value.pm2_5) == (30, 40)
    assert snapshot.particulates.read_at is not None
    assert snapshot.particulates.read_at <= snapshot.read_at


def test_frames_dropped_during_warm_up(sim: EmulatedBoard) -> None:
    """Right after the sensor is enabled its frames are not reported."""
    board = Board(sim.provider, particulate_warmup=30.0, particulate_read_timeout=0.3)
    try:
        board.open()
        wait_for(lambda: particulate_health(board).extra["warmup"] >= 2)
        result = board.read().particulates
    finally:
        board.close()

    assert result is not None
    assert result.value is None
    assert result.error == "particulate sensor warming up"


@pytest.mark.parametrize(
    ("kind", "counter"), [("checksum", "checksum"), ("length", "length"), ("garbage", "length")]
)
def test_corrupt_frames_are_survived(
    opened: Board,
    sim: EmulatedBoard,
    kind: Literal["checksum", "length", "garbage"],
    counter: str,
) -> None:
    """Two broken frames are counted, not reported, and good frames follow."""
    particulates_when_ready(opened)
    sim.faults.pms_corrupt(kind, count=2)

    health = wait_for(lambda: (h := particulate_health(opened)).recoveries and h)

    assert health.extra[counter] == 2
    assert health.error_count == 2
    assert health.extra["resets"] == 0
    assert particulates_when_ready(opened) == pinned_particulates()


def test_persistent_corruption_resets_the_sensor(opened: Board, sim: EmulatedBoard) -> None:
    """After three bad frames in a row the sensor is reset through its RESET line."""
    particulates_when_ready(opened)
    sim.faults.pms_corrupt("checksum")

    wait_for(lambda: particulate_health(opened).extra["resets"] >= 1)
    sim.faults.clear()

    health = wait_for(lambda: (h := particulate_health(opened)).recoveries and h)

    assert sim.pms.resets >= 1
    assert health.consecutive_errors == 0
    assert health.extra["checksum"] >= 3
    assert particulates_when_ready(opened) == pinned_particulates()


def test_silence_goes_stale_then_recovers(opened: Board, sim: EmulatedBoard) -> None:
    """A silent sensor times out; after a while its old value is no longer reported."""
    particulates_when_ready(opened)
    sim.faults.pms_silence()

    stale = wait_for(lambda: (r := opened.read().particulates) and r.value is None and r, 3.0)
    sim.faults.clear()

    assert stale.error is not None
    assert stale.error.startswith("no valid frame for")
    assert "Timeout" in stale.error
    assert particulate_health(opened).extra["timeout"] >= 1
    assert particulates_when_ready(opened) == pinned_particulates()


def test_silence_for_a_few_frames_goes_unnoticed_by_the_snapshot(
    opened: Board, sim: EmulatedBoard
) -> None:
    """Two missing frames: the last value stays fresh enough to be reported."""
    particulates_when_ready(opened)
    sim.faults.pms_silence(count=2)

    snapshots = []
    for _ in range(5):
        time.sleep(FRAME_INTERVAL)
        snapshots.append(opened.read())

    assert all(s.particulates is not None and s.particulates.ok for s in snapshots)


def test_implausible_frame_is_dropped(opened: Board, sim: EmulatedBoard) -> None:
    """A frame whose PM1 exceeds its PM2.5 cannot be air: it is dropped and counted."""
    particulates_when_ready(opened)
    sim.env.set(pm1=50, pm2_5=10, pm10=60)

    wait_for(lambda: particulate_health(opened).extra["implausible"] >= 1)

    assert "PM1 50" in str(particulate_health(opened).last_error)


def test_close_stops_a_blocked_reader_promptly(sim: EmulatedBoard) -> None:
    """Close cancels a UART read that would block for a long time."""
    sim.faults.pms_silence()
    board = Board(sim.provider, particulate_warmup=0.0, particulate_read_timeout=30.0)
    board.open()
    time.sleep(0.1)

    started = time.monotonic()
    board.close()

    assert time.monotonic() - started < 0.5


def test_reader_never_makes_i2c_wait(opened: Board, sim: EmulatedBoard) -> None:
    """While the PMS5003 is silent (its reader blocked), a cycle still takes milliseconds."""
    sim.faults.pms_silence()
    time.sleep(0.05)

    snapshot = opened.read()

    assert snapshot.duration < 0.1
    assert snapshot.climate is not None
    assert snapshot.climate.ok
