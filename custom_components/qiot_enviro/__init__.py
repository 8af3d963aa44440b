"""The QIoT Enviro integration: a Pimoroni Enviro or Enviro+ board in Home Assistant."""

from homeassistant.const import CONF_NAME, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import discovery
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .const import BOARD_REMOTE, CONF_BOARD, CONF_LEGACY_NOTIFY_NAME, DOMAIN, LOGGER
from .coordinator import (
    EnviroCoordinator,
    QiotEnviroConfigEntry,
    QiotEnviroCoordinator,
    baseline_store,
    fan_store,
    history_store,
)
from .lcd import LcdController
from .notify import (
    allocate_legacy_notify_name,
    async_register_legacy_service,
    async_unregister_legacy_service,
)
from .remote import RemoteCoordinator, RemoteLcd
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.BUTTON,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.NOTIFY,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> bool:
    """Give entries made before 0.2 their stable legacy notify name."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        name = allocate_legacy_notify_name(hass, entry, keep_order=True)
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_LEGACY_NOTIFY_NAME: name}, minor_version=2
        )
        LOGGER.debug("Entry %s keeps notify.%s", entry.title, name)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> bool:
    """Open the board (or hear from its agent), read it once, and add its entities."""
    integration = await async_get_integration(hass, DOMAIN)
    coordinator: EnviroCoordinator
    if entry.data.get(CONF_BOARD) == BOARD_REMOTE:
        coordinator = RemoteCoordinator(hass, entry, str(integration.version))
    else:
        coordinator = QiotEnviroCoordinator(hass, entry, str(integration.version))
    try:
        await coordinator.async_config_entry_first_refresh()
        detection = coordinator.detection
        if isinstance(coordinator, RemoteCoordinator):
            coordinator.async_setup_done()
            if detection is not None and detection.has_display:
                coordinator.lcd = RemoteLcd(hass, coordinator)
                await coordinator.lcd.async_start()
        elif detection is not None and detection.has_display:
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
        name = entry.data.get(CONF_LEGACY_NOTIFY_NAME) or allocate_legacy_notify_name(hass, entry)
        if not await async_register_legacy_service(hass, name, entry.entry_id):
            # The legacy notify service has no config entry support: the first time
            # it is loaded through discovery, as core's lametric does.
            hass.async_create_task(
                discovery.async_load_platform(
                    hass,
                    Platform.NOTIFY,
                    DOMAIN,
                    {CONF_NAME: name, "entry_id": entry.entry_id},
                    {},
                )
            )
    return True


async def async_unload_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> bool:
    """Remove the entities and release every hardware resource."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        if entry.runtime_data.lcd is not None:
            await entry.runtime_data.lcd.async_stop()
            async_unregister_legacy_service(hass, entry.entry_id)
        await entry.runtime_data.async_close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: QiotEnviroConfigEntry) -> None:
    """Forget a deleted board: its repairs, its stored gas baseline and its history."""
    registry = ir.async_get(hass)
    prefix = f"{entry.entry_id}_"
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    await baseline_store(hass, entry).async_remove()
    await history_store(hass, entry).async_remove()
    await fan_store(hass, entry).async_remove()
