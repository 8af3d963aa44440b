"""Switch entity: the LCD backlight."""

from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import QiotEnviroConfigEntry
from .entity import QiotEnviroEntity

PARALLEL_UPDATES = 1

BACKLIGHT = SwitchEntityDescription(
    key="lcd_backlight", translation_key="lcd_backlight", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the backlight switch when the board has a working LCD."""
    if entry.runtime_data.lcd is not None:
        async_add_entities([QiotEnviroBacklight(entry.runtime_data, BACKLIGHT)])


class QiotEnviroBacklight(QiotEnviroEntity, SwitchEntity):
    """The LCD backlight; a new message switches it on again."""

    @property
    @override
    def is_on(self) -> bool:
        """Return whether the backlight is on."""
        lcd = self.coordinator.lcd
        return lcd is not None and lcd.backlight

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch the backlight on."""
        assert self.coordinator.lcd is not None
        self.coordinator.lcd.set_backlight(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch the backlight off."""
        assert self.coordinator.lcd is not None
        self.coordinator.lcd.set_backlight(False)

    @override
    async def async_added_to_hass(self) -> None:
        """Follow backlight changes made by messages and idle screens."""
        await super().async_added_to_hass()
        assert self.coordinator.lcd is not None
        self.async_on_remove(self.coordinator.lcd.add_backlight_listener(self._changed))

    @callback
    def _changed(self) -> None:
        self.async_write_ha_state()
