"""Values and helpers shared by the hardware tests."""

import time
from collections.abc import Callable

from custom_components.qiot_enviro.enviro.board import Board, gas_ohms
from custom_components.qiot_enviro.enviro.emulator.i2c import gas_voltage
from custom_components.qiot_enviro.enviro.models import ParticulateReading

FRAME_INTERVAL = 0.03
POWER_UP_DELAY = 0.06

PINNED: dict[str, float] = {
    "temperature": 21.5,
    "pressure": 1001.3,
    "humidity": 47.2,
    "lux": 123.4,
    "proximity": 17,
    "oxidising": 20_000.0,
    "reducing": 300_000.0,
    "nh3": 150_000.0,
    "pm1": 5,
    "pm2_5": 8,
    "pm10": 12,
    "cpu_temperature": 48.5,
}

# The chips' resolution at the drivers' settings: BME280 at 16x oversampling has 20-bit
# temperature and pressure and 16-bit humidity; one LTR559 IR-channel count at gain 4,
# 50 ms is 0.55 lx.
TEMPERATURE_RESOLUTION = 0.005
PRESSURE_RESOLUTION = 0.01
HUMIDITY_RESOLUTION = 0.02
LUX_RESOLUTION = 0.56
# The LTR559 measures proximity every 100 ms at the driver's settings (and light every
# 50 ms): a change of the room reaches its data registers that long after, at most.
LTR559_PERIOD = 0.1
# Full scale ±6.144 V over 2048 (ADS1015) or 32768 (ADS1115) codes.
ADC_LSB = {"ads1015": 6.144 / 2048, "ads1115": 6.144 / 32768}


def ohms_resolution(ohms: float, adc: str) -> float:
    """Return how many ohms one ADC code is worth at a sensing resistance."""
    volts = gas_voltage(ohms)
    return gas_ohms(volts + ADC_LSB[adc]) - gas_ohms(volts)


def pinned_particulates() -> ParticulateReading:
    """Return the PMS5003 reading the pinned room produces (counts derived from PM)."""
    from custom_components.qiot_enviro.enviro.emulator.environment import Environment

    env = Environment()
    env.set(**PINNED)
    values = env.values()
    return ParticulateReading(
        pm1=values.pm1,
        pm2_5=values.pm2_5,
        pm10=values.pm10,
        gt0_3um=values.gt0_3um,
        gt0_5um=values.gt0_5um,
        gt1_0um=values.gt1_0um,
        gt2_5um=values.gt2_5um,
        gt5_0um=values.gt5_0um,
        gt10um=values.gt10um,
    )


def wait_for[T](fetch: Callable[[], T | None], timeout: float = 3.0) -> T:
    """Poll ``fetch`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(0.01)


def particulates_when_ready(board: Board, timeout: float = 3.0) -> ParticulateReading:
    """Read the board until the particulate group has a value."""

    def fetch() -> ParticulateReading | None:
        result = board.read().particulates
        return result.value if result is not None else None

    return wait_for(fetch, timeout)
