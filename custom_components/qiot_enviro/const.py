"""Constants of the QIoT Enviro integration."""

import logging
from typing import Final

DOMAIN: Final = "qiot_enviro"
LOGGER = logging.getLogger(__package__)
