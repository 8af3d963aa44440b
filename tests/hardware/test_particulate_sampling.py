"""Duty-cycled PMS5003 sampling on the emulator: sleep, warm-up, median, fan time."""

import time

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard, create_simulated
from custom_components.qiot_enviro.enviro.models import (
    GroupHealth,
    GroupResult,
    ParticulateReading,
    SensorGroup,
)
from custom_components.qiot_enviro.enviro.particulates import median_reading

from .common import FRAME_INTERVAL, PINNED, pinned_particulates, wait_for


def particulate_health(board: Board) -> GroupHealth:
    """Return the particulate group's health."""
    return board.health()[SensorGroup.PARTICULATES]


def particulates(board: Board) -> GroupResult[ParticulateReading]:
    """Return one cycle's particulate result."""
    result = board.read().particulates
    assert result is not None
    return result


def test_median_is_per_field_and_keeps_integers() -> None:
    """The sample is each field's median; one outlier frame does not move it."""
    base = pinned_particulates()
    outlier = ParticulateReading(**{**_fields(base), "pm10": 900, "gt10um": 7})
    frames = [base, outlier, base, outlier, base]

    assert median_reading(frames) == base
    assert median_reading([base, outlier]) == base  # the lower of an even count


def _fields(reading: ParticulateReading) -> dict[str, int]:
    return {name: getattr(reading, name) for name in ParticulateReading.__dataclass_fields__}


def test_real_timings_sleep_between_stable_samples() -> None:
    """The manual's sensor (2.3 s frames, unstable for 30 s after wake), 40x faster.

    Each sample wakes the sensor, skips its unstable warm-up frames, keeps the median of
    stable ones and puts it to sleep: no frames and no fan time while asleep, the last
    sample held with its time and ``sleeping``, never an error, a timeout or a reset.
    """
    sim = create_simulated(seed=7, pms_speed=40.0)
    sim.env.set(**PINNED)
    board = Board(sim.provider, particulate_sampling=120.0)
    try:
        board.open()
        first = wait_for(lambda: (r := particulates(board)).sleeping and r, 5.0)
        wait_for(lambda: not sim.pms.powered)
        fan, frames = board.particulate_fan_seconds(), sim.pms.frames_sent
        time.sleep(0.5)  # 20 sensor seconds asleep
        held = particulates(board)
        fan_later, frames_later = board.particulate_fan_seconds(), sim.pms.frames_sent
        wait_for(lambda: particulate_health(board).extra["samples"] >= 2, 6.0)
        wait_for(lambda: not sim.pms.powered)
        health = particulate_health(board)
        second = particulates(board)
    finally:
        board.close()

    assert first.value == pinned_particulates()  # unstable frames are scaled down
    assert sim.pms.unstable_frames >= 2 * 10  # sent after each wake, never taken
    assert (held.value, held.read_at, held.sleeping) == (first.value, first.read_at, True)
    assert held.error is None
    assert (fan_later, frames_later) == (fan, frames)
    assert second.sleeping
    assert second.value == pinned_particulates()
    assert second.read_at is not None
    assert first.read_at is not None
    assert second.read_at > first.read_at
    assert (health.error_count, health.extra["timeout"], health.extra["resets"]) == (0, 0, 0)
    assert sim.pms.resets == 1  # the wake-up at open, nothing after
    # Awake per sample: the 30 s warm-up and five frames 2.3 s apart.
    per_sample = health.extra["fan_seconds"] / 2
    assert 30.0 + 4 * 2.3 <= per_sample <= 30.0 + 8 * 2.3


def fast_sampling_board(interval: float = 1.0) -> tuple[Board, EmulatedBoard]:
    """Return a board on a fast emulator (frames 30 ms apart, unstable for 0.3 s)."""
    sim = create_simulated(
        seed=7, frame_interval=FRAME_INTERVAL, power_up_delay=0.06, stabilisation_time=0.3
    )
    sim.env.set(**PINNED)
    board = Board(
        sim.provider,
        particulate_warmup=0.3,
        particulate_stale_after=0.2,
        particulate_read_timeout=0.3,
        particulate_sampling=interval,
        particulate_sample_window=0.5,
    )
    return board, sim


def test_a_corrupt_frame_during_a_sample_is_survived() -> None:
    """A checksum error while sampling is counted; the sample is still the stable median."""
    board, sim = fast_sampling_board()
    try:
        board.open()
        wait_for(lambda: particulate_health(board).extra["frames"] >= 1)
        sim.faults.pms_corrupt("checksum", count=1)
        result = wait_for(lambda: (r := particulates(board)).sleeping and r)
        health = particulate_health(board)
    finally:
        board.close()

    assert result.value == pinned_particulates()
    assert health.extra["checksum"] == 1
    assert (health.extra["resets"], health.extra["samples"]) == (0, 1)


def test_switching_back_to_continuous() -> None:
    """Continuous again: the sensor wakes at once, warms up, then streams as before."""
    board, sim = fast_sampling_board(interval=60.0)
    try:
        board.open()
        wait_for(lambda: particulates(board).sleeping and not sim.pms.powered)
        asleep_fan = board.particulate_fan_seconds()
        board.set_particulate_sampling(None)
        wait_for(lambda: sim.pms.powered)
        live = wait_for(lambda: (r := particulates(board)).ok and not r.sleeping and r)
        awake_fan = board.particulate_fan_seconds()
        board.set_particulate_sampling(60.0)
        back = wait_for(lambda: (r := particulates(board)).sleeping and r)
        health = particulate_health(board)
    finally:
        board.close()

    assert live.value == pinned_particulates()
    assert awake_fan > asleep_fan
    assert back.value == pinned_particulates()
    assert board.particulate_sampling == 60.0
    assert (health.error_count, health.extra["resets"]) == (0, 0)


def test_fan_time_is_seeded_and_reported() -> None:
    """A stored total is the start: the fan time only grows from it."""
    sim = create_simulated(seed=7, frame_interval=FRAME_INTERVAL)
    board = Board(sim.provider, particulate_warmup=0.0, particulate_fan_seconds=3600.0)
    try:
        board.open()
        time.sleep(0.05)
        first = board.particulate_fan_seconds()
        board.restore_particulate_fan_seconds(7200.0)
        second = board.particulate_fan_seconds()
        extra = particulate_health(board).extra["fan_seconds"]
    finally:
        board.close()

    assert 3600.0 < first < 3601.0
    assert 7200.0 < second < 7201.0
    assert extra == 7200
