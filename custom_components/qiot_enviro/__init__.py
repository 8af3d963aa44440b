"""The QIoT Enviro integration: a Pimoroni Enviro or Enviro+ board in Home Assistant."""

from homeassistant.const import CONF_NAME, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import discovery
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .const import DOMAIN, LEGACY_NOTIFY_NAME
from .coordinator import QiotEnviroConfigEntry, QiotEnviroCoordinator
from .lcd import LcdController
from .notify import async_unload_legacy_service
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.BUTTON,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.NOTIFY,
    Platform.SENSOR,
    Platform.SWITCH,
]

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
        detection = coordinator.detection
        if detection is not None and detection.has_display:
            coordinator.lcd = LcdController(hass, coordinator)
            await coordinator.lcd.async_start()
    except BaseException:
        # Release the lines, ports and threads now, so that a retry does not find
        # them busy ("line busy" after a failed start).
        if coordinator.lcd is not None:
            await coordinator.lcd.async_stop()
        await coordinator.async_close()
        raise
    entry.runtime_data = coordinator

    async def _async_stop(event: Event) -> None:
        """Turn the LCD off and release the hardware when Home Assistant stops."""
        if coordinator.lcd is not None:
            await coordinator.lcd.async_stop()
        await coordinator.async_close()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if coordinator.lcd is not None:
        # The legacy notify.qiot_lcd service has no config entry support: load it
        # through discovery, as core does for devices with a display.
        hass.async_create_task(
            discovery.async_load_platform(
                hass,
                Platform.NOTIFY,
                DOMAIN,
                {CONF_NAME: _legacy_notify_name(hass, entry), "entry_id": entry.entry_id},
                {},
            )
        )
    return True


def _legacy_notify_name(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> str:
    """Return notify.qiot_lcd for the first board, qiot_lcd_2... for further ones."""
    entries = sorted(
        (e for e in hass.config_entries.async_entries(DOMAIN) if not e.disabled_by),
        key=lambda e: e.created_at,
    )
    index = next((i for i, e in enumerate(entries) if e.entry_id == entry.entry_id), 0)
    return LEGACY_NOTIFY_NAME if index == 0 else f"{LEGACY_NOTIFY_NAME}_{index + 1}"


async def async_unload_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> bool:
    """Remove the entities and release every hardware resource."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        if entry.runtime_data.lcd is not None:
            await entry.runtime_data.lcd.async_stop()
            await async_unload_legacy_service(hass, entry.entry_id)
        await entry.runtime_data.async_close()
    return unloaded
