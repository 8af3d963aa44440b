"""Values derived from raw readings: compensation, humidity, dew point, AQI, gas baseline.

Also the EPA's NowCast over hourly averages and the EPA's PM2.5 correction for
Plantower sensors (Barkjohn et al.).

Pure functions and small state holders, without Home Assistant or hardware imports,
so that each formula is tested on its own.
"""

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Magnus formula coefficients over water (Alduchov & Eskridge 1996), valid -40..50 °C.
_MAGNUS_A = 17.625
_MAGNUS_B = 243.04


def compensate_temperature(raw: float, cpu_average: float, factor: float) -> float:
    """Remove the Pi's CPU heat from the BME280 temperature.

    The usual correction of earlier Enviro+ tools: ``raw - (cpu - raw) / factor``,
    with the CPU temperature averaged over several samples. A factor of zero or less
    would divide by zero or add heat, so it leaves the reading as it is.
    """
    if factor <= 0:
        return raw
    return raw - (cpu_average - raw) / factor


def saturation_vapour_pressure(temperature: float) -> float:
    """Return the saturation vapour pressure over water in hPa (Magnus)."""
    return 6.1094 * math.exp(_MAGNUS_A * temperature / (_MAGNUS_B + temperature))


def dew_point(temperature: float, humidity: float) -> float:
    """Return the dew point in °C for a temperature (°C) and relative humidity (%)."""
    humidity = min(max(humidity, 0.1), 100.0)
    gamma = math.log(humidity / 100.0) + _MAGNUS_A * temperature / (_MAGNUS_B + temperature)
    return _MAGNUS_B * gamma / (_MAGNUS_A - gamma)


def corrected_humidity(raw_temperature: float, raw_humidity: float, temperature: float) -> float:
    """Recompute relative humidity for the compensated temperature.

    The air around the sensor holds the same water vapour as the room: the vapour
    pressure (and so the dew point) is kept, and the relative humidity follows the
    saturation pressure at the compensated temperature. Clamped to 0..100 %.
    """
    vapour = raw_humidity / 100.0 * saturation_vapour_pressure(raw_temperature)
    humidity = 100.0 * vapour / saturation_vapour_pressure(temperature)
    return min(max(humidity, 0.0), 100.0)


class AirQualityCategory(StrEnum):
    """US EPA AQI categories."""

    GOOD = "good"
    MODERATE = "moderate"
    UNHEALTHY_FOR_SENSITIVE_GROUPS = "unhealthy_for_sensitive_groups"
    UNHEALTHY = "unhealthy"
    VERY_UNHEALTHY = "very_unhealthy"
    HAZARDOUS = "hazardous"


class PM25Input(StrEnum):
    """Which PM2.5 the AQI was computed from."""

    RAW = "raw"
    CORRECTED = "corrected"


# (concentration low, concentration high, index low, index high)
type Breakpoints = tuple[tuple[float, float, int, int], ...]

# PM2.5 breakpoints of the 2024 revision (89 FR 16202, effective 2024-05-06), µg/m³,
# concentration truncated to one decimal.
PM25_BREAKPOINTS: Breakpoints = (
    (0.0, 9.0, 0, 50),
    (9.1, 35.4, 51, 100),
    (35.5, 55.4, 101, 150),
    (55.5, 125.4, 151, 200),
    (125.5, 225.4, 201, 300),
    (225.5, 325.4, 301, 500),
)
# PM10 breakpoints (unchanged by the 2024 revision), µg/m³, truncated to an integer.
PM10_BREAKPOINTS: Breakpoints = (
    (0, 54, 0, 50),
    (55, 154, 51, 100),
    (155, 254, 101, 150),
    (255, 354, 151, 200),
    (355, 424, 201, 300),
    (425, 604, 301, 500),
)
_CATEGORY_TOPS = (
    (50, AirQualityCategory.GOOD),
    (100, AirQualityCategory.MODERATE),
    (150, AirQualityCategory.UNHEALTHY_FOR_SENSITIVE_GROUPS),
    (200, AirQualityCategory.UNHEALTHY),
    (300, AirQualityCategory.VERY_UNHEALTHY),
)


