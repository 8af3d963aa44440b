"""Notify: the LCD as `notify.send_message` entity and as the legacy `notify.qiot_lcd`."""

from typing import Any, override

from homeassistant.components.notify import (  # type: ignore[attr-defined]
    ATTR_TITLE_DEFAULT,
    NotifyEntity,
    NotifyEntityDescription,
    # Defined in the package before 2026.10 and in .const since; re-exported there.
    NotifyEntityFeature,
)
from homeassistant.components.notify.const import ATTR_DATA, ATTR_TITLE
from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType
from homeassistant.util.hass_dict import HassKey

from .const import CONF_LEGACY_NOTIFY_NAME, DEFAULT_MESSAGE_DURATION, DOMAIN, LEGACY_NOTIFY_NAME
from .coordinator import QiotEnviroConfigEntry
from .entity import QiotEnviroLcdEntity
from .lcd import validate_message

PARALLEL_UPDATES = 0

LCD = NotifyEntityDescription(key="lcd", translation_key="lcd")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the LCD notify entity when the board has a working LCD."""
    if entry.runtime_data.lcd is not None:
        async_add_entities([QiotEnviroNotifyEntity(entry.runtime_data, LCD)])


class QiotEnviroNotifyEntity(QiotEnviroLcdEntity, NotifyEntity):
    """Show a message on the LCD with `notify.send_message`."""

    _attr_supported_features = NotifyEntityFeature.TITLE

    @override
    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Queue the message; it shows within a frame time, for the default duration."""
        lcd = self.coordinator.lcd
        assert lcd is not None
        lcd.show(validate_message(message, title=title, duration=DEFAULT_MESSAGE_DURATION))


# The legacy services this integration made, by service name. Home Assistant's notify
# component keeps each one it loaded; a board that comes back (reload, re-enable)
# re-registers its service instead of loading a second one through discovery.
LEGACY_SERVICES: HassKey[dict[str, QiotLcdNotificationService]] = HassKey(f"{DOMAIN}_legacy_notify")


def allocate_legacy_notify_name(
    hass: HomeAssistant, entry: ConfigEntry | None, *, keep_order: bool = False
) -> str:
    """Return a legacy service name no other board holds: qiot_lcd, qiot_lcd_2, ...

    The name is stored in the entry and kept for its whole life, so adding, removing or
    disabling another board never renumbers it. ``keep_order`` (migrating entries made
    before names were stored) first tries the name the entry had by its position.
    """
    others = [
        e
        for e in hass.config_entries.async_entries(DOMAIN)
        if entry is None or e.entry_id != entry.entry_id
    ]
    taken = {e.data.get(CONF_LEGACY_NOTIFY_NAME) for e in others}
    if keep_order and entry is not None:
        earlier = sum(1 for e in others if not e.disabled_by and e.created_at < entry.created_at)
        wanted = _numbered(earlier + 1)
        if wanted not in taken:
            return wanted
    number = 1
    while _numbered(number) in taken:
        number += 1
    return _numbered(number)


def _numbered(number: int) -> str:
    return LEGACY_NOTIFY_NAME if number == 1 else f"{LEGACY_NOTIFY_NAME}_{number}"


async def async_register_legacy_service(hass: HomeAssistant, name: str, entry_id: str) -> bool:
    """Serve ``notify.<name>`` for an entry again; False if it was never loaded."""
    service = hass.data.get(LEGACY_SERVICES, {}).get(name)
    if service is None:
        return False
    service.entry_id = entry_id
    await service.async_register_services()
    return True


@callback
def async_unregister_legacy_service(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the legacy notify service of one board (others keep theirs)."""
    for name, service in hass.data.get(LEGACY_SERVICES, {}).items():
        if service.entry_id == entry_id:
            hass.services.async_remove(NOTIFY_DOMAIN, name)


async def async_get_service(
    hass: HomeAssistant,
    config: ConfigType,
    discovery_info: DiscoveryInfoType | None = None,
) -> QiotLcdNotificationService | None:
    """Return the legacy notify service of a board (loaded through discovery)."""
    if discovery_info is None:
        return None
    service = QiotLcdNotificationService(discovery_info["entry_id"])
    hass.data.setdefault(LEGACY_SERVICES, {})[discovery_info[CONF_NAME]] = service
    return service


class QiotLcdNotificationService(BaseNotificationService):
    """The legacy `notify.qiot_lcd` service: message, title and data."""

    def __init__(self, entry_id: str) -> None:
        """Serve the LCD of one config entry."""
        self.entry_id = entry_id

    @override
    async def async_send_message(self, message: str = "", **kwargs: Any) -> None:
        """Show a message; data may hold duration, color and background."""
        entry: QiotEnviroConfigEntry | None = self.hass.config_entries.async_get_entry(
            self.entry_id
        )
        lcd = (
            entry.runtime_data.lcd
            if entry is not None and entry.state is ConfigEntryState.LOADED
            else None
        )
        if lcd is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="lcd_unavailable",
                translation_placeholders={"title": entry.title if entry else self.entry_id},
            )
        title = kwargs.get(ATTR_TITLE)
        if title == ATTR_TITLE_DEFAULT:
            title = None
        # The notify schema has already checked that data is a mapping.
        data = kwargs.get(ATTR_DATA) or {}
        unknown = set(data) - {"duration", "color", "background", "size"}
        if unknown:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_option",
                translation_placeholders={"field": ", ".join(sorted(unknown))},
            )
        lcd.show(
            validate_message(
                message,
                title=title,
                duration=data.get("duration", DEFAULT_MESSAGE_DURATION),
                color=data.get("color"),
                background=data.get("background"),
                size=data.get("size"),
            )
        )
