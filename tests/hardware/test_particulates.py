"""The PMS5003 read by the board's thread through the vendor driver, with faults."""

import threading
import time
from typing import Literal

import pytest

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard, create_simulated
from custom_components.qiot_enviro.enviro.models import (
    Chip,
    GroupHealth,
    GroupResult,
    ParticulateReading,
    SensorGroup,
)

from .common import (
    FRAME_INTERVAL,
    PINNED,
    particulates_when_ready,
    pinned_particulates,
    wait_for,
)


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
    """Right after the sensor is enabled its frames are not reported: it warms up.

    Warming up is a state, not an error: no error text, nothing counted in the health.
    """
    board = Board(sim.provider, particulate_warmup=30.0, particulate_read_timeout=0.3)
    try:
        board.open()
        wait_for(lambda: particulate_health(board).extra["warmup"] >= 2)
        result = board.read().particulates
        health = particulate_health(board)
    finally:
        board.close()

    assert result is not None
    assert (result.value, result.error, result.warming_up) == (None, None, True)
    assert (health.error_count, health.consecutive_errors) == (0, 0)


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


# -- the sensor's real cadence and warm-up -----------------------------------------------


def test_real_cadence_and_warm_up_give_stable_values_without_timeouts_or_resets() -> None:
    """The manual's PMS5003 (a frame every 2.3 s, unstable for 30 s) on the board's defaults.

    The sensor's clock runs 20 times faster (so do its UART's timeouts and the board's
    warm-up and staleness, which are measured on it): 45 sensor seconds take 2.25 s.
    Until its warm-up is over the board reports the sensor as warming up, not failing;
    then only stable values, and never a timeout or a reset.
    """
    sim = create_simulated(seed=7, pms_speed=20.0)
    clock = sim.provider.monotonic
    sim.env.set(**PINNED)
    board = Board(sim.provider)
    results: list[GroupResult[ParticulateReading]] = []
    try:
        board.open()
        started = clock()
        while clock() - started < 45.0:
            result = board.read().particulates
            assert result is not None
            results.append(result)
            time.sleep(0.02)
        health = particulate_health(board)
        detection = board.detection
    finally:
        board.close()

    first = next(i for i, result in enumerate(results) if result.ok)
    assert all(r.warming_up and r.error is None for r in results[:first])
    assert {r.value for r in results[first:]} == {pinned_particulates()}
    assert sim.pms.frame_interval == 2.3
    assert sim.pms.unstable_frames >= 10  # sent, and dropped by the board
    assert (health.error_count, health.extra["timeout"], health.extra["resets"]) == (0, 0, 0)
    assert sim.pms.resets == 1  # the wake-up at open, nothing after
    assert detection is not None
    assert Chip.PMS5003 in detection.chips


def test_silent_sensor_warms_up_then_fails() -> None:
    """No frame during the warm-up is a state; no frame after it is an error, as before."""
    sim = create_simulated(seed=7, frame_interval=FRAME_INTERVAL)
    sim.faults.pms_silence()
    board = Board(sim.provider, particulate_warmup=0.3, particulate_read_timeout=0.1)
    try:
        board.open()
        warming = board.read().particulates
        health_warming = particulate_health(board)
        failed = wait_for(lambda: (r := board.read().particulates) and r.error and r)
    finally:
        board.close()

    assert warming is not None
    assert (warming.value, warming.error, warming.warming_up) == (None, None, True)
    assert health_warming.error_count == 0
    assert not failed.warming_up
    assert failed.error.startswith("no valid frame yet")


def test_frames_after_a_reset_are_dropped_until_stable_again() -> None:
    """After the board resets the sensor, the fan's unstable values are never reported."""
    sim = create_simulated(
        seed=7, frame_interval=FRAME_INTERVAL, power_up_delay=0.06, stabilisation_time=0.3
    )
    sim.env.set(**PINNED)
    board = Board(
        sim.provider,
        particulate_warmup=0.3,
        particulate_stale_after=0.2,
        particulate_read_timeout=0.3,
    )
    reported: set[ParticulateReading | None] = set()
    try:
        board.open()
        particulates_when_ready(board)
        sim.faults.pms_corrupt("checksum")
        wait_for(lambda: particulate_health(board).extra["resets"] >= 1)
        sim.faults.clear()
        unstable_before = sim.pms.unstable_frames
        deadline = time.monotonic() + 0.8
        while time.monotonic() < deadline:
            result = board.read().particulates
            assert result is not None
            assert result.error is None or "Checksum" in result.error
            reported.add(result.value)
            time.sleep(0.01)
    finally:
        board.close()

    assert sim.pms.unstable_frames > unstable_before  # the reset restarted the fan
    assert reported - {None} == {pinned_particulates()}


# -- what the board tells about itself ---------------------------------------------------


def test_detection_tells_of_the_pms5003_once_it_answers(sim: EmulatedBoard) -> None:
    """The first valid frame, even one dropped in the warm-up, puts the PMS5003 in it."""
    sim.faults.pms_silence()
    board = Board(sim.provider, particulate_warmup=30.0, particulate_read_timeout=0.3)
    try:
        at_open = board.open()
        sim.faults.clear()
        answered = wait_for(lambda: (d := board.detection) and d.particulate_frames and d)
    finally:
        board.close()

    assert Chip.PMS5003 not in at_open.chips
    assert not at_open.particulate_frames
    assert Chip.PMS5003 in answered.chips
    assert answered.chips - {Chip.PMS5003} == at_open.chips


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_health_keeps_the_counts_of_a_replaced_reader(
    opened: Board, sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Errors counted by a reader thread that died still count once it is replaced."""
    particulates_when_ready(opened)
    sim.faults.pms_corrupt("checksum", count=2)
    wait_for(lambda: particulate_health(opened).recoveries)
    port = sim.serial_ports[-1]

    def broken(size: int = 1) -> bytes:
        raise ValueError("unexpected driver state")

    monkeypatch.setattr(port, "read", broken)
    wait_for(lambda: not any(t.name == "qiot_enviro-pms5003" for t in threading.enumerate()))
    particulates_when_ready(opened)  # a new reader, and its first frame

    health = particulate_health(opened)
    assert (health.error_count, health.extra["checksum"], health.recoveries) == (2, 2, 1)
    assert health.extra["frames"] >= 2
