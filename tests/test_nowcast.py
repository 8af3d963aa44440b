"""Tests for the EPA's NowCast, its hourly history and the PM2.5 correction.

Pure functions: the published examples and hand-computed cases, without Home Assistant.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.qiot_enviro.derived import (
    MIN_MINUTES_PER_HOUR,
    AirQualityCategory,
    HourlyHistory,
    air_quality_category,
    air_quality_index,
    correct_pm25,
    hour_start,
    nowcast,
    pm10_index,
    pm25_index,
    truncate_pm25,
)

PACIFIC = ZoneInfo("America/Los_Angeles")
START = datetime(2026, 3, 2, 8, 0, tzinfo=PACIFIC)


def feed_hour(
    history: HourlyHistory,
    start: datetime,
    pm2_5: float,
    *,
    pm10: float = 10.0,
    humidity: float | None = 50.0,
    minutes: int = 60,
) -> None:
    """Add one reading a minute for the first ``minutes`` minutes of an hour."""
    for minute in range(minutes):
        history.add(start + timedelta(minutes=minute), pm2_5, pm10, humidity)


def pm25_hours(history: HourlyHistory, now: datetime) -> list[float | None]:
    """Return the PM2.5 of the 12 complete hours before ``now``, most recent first."""
    return [None if hour is None else hour.pm2_5 for hour in history.recent(now)]


def test_epa_worked_example() -> None:
    """The EPA's worked NowCast example gives 17.4 µg/m³, AQI 66 with the 2024 breakpoints.

    Source: US EPA / AirNow, "Computing the NowCast" (AirNow training slides, example
    12-hour period 50 80 75 90 82 53 64 74 21 10 16 13, oldest first; range 80, scaled
    rate 80/90, weight 0.11 raised to 0.5; NowCast 17.4 ug/m3), the method AirNow
    documents in "The NowCast for PM2.5 and PM10"
    (https://forum.airnowtech.org/t/the-nowcast-for-pm2-5-and-pm10/172).
    """
    oldest_first = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]
    value = nowcast([float(c) for c in reversed(oldest_first)])
    assert value == pytest.approx(17.4139, abs=1e-4)
    assert truncate_pm25(value) == 17.4
    # 49 / 26.3 * (17.4 - 9.1) + 51 = 66.46
    assert pm25_index(value) == 66
    assert air_quality_category(66) is AirQualityCategory.MODERATE


def test_steady_day_is_the_constant() -> None:
    """With every hour equal the weight is 1 and the NowCast is that value."""
    assert nowcast([12.0] * 12) == pytest.approx(12.0)
    assert nowcast([12.0, 12.0]) == pytest.approx(12.0)
    # PM10 at 60: 49 / 99 * (60 - 55) + 51 = 53.5 -> 53
    assert pm10_index(nowcast([60.0] * 12) or 0.0) == 53


def test_spike_in_the_latest_hour_uses_the_minimum_weight() -> None:
    """An hour at 80 after eleven at 5: w = 5/80 < 0.5, so 0.5.

    (80 + 5 * (0.5 + ... + 0.5^11)) / (1 + 0.5 + ... + 0.5^11) = 42.509 µg/m³.
    """
    assert nowcast([80.0] + [5.0] * 11) == pytest.approx(42.50916, abs=1e-5)


def test_one_minute_kitchen_spike_in_a_clean_day() -> None:
    """One minute at 300 µg/m³ in twelve clean hours: hazardous live, good on the NowCast.

    Latest hour's mean: (59 * 5 + 300) / 60 = 9.9167; w = 5 / 9.9167 = 0.5042;
    NowCast = (9.9167 + 5 * (w + ... + w^11)) / (1 + w + ... + w^11) = 7.438 -> 7.4,
    AQI 50 / 9 * 7.4 = 41.
    """
    history = HourlyHistory()
    for hour in range(12):
        feed_hour(history, START + timedelta(hours=hour), 5.0)
    spike_at = START + timedelta(hours=11, minutes=30)
    history.add(spike_at, 300.0, 320.0, 50.0)  # a second reading in that minute
    assert pm25_index(300.0) > 300  # the live figure is hazardous
    now = START + timedelta(hours=12, minutes=1)
    history.close(now)
    hours = pm25_hours(history, now)
    assert hours[0] == pytest.approx((60 * 5 + 300) / 61)
    value = nowcast(hours)
    assert value is not None
    assert value == pytest.approx(7.38, abs=0.01)
    assert air_quality_category(pm25_index(value)) is AirQualityCategory.GOOD
    # With exactly one reading a minute, the hour's mean and the NowCast of the docstring.
    assert nowcast([(59 * 5 + 300) / 60] + [5.0] * 11) == pytest.approx(7.43833, abs=1e-5)


@pytest.mark.parametrize(
    ("hours", "valid"),
    [
        ([None, None, 12.0, 12.0, 12.0], False),  # 2 of the 3 latest missing
        ([12.0, None, None, 12.0, 12.0], False),
        ([None, 12.0, 12.0], True),  # 2 of 3 are enough
        ([12.0, None, 12.0], True),
        ([], False),
        ([None] * 12, False),
    ],
)
def test_two_of_the_three_latest_hours_are_needed(hours: list[float | None], valid: bool) -> None:
    """The EPA reports no NowCast unless 2 of the 3 most recent hours have data."""
    assert (nowcast(hours) is not None) is valid


def test_a_missing_hour_is_missing_not_zero() -> None:
    """Skipped hours leave the others' weights alone: the steady value stays the value."""
    assert nowcast([10.0, 10.0, None, None, 10.0, None, 10.0]) == pytest.approx(10.0)
    # Weights follow the hour's age, not its rank among the valid hours:
    # w = 10/20 = 0.5; (20 + 10 * 0.5^2) / (1 + 0.5^2) = 18.0
    assert nowcast([20.0, None, 10.0]) == pytest.approx(18.0)


def test_history_averages_clock_hours_and_needs_45_minutes() -> None:
    """An hour counts from 45 minutes of readings; 44 make it missing."""
    history = HourlyHistory()
    feed_hour(history, START, 10.0, pm10=20.0, humidity=40.0, minutes=MIN_MINUTES_PER_HOUR)
    feed_hour(history, START + timedelta(hours=1), 30.0, minutes=MIN_MINUTES_PER_HOUR - 1)
    feed_hour(history, START + timedelta(hours=2), 12.0)
    now = START + timedelta(hours=3, minutes=5)
    assert history.close(now)
    recent = history.recent(now)
    assert recent[1] is None  # 44 minutes
    assert recent[0] is not None
    assert recent[0].pm2_5 == pytest.approx(12.0)
    assert recent[2] is not None
    assert (recent[2].pm2_5, recent[2].pm10, recent[2].humidity) == (10.0, 20.0, 40.0)
    # The 2 of 3 rule still holds: latest and third latest are valid.
    assert nowcast(pm25_hours(history, now)) is not None


def test_history_gap_then_unknown_then_known_again() -> None:
    """After a two-hour outage the NowCast is unknown until two recent hours are back."""
    history = HourlyHistory()
    for hour in range(4):
        feed_hour(history, START + timedelta(hours=hour), 8.0)
    # Nothing from 12:00 to 14:00 (the board was off).
    back = START + timedelta(hours=6)
    history.close(back)
    assert nowcast(pm25_hours(history, back)) is None
    feed_hour(history, back, 8.0)
    later = back + timedelta(hours=1)
    history.close(later)
    assert nowcast(pm25_hours(history, later)) is None  # 1 of 3
    feed_hour(history, later, 8.0)
    again = later + timedelta(hours=1)
    history.close(again)
    assert nowcast(pm25_hours(history, again)) == pytest.approx(8.0)


def test_history_keeps_12_hours_and_ignores_the_past() -> None:
    """Hours older than the window are dropped; a reading from before the open hour too."""
    history = HourlyHistory()
    for hour in range(15):
        feed_hour(history, START + timedelta(hours=hour), float(hour))
    assert len(history.hours) == 12
    assert not history.add(START, 999.0, 999.0, None)
    now = START + timedelta(hours=15)
    history.close(now)
    assert pm25_hours(history, now)[0] == pytest.approx(14.0)
    assert min(history.hours) == hour_start(START + timedelta(hours=3))


def test_hours_are_local_clock_hours() -> None:
    """In a half-hour zone, hours start at :00 local (:30 UTC)."""
    kolkata = datetime(2026, 3, 2, 10, 59, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert hour_start(kolkata) == int(kolkata.replace(minute=0).timestamp())
    assert hour_start(kolkata) % 3600 == 1800


def test_history_round_trip_and_damaged_data() -> None:
    """Closed hours and the open hour's sums come back; damaged parts are dropped."""
    history = HourlyHistory()
    feed_hour(history, START, 10.0)
    feed_hour(history, START + timedelta(hours=1), 20.0, minutes=30)
    restored = HourlyHistory.from_dict(history.as_dict())
    assert restored.hours == history.hours
    # The open hour continues where it stopped: 30 + 15 minutes make it valid.
    feed_hour(restored, START + timedelta(hours=1, minutes=30), 20.0, minutes=15)
    now = START + timedelta(hours=2)
    assert restored.close(now)
    assert pm25_hours(restored, now)[:2] == [pytest.approx(20.0), pytest.approx(10.0)]

    damaged = HourlyHistory.from_dict(
        {"hours": [[1, "x", 2, None], [3600, 1.0, 2.0, 50.0], "bad"], "open": {"start": 1}}
    )
    assert list(damaged.hours) == [3600]
    assert damaged.as_dict()["open"] is None
    assert HourlyHistory.from_dict({}).hours == {}


@pytest.mark.parametrize(
    ("pa", "rh", "expected"),
    [
        # Below 30: 0.524 * 20 - 0.0862 * 50 + 5.75
        (20.0, 50.0, 11.92),
        # 30-50, halfway: slope (0.786 + 0.524) / 2 = 0.655; 0.655 * 40 - 4.31 + 5.75
        (40.0, 50.0, 27.64),
        # 50-210: 0.786 * 100 - 4.31 + 5.75
        (100.0, 50.0, 80.04),
        # 210-260, halfway (blend 0.5): 0.738 * 235 - 4.31 * 0.5 + 2.966 * 0.5
        # + 5.75 * 0.5 + 8.84e-4 * 235^2 * 0.5
        (235.0, 50.0, 200.04245),
        # 260 and above: 2.966 + 0.69 * 300 + 8.84e-4 * 300^2, whatever the humidity
        (300.0, 50.0, 289.526),
        (300.0, 90.0, 289.526),
        # The boundaries, from the segment that starts there (RH 40: 0.0862 * 40 = 3.448)
        (30.0, 40.0, 0.524 * 30 - 3.448 + 5.75),
        (50.0, 40.0, 0.786 * 50 - 3.448 + 5.75),
        (210.0, 40.0, 0.786 * 210 - 3.448 + 5.75),
        (260.0, 40.0, 2.966 + 0.69 * 260 + 8.84e-4 * 260 * 260),
        # Clean, humid air would go negative: clamped at 0
        (0.0, 100.0, 0.0),
        (2.0, 90.0, 0.0),
    ],
)
def test_epa_correction_segments(pa: float, rh: float, expected: float) -> None:
    """Each segment of the EPA's extended correction, computed by hand."""
    assert correct_pm25(pa, rh) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("limit", [30.0, 50.0, 210.0, 260.0])
@pytest.mark.parametrize("rh", [20.0, 60.0])
def test_epa_correction_is_continuous(limit: float, rh: float) -> None:
    """The blended segments meet at every breakpoint (no step in the corrected value)."""
    below = correct_pm25(limit - 1e-9, rh)
    assert below == pytest.approx(correct_pm25(limit, rh), abs=1e-6)


def test_instantaneous_index_keeps_the_2024_breakpoints() -> None:
    """The live PM2.5 index and the combined index agree on the 2024 table."""
    assert pm25_index(9.1) == 51
    assert pm25_index(225.5) == 301
    assert air_quality_index(12.0, 20.0) == pm25_index(12.0) == 56
