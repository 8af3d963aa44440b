"""A simulated room: values that move over time, deterministic from a seed.

The chip emulations ask this model for the physical quantities they measure. Every
quantity follows a plausible curve (a daily temperature swing, slow pressure drift,
daylight, pollution events that raise particulates and lower the gas resistances, a
room's sound level)
plus smooth noise. The same seed and the same elapsed time give the same values.

Tests pin exact values with :meth:`Environment.set` (for example
``env.set(temperature=21.5, pm2_5=12)``) and read back what the chips are fed with
:meth:`Environment.values`; :meth:`Environment.release` returns to the simulation.
"""

import itertools
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

# Particle counts per 0.1 L of air per µg/m³, roughly what a PMS5003 reports indoors.
_COUNTS_PER_UG = (
    ("gt0_3um", "pm1", 150.0),
    ("gt0_5um", "pm1", 45.0),
    ("gt1_0um", "pm2_5", 8.0),
    ("gt2_5um", "pm10", 1.0),
    ("gt5_0um", "pm10", 0.3),
    ("gt10um", "pm10", 0.1),
)


@dataclass(frozen=True, slots=True)
class EnvironmentValues:
    """The physical state the emulated chips measure at one instant."""

    temperature: float  # °C at the BME280
    pressure: float  # hPa
    humidity: float  # % relative humidity
    lux: float  # illuminance at the LTR559
    proximity: int  # raw LTR559 proximity counts, 0-2047
    oxidising: float  # MICS6814 sensing resistances in ohms
    reducing: float
    nh3: float
    pm1: int  # PMS5003 standard-particle mass concentrations, µg/m³
    pm2_5: int
    pm10: int
    gt0_3um: int  # PMS5003 particle counts per 0.1 L of air
    gt0_5um: int
    gt1_0um: int
    gt2_5um: int
    gt5_0um: int
    gt10um: int
    cpu_temperature: float  # °C of the Pi's SoC under the board
    noise: float  # A-weighted sound level at the microphone, dB(A)

    @property
    def pm_atmospheric(self) -> tuple[int, int, int]:
        """Return the atmospheric-environment PM1, PM2.5, PM10 (equal to CF=1 indoors)."""
        return (self.pm1, self.pm2_5, self.pm10)


_MAX_KNOTS = 4096

_HEATING_FACTOR = 2.25


def _saturation(temperature: float) -> float:
    """Return the saturation vapour pressure over water in hPa (Magnus)."""
    return 6.1094 * math.exp(17.625 * temperature / (243.04 + temperature))


FIELD_NAMES = frozenset(f.name for f in fields(EnvironmentValues))
_COUNT_NAMES = frozenset(name for name, _, _ in _COUNTS_PER_UG)


