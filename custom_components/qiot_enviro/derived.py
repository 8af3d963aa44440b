"""Values derived from raw readings: compensation, humidity, dew point, AQI, gas baseline.

Pure functions and small state holders, without Home Assistant or hardware imports,
so that each formula is tested on its own.
"""

import math
import statistics
from collections import deque
from dataclasses import dataclass
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


def air_quality_index(pm2_5: float, pm10: float) -> int:
    """Return the US EPA AQI for PM2.5 and PM10 concentrations in µg/m³.

    The larger of the two sub-indices, with the EPA's truncation (PM2.5 to 0.1,
    PM10 to 1). The EPA defines the index on 24-hour averages; callers pass the
    averages they have.
    """
    pm25 = math.floor(max(pm2_5, 0.0) * 10) / 10
    pm10_trunc = math.floor(max(pm10, 0.0))
    return max(_sub_index(pm25, PM25_BREAKPOINTS), _sub_index(pm10_trunc, PM10_BREAKPOINTS))


def air_quality_category(index: int) -> AirQualityCategory:
    """Return the EPA category of an AQI value."""
    for top, category in _CATEGORY_TOPS:
        if index <= top:
            return category
    return AirQualityCategory.HAZARDOUS


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
