"""Constants of the QIoT Enviro integration."""

import logging
from datetime import timedelta
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
# The legacy notify service's name (qiot_lcd, qiot_lcd_2, ...), fixed for the entry's life.
CONF_LEGACY_NOTIFY_NAME: Final = "legacy_notify_name"
BOARD_HARDWARE: Final = "hardware"
# A board on another Pi whose agent publishes over MQTT; the entry holds its board id.
BOARD_REMOTE: Final = "remote"
CONF_BOARD_ID: Final = "board_id"
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
# Correct PM2.5 with the EPA's US-wide correction for Plantower sensors (Barkjohn et al.).
CONF_PM25_CORRECTION: Final = "pm25_correction"

DEFAULT_TEMPERATURE_COMPENSATION: Final = True
DEFAULT_COMPENSATION_FACTOR: Final = 2.25
DEFAULT_CPU_AVERAGE_SAMPLES: Final = 5
DEFAULT_GAS_BASELINE_TRACKING: Final = True
DEFAULT_GAS_LEARN_SAMPLES: Final = 30
DEFAULT_PM25_CORRECTION: Final = False
# Noise: dB added to the levels computed from the microphone's datasheet sensitivity, to
# match a reference sound level meter (the microphone's tolerance is a few dB).
CONF_NOISE_OFFSET: Final = "noise_offset"
DEFAULT_NOISE_OFFSET: Final = 0.0
NOISE_OFFSET_LIMIT: Final = 20.0

# Particulate data older than this raises a repair issue.
PARTICULATES_STALE_AFTER: Final = timedelta(minutes=5)

STORAGE_VERSION: Final = 1
# A changed gas baseline is written at most this long after the change (at once when
# learning completes): the most a power cut can lose, at a few writes an hour.
STORAGE_SAVE_INTERVAL: Final = timedelta(minutes=5)
# The hourly particulate history behind the NowCast: a closed hour is written within
# STORAGE_SAVE_INTERVAL, the open hour's running sums at unload.
HISTORY_STORAGE_VERSION: Final = 1

# Display options
CONF_IDLE_SCREEN: Final = "idle_screen"
CONF_STARTUP_MESSAGE: Final = "startup_message"
CONF_TAP_THRESHOLD: Final = "tap_threshold"
IDLE_READINGS: Final = "readings"
IDLE_CLOCK: Final = "clock"
IDLE_OFF: Final = "off"
IDLE_SCREENS: Final = (IDLE_READINGS, IDLE_CLOCK, IDLE_OFF)
DEFAULT_IDLE_SCREEN: Final = IDLE_READINGS
DEFAULT_STARTUP_MESSAGE: Final = True
# The Enviro+ examples treat a proximity above 1500 (of 2047) as a tap.
DEFAULT_TAP_THRESHOLD: Final = 1500
MAX_MESSAGE_LENGTH: Final = 1000
DEFAULT_MESSAGE_DURATION: Final = 30
LEGACY_NOTIFY_NAME: Final = "qiot_lcd"

# Particulate sampling: continuous, or one sample every so many minutes (the PMS5003's fan
# is rated for about 8000 hours; sleeping between samples makes it last years).
CONF_PARTICULATE_SAMPLING: Final = "particulate_sampling"
SAMPLING_CONTINUOUS: Final = "continuous"
SAMPLING_OPTIONS: Final = (SAMPLING_CONTINUOUS, "5", "10", "15", "30")
DEFAULT_PARTICULATE_SAMPLING: Final = SAMPLING_CONTINUOUS


def sampling_interval(option: object) -> int | None:
    """Return the seconds between particulate samples of an option, None for continuous."""
    if option in SAMPLING_OPTIONS and option != SAMPLING_CONTINUOUS:
        return int(str(option)) * 60
    return None