class Environment:
    """A room whose air changes over time; values can be pinned for tests."""

    def __init__(
        self,
        seed: int = 0,
        *,
        start_hour: float = 12.0,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the simulation at ``start_hour`` local time.

        ``speed`` makes simulated time run faster than real time (a demo can show a day
        in minutes); ``clock`` is injectable so tests can drive time by hand.
        """
        self.seed = seed
        self._start_hour = start_hour
        self._speed = speed
        self._clock = clock
        self._t0 = clock()
        self._pinned: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Seeding a Random per knot is slow (~3 µs); chips ask for values on every read.
        self._knots: dict[tuple[str, int], float] = {}

    # -- pinning ---------------------------------------------------------------------

    def set(self, **values: float) -> None:
        """Pin quantities to exact values (any field of :class:`EnvironmentValues`).

        Pinning a PM value without pinning counts derives the counts from it, so the
        frame stays self-consistent.
        """
        unknown = set(values) - FIELD_NAMES
        if unknown:
            raise ValueError(f"unknown quantities: {sorted(unknown)}")
        with self._lock:
            self._pinned.update(values)

    def release(self, *names: str) -> None:
        """Let pinned quantities follow the simulation again (all of them if none given)."""
        with self._lock:
            if names:
                for name in names:
                    self._pinned.pop(name, None)
            else:
                self._pinned.clear()

    @property
    def pinned(self) -> dict[str, Any]:
        """Return the pinned quantities."""
        with self._lock:
            return dict(self._pinned)

    # -- the simulation --------------------------------------------------------------

    def elapsed(self) -> float:
        """Return simulated seconds since the start."""
        return (self._clock() - self._t0) * self._speed

    def values(self) -> EnvironmentValues:
        """Return the state now: pinned values where pinned, simulated elsewhere."""
        simulated = self.simulate(self.elapsed())
        with self._lock:
            pinned = dict(self._pinned)
        if not pinned:
            return simulated
        merged = replace(simulated, **pinned)
        pm_pinned = {"pm1", "pm2_5", "pm10"} & set(pinned)
        if pm_pinned and not _COUNT_NAMES & set(pinned):
            merged = replace(merged, **_counts_for(merged.pm1, merged.pm2_5, merged.pm10))
        return merged

    def simulate(self, t: float) -> EnvironmentValues:
        """Return the simulated state ``t`` seconds after the start (no pinning)."""
        hour = (self._start_hour + t / 3600.0) % 24.0
        # Warmest mid-afternoon, coolest before dawn.
        daily = math.cos((hour - 15.0) / 24.0 * 2.0 * math.pi)
        room = 20.5 + 2.0 * daily + 0.4 * self._noise("temperature", t, 600.0)
        cpu = room + 22.0 + 4.0 * self._noise("cpu", t, 120.0)
        # The BME280 sits on the Pi: its air is warmed by the CPU. Modelled so that the
        # usual correction (factor 2.25) gives the room back.
        temperature = (_HEATING_FACTOR * room + cpu) / (_HEATING_FACTOR + 1.0)
        pressure = 1013.0 + 6.0 * self._noise("pressure", t, 6 * 3600.0)
        pressure += 0.05 * self._noise("pressure-fast", t, 120.0)
        # Relative humidity falls as the room warms up.
        room_humidity = 45.0 - 4.0 * daily + 5.0 * self._noise("humidity", t, 1800.0)
        # Same water vapour, warmer air: lower relative humidity at the sensor.
        humidity = room_humidity * _saturation(room) / _saturation(temperature)
        daylight = max(0.0, math.sin((hour - 6.0) / 12.0 * math.pi)) if 6 <= hour <= 18 else 0.0
        cloud = 0.75 + 0.25 * self._noise("cloud", t, 300.0)
        lux = 400.0 * daylight * cloud + (30.0 if 18 <= hour <= 23 else 0.0)
        # Someone passes by now and then: proximity mostly low.
        near = max(0.0, self._noise("proximity", t, 30.0) - 0.8) * 5.0
        proximity = round(2.0 + 3.0 * abs(self._noise("prox-jitter", t, 5.0)) + 1500.0 * near)
        event = self.pollution(t)
        oxidising = 20_000.0 * (1.0 + 0.05 * self._noise("ox", t, 300.0)) * (1.0 - 0.5 * event)
        reducing = 300_000.0 * (1.0 + 0.2 * self._noise("red", t, 900.0)) * (1.0 - 0.6 * event)
        nh3 = 150_000.0 * (1.0 + 0.2 * self._noise("nh3", t, 900.0)) * (1.0 - 0.5 * event)
        pm2_5_f = 6.0 + 2.0 * self._noise("pm", t, 300.0) + 80.0 * event
        pm2_5 = max(0, round(pm2_5_f))
        pm1 = max(0, round(pm2_5_f * 0.65))
        pm10 = max(pm2_5, round(pm2_5_f * 1.4 + 1.0))
        # A room that is quiet at night and busier in the day, with minute-scale swings.
        activity = max(0.0, math.sin((hour - 6.0) / 16.0 * math.pi)) if 6 <= hour <= 22 else 0.0
        noise = 37.0 + 13.0 * activity + 5.0 * self._noise("sound", t, 40.0)
        return EnvironmentValues(
            temperature=round(temperature, 3),
            pressure=round(pressure, 3),
            humidity=round(min(100.0, max(0.0, humidity)), 3),
            lux=round(lux, 2),
            proximity=min(2047, proximity),
            oxidising=round(oxidising, 1),
            reducing=round(reducing, 1),
            nh3=round(nh3, 1),
            pm1=pm1,
            pm2_5=pm2_5,
            pm10=pm10,
            cpu_temperature=round(cpu, 2),
            noise=round(noise, 2),
            **_counts_for(pm1, pm2_5, pm10),
        )

    def pollution(self, t: float) -> float:
        """Return the strength (0-1) of a pollution event at ``t``: a few per day."""
        return min(1.0, max(0.0, self._noise("pollution", t, 1200.0) - 0.55) * 3.0)

    def _noise(self, name: str, t: float, period: float) -> float:
        """Return smooth noise in [-1, 1]: random knots ``period`` seconds apart, eased."""
        position = t / period
        k = math.floor(position)
        frac = position - k
        a = self._knot(name, k)
        b = self._knot(name, k + 1)
        weight = (1.0 - math.cos(frac * math.pi)) / 2.0
        return a + (b - a) * weight

    def _knot(self, name: str, k: int) -> float:
        """Return the random knot value ``k`` of a named noise, fixed by the seed."""
        key = (name, k)
        value = self._knots.get(key)
        if value is None:
            if len(self._knots) > _MAX_KNOTS:
                self._knots.clear()
            value = random.Random(f"{self.seed}:{name}:{k}").uniform(-1.0, 1.0)
            self._knots[key] = value
        return value


def _counts_for(pm1: int, pm2_5: int, pm10: int) -> dict[str, int]:
    """Return particle counts consistent with the given mass concentrations."""
    pm = {"pm1": pm1, "pm2_5": pm2_5, "pm10": pm10}
    counts = {name: round(pm[source] * factor) for name, source, factor in _COUNTS_PER_UG}
    # Counts of larger particles are subsets of the smaller bins' counts.
    ordered = [name for name, _, _ in _COUNTS_PER_UG]
    for smaller, larger in itertools.pairwise(ordered):
        counts[larger] = min(counts[larger], counts[smaller])
    return counts
