"""Tests for the derived values: what a user reads off the dashboard."""

import pytest

from custom_components.qiot_enviro.derived import (
    AirQualityCategory,
    GasBaseline,
    RollingAverage,
    air_quality_category,
    air_quality_index,
    compensate_temperature,
    corrected_humidity,
    dew_point,
)


def test_compensation_removes_cpu_heat() -> None:
    """A sensor at 30 °C next to a 50 °C CPU reads about 21.1 °C with factor 2.25."""
    assert compensate_temperature(30.0, 50.0, 2.25) == pytest.approx(21.111, abs=1e-3)
    assert compensate_temperature(30.0, 50.0, 0) == 30.0


@pytest.mark.parametrize(
    ("raw_t", "raw_rh", "new_t"),
    [(30.0, 40.0, 21.1), (25.0, 60.0, 20.0), (5.0, 50.0, 1.0), (35.0, 10.0, 22.0)],
)
def test_corrected_humidity_keeps_dew_point(raw_t: float, raw_rh: float, new_t: float) -> None:
    """Cooler air with the same water vapour has a higher relative humidity, same dew point."""
    humidity = corrected_humidity(raw_t, raw_rh, new_t)
    assert humidity > raw_rh
    assert dew_point(new_t, humidity) == pytest.approx(dew_point(raw_t, raw_rh), abs=0.01)


def test_corrected_humidity_is_clamped_at_saturation() -> None:
    """Compensating far below the dew point cannot give more than 100 %."""
    assert corrected_humidity(30.0, 90.0, 10.0) == 100.0


def test_dew_point_known_value() -> None:
    """20 °C at 50 % has a dew point of about 9.3 °C."""
    assert dew_point(20.0, 50.0) == pytest.approx(9.26, abs=0.05)


@pytest.mark.parametrize(
    ("pm25", "pm10", "aqi", "category"),
    [
        (0.0, 0.0, 0, AirQualityCategory.GOOD),
        (9.0, 0.0, 50, AirQualityCategory.GOOD),
        (9.09, 0.0, 50, AirQualityCategory.GOOD),  # truncated to 9.0
        (9.1, 0.0, 51, AirQualityCategory.MODERATE),
        (12.0, 0.0, 56, AirQualityCategory.MODERATE),
        (35.4, 0.0, 100, AirQualityCategory.MODERATE),
        (35.5, 0.0, 101, AirQualityCategory.UNHEALTHY_FOR_SENSITIVE_GROUPS),
        (55.5, 0.0, 151, AirQualityCategory.UNHEALTHY),
        (125.5, 0.0, 201, AirQualityCategory.VERY_UNHEALTHY),
        (225.5, 0.0, 301, AirQualityCategory.HAZARDOUS),
        (400.0, 0.0, 500, AirQualityCategory.HAZARDOUS),
        (0.0, 54.0, 50, AirQualityCategory.GOOD),
        (0.0, 155.0, 101, AirQualityCategory.UNHEALTHY_FOR_SENSITIVE_GROUPS),
        (5.0, 300.0, 173, AirQualityCategory.UNHEALTHY),
    ],
)
def test_air_quality_index_2024_breakpoints(
    pm25: float, pm10: float, aqi: int, category: AirQualityCategory
) -> None:
    """The index follows the EPA's 2024 PM2.5 and current PM10 breakpoints."""
    assert air_quality_index(pm25, pm10) == aqi
    assert air_quality_category(aqi) is category


def test_rolling_average_window() -> None:
    """The CPU temperature average covers the last N samples only."""
    average = RollingAverage(3)
    assert average.mean is None
    for value in (10.0, 20.0, 30.0):
        average.add(value)
    assert average.add(40.0) == pytest.approx(30.0)
    average.resize(1)
    assert average.mean == pytest.approx(40.0)


def test_gas_baseline_learns_median_then_tracks_cleaner_air() -> None:
    """R0 is the median of the learning readings, then moves only towards clean air."""
    baseline = GasBaseline(learn_samples=3, tracking=0.5)
    assert baseline.ratio("reducing", 100.0) is None
    for ox, red, nh3 in ((20e3, 300e3, 150e3), (22e3, 320e3, 160e3), (21e3, 310e3, 155e3)):
        baseline.add(ox, red, nh3)
    assert not baseline.learning
    assert baseline.r0 == {"oxidising": 21e3, "reducing": 310e3, "nh3": 155e3}
    assert baseline.ratio("reducing", 155e3) == pytest.approx(0.5)
    # Pollution (lower reducing resistance) does not pull the baseline down...
    baseline.add(30e3, 100e3, 50e3)
    assert baseline.r0 == {"oxidising": 21e3, "reducing": 310e3, "nh3": 155e3}
    # ...cleaner air moves it by the tracking fraction.
    baseline.add(19e3, 330e3, 165e3)
    assert baseline.r0 == {"oxidising": 20e3, "reducing": 320e3, "nh3": 160e3}


def test_gas_baseline_round_trip_and_damaged_data() -> None:
    """A saved baseline comes back; damaged data restarts learning instead of crashing."""
    baseline = GasBaseline(learn_samples=1)
    baseline.add(20e3, 300e3, 150e3)
    restored = GasBaseline.from_dict(baseline.as_dict())
    assert restored.r0 == baseline.r0
    partial = GasBaseline(learn_samples=5)
    partial.add(20e3, 300e3, 150e3)
    again = GasBaseline.from_dict(partial.as_dict(), learn_samples=5)
    assert again.learning
    assert again.samples == [(20e3, 300e3, 150e3)]
    damaged = GasBaseline.from_dict({"r0": {"oxidising": "x"}, "samples": [[1, 2]]})
    assert damaged.learning
    assert damaged.samples == []
    baseline.reset()
    assert baseline.learning
