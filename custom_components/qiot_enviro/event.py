"""Event entity: a tap over the proximity sensor, for automations to trigger on."""

from typing import override

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import QiotEnviroConfigEntry
from .entity import QiotEnviroEntity
from .enviro.models import SensorGroup

PARALLEL_UPDATES = 0

TAP = EventEntityDescription(key="tap", translation_key="tap", event_types=["tap"])


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the tap event when the board's LCD and proximity sensor work."""
    if entry.runtime_data.lcd is not None:
        async_add_entities([QiotEnviroTapEvent(entry.runtime_data, TAP)])


class QiotEnviroTapEvent(QiotEnviroEntity, EventEntity):
    """Fires "tap" when a hand passes over the board (the LTR559's proximity, on I2C)."""

    @property
    @override
    def available(self) -> bool:
        """Available while the proximity sensor answers."""
        if not super().available:
            return False
        result = self.coordinator.data.group(SensorGroup.LIGHT)
        return result is not None and result.ok

    @override
    async def async_added_to_hass(self) -> None:
        """Listen for taps."""
        await super().async_added_to_hass()
        lcd = self.coordinator.lcd
        assert lcd is not None
        self.async_on_remove(lcd.add_tap_listener(self._on_tap))

    @callback
    def _on_tap(self) -> None:
        self._trigger_event("tap")
        self.async_write_ha_state()