def _sub_index(concentration: float, breakpoints: Breakpoints) -> int:
    """Linear interpolation of the EPA's piecewise index; 500 above the table."""
    for c_low, c_high, i_low, i_high in breakpoints:
        if concentration <= c_high:
            concentration = max(concentration, c_low)
            return round((i_high - i_low) / (c_high - c_low) * (concentration - c_low) + i_low)
    return 500


def truncate_pm25(concentration: float) -> float:
    """Truncate a PM2.5 concentration to 0.1 µg/m³, as the EPA does before the index.

    Rounding to 6 decimals first keeps binary noise (9.1 stored as 9.0999...) from
    truncating a value one step too low.
    """
    return math.floor(round(max(concentration, 0.0) * 10, 6)) / 10


def truncate_pm10(concentration: float) -> int:
    """Truncate a PM10 concentration to 1 µg/m³, as the EPA does before the index."""
    return math.floor(round(max(concentration, 0.0), 6))


def pm25_index(concentration: float) -> int:
    """Return the PM2.5 sub-index (2024 breakpoints) of a concentration in µg/m³."""
    return _sub_index(truncate_pm25(concentration), PM25_BREAKPOINTS)


def pm10_index(concentration: float) -> int:
    """Return the PM10 sub-index of a concentration in µg/m³."""
    return _sub_index(truncate_pm10(concentration), PM10_BREAKPOINTS)


def air_quality_index(pm2_5: float, pm10: float) -> int:
    """Return the US EPA AQI for PM2.5 and PM10 concentrations in µg/m³.

    The larger of the two sub-indices, with the EPA's truncation (PM2.5 to 0.1,
    PM10 to 1). Pass NowCast concentrations for the current index; the latest
    reading gives an instantaneous figure that an official index does not report.
    """
    return max(pm25_index(pm2_5), pm10_index(pm10))


def air_quality_category(index: int) -> AirQualityCategory:
    """Return the EPA category of an AQI value."""
    for top, category in _CATEGORY_TOPS:
        if index <= top:
            return category
    return AirQualityCategory.HAZARDOUS


# The EPA's NowCast for PM (AirNow, "The NowCast for PM2.5 and PM10",
# forum.airnowtech.org/t/the-nowcast-for-pm2-5-and-pm10/172, and the EPA's
# "Technical Assistance Document for the Reporting of Daily Air Quality", 2024):
# a weighted average of the last 12 hourly averages, weight factor
# w = 1 - (max - min) / max = min / max over the hours with data, at least 0.5 for
# PM (about a 3-hour average when the air changes fast); valid only when at least 2
# of the 3 most recent hours have data. The raw hourly values enter the average;
# the result is truncated (PM2.5 to 0.1, PM10 to 1 µg/m³) before the index.
NOWCAST_HOURS = 12
NOWCAST_MIN_WEIGHT = 0.5
NOWCAST_RECENT_HOURS = 3
NOWCAST_RECENT_REQUIRED = 2


def nowcast(hours: Sequence[float | None]) -> float | None:
    """Return the PM NowCast of hourly averages, most recent first; None if not valid.

    ``hours[0]`` is the latest complete clock hour, ``hours[i]`` the one ``i`` hours
    before it; None marks an hour without a valid average (missing, not zero). Only
    the first 12 are used.
    """
    window = list(hours[:NOWCAST_HOURS])
    recent = sum(value is not None for value in window[:NOWCAST_RECENT_HOURS])
    if recent < NOWCAST_RECENT_REQUIRED:
        return None
    valid = [max(value, 0.0) for value in window if value is not None]
    highest = max(valid)
    weight = min(valid) / highest if highest > 0 else 1.0
    weight = max(weight, NOWCAST_MIN_WEIGHT)
    numerator = denominator = 0.0
    for age, value in enumerate(window):
        if value is None:
            continue
        factor = weight**age
        numerator += factor * max(value, 0.0)
        denominator += factor
    return numerator / denominator


