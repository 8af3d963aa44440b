"""Image entity: exactly what the LCD shows now."""

from datetime import datetime
from typing import override

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EnviroCoordinator, QiotEnviroConfigEntry
from .entity import QiotEnviroEntity, QiotEnviroLcdEntity

PARALLEL_UPDATES = 0

PREVIEW = ImageEntityDescription(key="lcd_preview", translation_key="lcd_preview")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the LCD preview when the board has a working LCD."""
    if entry.runtime_data.lcd is not None:
        async_add_entities([QiotEnviroLcdImage(hass, entry.runtime_data)])


class QiotEnviroLcdImage(QiotEnviroLcdEntity, ImageEntity):
    """The LCD's picture as a PNG (on the simulated board: rebuilt from the SPI bytes)."""

    _attr_content_type = "image/png"

    def __init__(self, hass: HomeAssistant, coordinator: EnviroCoordinator) -> None:
        """Create the preview."""
        QiotEnviroEntity.__init__(self, coordinator, PREVIEW)
        ImageEntity.__init__(self, hass)

    @property
    @override
    def image_last_updated(self) -> datetime | None:
        """Return when the picture last changed."""
        lcd = self.coordinator.lcd
        return lcd.preview_updated if lcd is not None else None

    @override
    async def async_image(self) -> bytes | None:
        """Return the current picture."""
        lcd = self.coordinator.lcd
        return lcd.preview if lcd is not None else None

    @override
    async def async_added_to_hass(self) -> None:
        """Refresh the entity (and its access token URL) when the picture changes."""
        await super().async_added_to_hass()
        lcd = self.coordinator.lcd
        assert lcd is not None
        self.async_on_remove(lcd.add_preview_listener(self._on_preview))

    @callback
    def _on_preview(self) -> None:
        self.async_write_ha_state()
