"""Switch entity: the LCD backlight."""

from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_OFF, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import QiotEnviroConfigEntry
from .entity import QiotEnviroLcdEntity

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


class QiotEnviroBacklight(QiotEnviroLcdEntity, RestoreEntity, SwitchEntity):
    """The LCD backlight: the user's choice, kept across restarts.

    Frames never switch it; a new message switches it on (so it can be read) and the
    "off" idle screen switches it off when the screen goes idle.
    """

    @property
    @override
    def is_on(self) -> bool:
        """Return whether the backlight is on."""
        lcd = self.coordinator.lcd
        return lcd is not None and lcd.backlight

    @override
    def _state_signature(self) -> tuple[object, ...]:
        """Return the availability and whether the backlight is on."""
        return (self.available, self.is_on)

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
        """Restore the user's last choice; follow changes made by messages and idle screens."""
        await super().async_added_to_hass()
        lcd = self.coordinator.lcd
        assert lcd is not None
        if (last := await self.async_get_last_state()) is not None and last.state == STATE_OFF:
            lcd.set_backlight(False)
        self.async_on_remove(lcd.add_backlight_listener(self._changed))

    @callback
    def _changed(self) -> None:
        self.async_write_ha_state()
