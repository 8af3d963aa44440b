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
from homeassistant.components.notify.legacy import NOTIFY_SERVICES, BaseNotificationService
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

from .const import DEFAULT_MESSAGE_DURATION, DOMAIN
from .coordinator import QiotEnviroConfigEntry
from .entity import QiotEnviroEntity
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


class QiotEnviroNotifyEntity(QiotEnviroEntity, NotifyEntity):
    """Show a message on the LCD with `notify.send_message`."""

    _attr_supported_features = NotifyEntityFeature.TITLE

    @override
    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Queue the message; it shows within a frame time, for the default duration."""
        lcd = self.coordinator.lcd
        assert lcd is not None
        lcd.show(validate_message(message, title=title, duration=DEFAULT_MESSAGE_DURATION))


async def async_get_service(
    hass: HomeAssistant,
    config: ConfigType,
    discovery_info: DiscoveryInfoType | None = None,
) -> QiotLcdNotificationService | None:
    """Return the legacy notify service of a board (loaded through discovery)."""
    if discovery_info is None:
        return None
    return QiotLcdNotificationService(discovery_info["entry_id"])


async def async_unload_legacy_service(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the legacy notify service of one board (others keep theirs)."""
    services = hass.data.get(NOTIFY_SERVICES, {}).get(DOMAIN, [])
    for service in [s for s in services if isinstance(s, QiotLcdNotificationService)]:
        if service.entry_id == entry_id:
            await service.async_unregister_services()
            services.remove(service)


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
                translation_domain=DOMAIN, translation_key="lcd_unavailable"
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