# EPA US-wide correction for the Plantower PMS5003 in PurpleAir monitors, from the
# CF=1 PM2.5 (PA, µg/m³) and the relative humidity (RH, %):
# - Barkjohn, Gantt and Clements (2021), "Development and application of a United
#   States-wide correction for PM2.5 data collected with the PurpleAir sensor",
#   Atmos. Meas. Tech. 14, 4617-4637, doi:10.5194/amt-14-4617-2021:
#   PM2.5 = 0.524 PA - 0.0862 RH + 5.75.
# - Extended for smoke (Barkjohn, Holder, Frederick and Clements (2022), "Correction
#   and Accuracy of PurpleAir PM2.5 Measurements for Extreme Wildfire Smoke",
#   Sensors 22, 9669, doi:10.3390/s22249669), as applied on the AirNow Fire and Smoke
#   Map (EPA, "Sensor data cleaning and correction: application on the AirNow Fire
#   and Smoke Map"): slope 0.524 below PA 30, blending to 0.786 by 50, 0.786 up to
#   210, blending to 0.69 PA + 8.84e-4 PA^2 + 2.966 (no RH term) by 260 and above.
_BARKJOHN_SLOPE = 0.524
_BARKJOHN_RH = 0.0862
_BARKJOHN_INTERCEPT = 5.75
_SMOKE_SLOPE = 0.786
_HIGH_SLOPE = 0.69
_HIGH_QUADRATIC = 8.84e-4
_HIGH_INTERCEPT = 2.966
# Segment limits in CF=1 µg/m³: (30, 50) and (210, 260) are the blending ranges.
CORRECTION_BREAKPOINTS = (30.0, 50.0, 210.0, 260.0)


def correct_pm25(pa_cf1: float, humidity: float) -> float:
    """Return the EPA-corrected PM2.5 (µg/m³) of a Plantower CF=1 reading.

    ``humidity`` is the relative humidity in % (clamped to 0..100). The blended
    segments make the result continuous at every breakpoint; it is clamped at 0
    (clean, humid air would otherwise give a negative concentration).
    """
    pa = max(pa_cf1, 0.0)
    rh = min(max(humidity, 0.0), 100.0)
    low, low_top, high_start, high = CORRECTION_BREAKPOINTS
    if pa < low:
        value = _BARKJOHN_SLOPE * pa - _BARKJOHN_RH * rh + _BARKJOHN_INTERCEPT
    elif pa < low_top:
        blend = pa / 20 - 3 / 2  # 0 at 30, 1 at 50
        slope = _SMOKE_SLOPE * blend + _BARKJOHN_SLOPE * (1 - blend)
        value = slope * pa - _BARKJOHN_RH * rh + _BARKJOHN_INTERCEPT
    elif pa < high_start:
        value = _SMOKE_SLOPE * pa - _BARKJOHN_RH * rh + _BARKJOHN_INTERCEPT
    elif pa < high:
        blend = pa / 50 - 21 / 5  # 0 at 210, 1 at 260
        value = (
            (_HIGH_SLOPE * blend + _SMOKE_SLOPE * (1 - blend)) * pa
            - _BARKJOHN_RH * rh * (1 - blend)
            + _HIGH_INTERCEPT * blend
            + _BARKJOHN_INTERCEPT * (1 - blend)
            + _HIGH_QUADRATIC * pa * pa * blend
        )
    else:
        value = _HIGH_INTERCEPT + _HIGH_SLOPE * pa + _HIGH_QUADRATIC * pa * pa
    return max(value, 0.0)


@dataclass(frozen=True, slots=True)
class HourAverage:
    """One clock hour's mean readings (humidity None when no reading had it)."""

    pm2_5: float
    pm10: float
    humidity: float | None


# An hour's average counts when readings cover at least 45 of its 60 minutes: the
# 75 % completeness the EPA applies to its averages (18 of 24 hours for a daily AQI
# on AirNow, 45 minutes for an hourly value).
MIN_MINUTES_PER_HOUR = 45
_HOUR = 3600


def hour_start(when: datetime) -> int:
    """Return the POSIX time of the start of the clock hour holding ``when``.

    Clock hours of ``when``'s own time zone (pass local time): in a zone offset by a
    half hour the hours start at :30 UTC, as the local clock's do.
    """
    return int(when.replace(minute=0, second=0, microsecond=0).timestamp())


