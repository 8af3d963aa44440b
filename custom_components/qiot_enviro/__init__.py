"""The QIoT Enviro integration: a Pimoroni Enviro or Enviro+ board in Home Assistant."""

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .const import DOMAIN
from .coordinator import QiotEnviroConfigEntry, QiotEnviroCoordinator
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.BUTTON, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> bool:
    """Open the board, read it once, and add its entities."""
    integration = await async_get_integration(hass, DOMAIN)
    coordinator = QiotEnviroCoordinator(hass, entry, str(integration.version))
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        # Release the lines and ports now so that the retry does not find them busy.
        await coordinator.async_close()
        raise
    entry.runtime_data = coordinator

    async def _async_stop(event: Event) -> None:
        """Release the hardware when Home Assistant stops (entries are not unloaded)."""
        await coordinator.async_close()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> bool:
    """Remove the entities and release every hardware resource."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_close()
    return unloaded
