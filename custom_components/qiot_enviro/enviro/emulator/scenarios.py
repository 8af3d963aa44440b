"""Named fault scenarios for the simulated board, as a user or a test picks them.

The simulated board's "Simulated fault" select entity (and the end-to-end check)
applies these by name, so that nothing outside the hardware package needs to know
chip addresses or fault details.
"""

import errno
from collections.abc import Callable

from ..bus import ADDR_ADS1015, ADDR_BME280, ADDR_LTR559  # noqa: TID252 - keeps the hardware package relocatable
from .board import Faults


def _i2c_bus_error(faults: Faults) -> None:
    """Every I2C chip fails with EIO, as when the bus itself is gone."""
    for address in (ADDR_BME280, ADDR_LTR559, ADDR_ADS1015):
        faults.i2c_error(address, errno.EIO)


CLEAR = "clear"

SCENARIOS: dict[str, Callable[[Faults], None]] = {
    "particulates_silent": lambda faults: faults.pms_silence(),
    "particulates_corrupt": lambda faults: faults.pms_corrupt("checksum"),
    "i2c_bus_error": _i2c_bus_error,
    "gas_sensor_missing": lambda faults: faults.missing_chip(ADDR_ADS1015),
    "lcd_spi_error": lambda faults: faults.spi_error(),
    CLEAR: lambda faults: faults.clear(),
}
# The scenarios that break something, in a stable order.
FAULT_SCENARIOS: tuple[str, ...] = tuple(name for name in SCENARIOS if name != CLEAR)


def apply_scenario(faults: Faults, name: str) -> None:
    """Apply a named scenario; ``KeyError`` for an unknown name."""
    SCENARIOS[name](faults)