class HourlyHistory:
    """Hourly averages of PM2.5 (CF=1), PM10 and humidity over the last 12 clock hours.

    Readings are added with their time; a clock hour closes when a reading of a later
    hour arrives or when :meth:`close` is called after it ended. A closed hour with
    readings in fewer than 45 of its minutes is missing, as is an hour without any:
    a gap is never a zero. Serialises to a dict for a Home Assistant Store.
    """

    def __init__(self) -> None:
        """Start with no hours and no open hour."""
        self.hours: dict[int, HourAverage] = {}
        self._open: int | None = None
        self._sums = [0.0, 0.0, 0.0]
        self._count = 0
        self._humidity_count = 0
        self._minutes: set[int] = set()

    def add(self, when: datetime, pm2_5: float, pm10: float, humidity: float | None = None) -> bool:
        """Add one reading; return whether an hour closed (history worth saving).

        A reading older than the open hour (clock set back) is ignored.
        """
        start = hour_start(when)
        closed = False
        if self._open is not None and start < self._open:
            return False
        if self._open != start:
            closed = self._close_open()
            self._open = start
        self._sums[0] += pm2_5
        self._sums[1] += pm10
        self._count += 1
        if humidity is not None:
            self._sums[2] += humidity
            self._humidity_count += 1
        self._minutes.add(int(when.timestamp() - start) // 60)
        self._prune(start)
        return closed

    def close(self, now: datetime) -> bool:
        """Close the open hour if ``now`` is past it; return whether an hour closed."""
        start = hour_start(now)
        if self._open is None or self._open >= start:
            return False
        closed = self._close_open()
        self._prune(start)
        return closed

    def _close_open(self) -> bool:
        """Store the open hour's average when complete enough; reset the accumulator."""
        if self._open is None:
            return False
        closed = False
        if len(self._minutes) >= MIN_MINUTES_PER_HOUR and self._count:
            self.hours[self._open] = HourAverage(
                pm2_5=self._sums[0] / self._count,
                pm10=self._sums[1] / self._count,
                humidity=(self._sums[2] / self._humidity_count if self._humidity_count else None),
            )
            closed = True
        self._open = None
        self._sums = [0.0, 0.0, 0.0]
        self._count = self._humidity_count = 0
        self._minutes = set()
        return closed

    def _prune(self, current: int) -> None:
        """Forget hours that left the 12-hour window before the hour ``current``."""
        oldest = current - NOWCAST_HOURS * _HOUR
        for start in [s for s in self.hours if s < oldest]:
            del self.hours[start]

    def recent(self, now: datetime) -> list[HourAverage | None]:
        """Return the 12 complete clock hours before ``now``, most recent first."""
        latest = hour_start(now) - _HOUR
        return [self.hours.get(latest - age * _HOUR) for age in range(NOWCAST_HOURS)]

    def as_dict(self) -> dict[str, object]:
        """Return what is persisted: closed hours and the open hour's running sums."""
        return {
            "hours": [
                [start, hour.pm2_5, hour.pm10, hour.humidity]
                for start, hour in sorted(self.hours.items())
            ],
            "open": None
            if self._open is None
            else {
                "start": self._open,
                "sums": list(self._sums),
                "count": self._count,
                "humidity_count": self._humidity_count,
                "minutes": sorted(self._minutes),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> HourlyHistory:
        """Restore a history saved with :meth:`as_dict`; damaged parts are dropped."""
        history = cls()
        hours = data.get("hours")
        for row in hours if isinstance(hours, list) else []:
            if (
                isinstance(row, list)
                and len(row) == 4
                and all(isinstance(v, int | float) for v in row[:3])
                and (row[3] is None or isinstance(row[3], int | float))
            ):
                humidity = None if row[3] is None else float(row[3])
                history.hours[int(row[0])] = HourAverage(float(row[1]), float(row[2]), humidity)
        opened = data.get("open")
        if isinstance(opened, dict):
            try:
                sums = [float(v) for v in opened["sums"]]
                if len(sums) != 3:
                    raise ValueError  # noqa: TRY301 - same handling as a bad value
                history._open = int(opened["start"])
                history._sums = sums
                history._count = int(opened["count"])
                history._humidity_count = int(opened["humidity_count"])
                history._minutes = {int(m) for m in opened["minutes"]}
            except KeyError, TypeError, ValueError:
                history._open = None
                history._sums = [0.0, 0.0, 0.0]
                history._count = history._humidity_count = 0
                history._minutes = set()
        return history


class RollingAverage:
    """The mean of the last ``size`` values."""

    def __init__(self, size: int) -> None:
        """Keep up to size values."""
        self._values: deque[float] = deque(maxlen=max(1, size))

    def add(self, value: float) -> float:
        """Add a value and return the current mean."""
        self._values.append(value)
        return statistics.fmean(self._values)

    def resize(self, size: int) -> None:
        """Change the window, keeping the newest values."""
        self._values = deque(self._values, maxlen=max(1, size))

    @property
    def mean(self) -> float | None:
        """Return the current mean, None before the first value."""
        return statistics.fmean(self._values) if self._values else None


GASES = ("oxidising", "reducing", "nh3")
# Oxidising gases (NO2) raise the oxidising element's resistance; reducing gases and
# NH3 lower the other two. Clean air is therefore the lowest oxidising and the highest
# reducing/NH3 resistance seen.
_CLEANER_IS_HIGHER = {"oxidising": False, "reducing": True, "nh3": True}


@dataclass(slots=True)
class GasBaseline:
    """Clean-air resistances (R0) of the MICS6814, learned and then slowly tracked.

    Method: after a (re)calibration the first ``learn_samples`` readings, taken in
    what the user says is clean air, give R0 as their median. After that R0 only
    follows readings that look cleaner than it (lower oxidising, higher reducing and
    NH3 resistance), by ``tracking`` of the difference per reading, so sensor drift is
    followed while pollution episodes do not pull the baseline. Ratios are R / R0.
    """

    learn_samples: int = 30
    tracking: float = 0.001
    r0: dict[str, float] | None = None
    samples: list[tuple[float, float, float]] | None = None

    def __post_init__(self) -> None:
        """Start learning when nothing was restored."""
        if self.r0 is None and self.samples is None:
            self.samples = []

    @property
    def learning(self) -> bool:
        """Tell whether R0 is still being learned."""
        return self.r0 is None

    def reset(self) -> None:
        """Forget R0 and learn it again from the next readings."""
        self.r0 = None
        self.samples = []

    def add(self, oxidising: float, reducing: float, nh3: float) -> bool:
        """Feed one reading in ohms; return whether what is persisted changed."""
        if self.r0 is None:
            samples = self.samples if self.samples is not None else []
            samples.append((oxidising, reducing, nh3))
            self.samples = samples
            if len(samples) >= self.learn_samples:
                self.r0 = {
                    gas: statistics.median(sample[index] for sample in samples)
                    for index, gas in enumerate(GASES)
                }
                self.samples = None
            return True
        changed = False
        for gas, value in zip(GASES, (oxidising, reducing, nh3), strict=True):
            current = self.r0[gas]
            cleaner = value > current if _CLEANER_IS_HIGHER[gas] else value < current
            if cleaner:
                self.r0[gas] = current + (value - current) * self.tracking
                changed = True
        return changed

    def ratio(self, gas: str, value: float) -> float | None:
        """Return R / R0 for one gas, None while learning."""
        if self.r0 is None or self.r0[gas] <= 0:
            return None
        return value / self.r0[gas]

    def as_dict(self) -> dict[str, object]:
        """Return what is persisted."""
        return {"r0": self.r0, "samples": [list(s) for s in self.samples or []]}

    @classmethod
    def from_dict(cls, data: dict[str, object], learn_samples: int = 30) -> GasBaseline:
        """Restore a baseline saved with :meth:`as_dict`; tolerate damaged data."""
        r0 = data.get("r0")
        samples = data.get("samples")
        restored_r0: dict[str, float] | None = None
        if isinstance(r0, dict) and all(isinstance(r0.get(gas), (int, float)) for gas in GASES):
            restored_r0 = {gas: float(r0[gas]) for gas in GASES}
        restored_samples: list[tuple[float, float, float]] = []
        if restored_r0 is None and isinstance(samples, list):
            restored_samples = [
                (float(s[0]), float(s[1]), float(s[2]))
                for s in samples
                if isinstance(s, list | tuple) and len(s) == 3
            ]
        return cls(
            learn_samples=learn_samples,
            r0=restored_r0,
            samples=None if restored_r0 is not None else restored_samples,
        )
