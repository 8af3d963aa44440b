"""Constants of the QIoT Enviro integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "qiot_enviro"
LOGGER = logging.getLogger(__package__)

MANUFACTURER: Final = "Pimoroni"

# The board is read every 10 s: the BME280, LTR559 and gas sensor take about 20 ms
# of bus time per cycle, and the PMS5003 delivers a frame a second in the background,
# so 10 s follows changes closely without filling the recorder.
UPDATE_INTERVAL: Final = timedelta(seconds=10)

# Config entry data
CONF_BOARD: Final = "board"
CONF_UART_PATH: Final = "uart_path"
BOARD_HARDWARE: Final = "hardware"
BOARD_SIMULATED: Final = "simulated"
BOARD_SIMULATED_ENVIRO: Final = "simulated_enviro"
# The simulated boards a user can pick: an Enviro+ and a plain Enviro.
SIMULATED_BOARDS: Final = (BOARD_SIMULATED, BOARD_SIMULATED_ENVIRO)

# Options
CONF_TEMPERATURE_COMPENSATION: Final = "temperature_compensation"
CONF_COMPENSATION_FACTOR: Final = "compensation_factor"
CONF_CPU_AVERAGE_SAMPLES: Final = "cpu_average_samples"
CONF_GAS_BASELINE_TRACKING: Final = "gas_baseline_tracking"
CONF_GAS_LEARN_SAMPLES: Final = "gas_learn_samples"

DEFAULT_TEMPERATURE_COMPENSATION: Final = True
DEFAULT_COMPENSATION_FACTOR: Final = 2.25
DEFAULT_CPU_AVERAGE_SAMPLES: Final = 5
DEFAULT_GAS_BASELINE_TRACKING: Final = True
DEFAULT_GAS_LEARN_SAMPLES: Final = 30

# Particulate data older than this raises a repair issue.
PARTICULATES_STALE_AFTER: Final = timedelta(minutes=5)

STORAGE_VERSION: Final = 1
