"""Button entities: recalibrate the gas baseline."""

from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import QiotEnviroConfigEntry
from .entity import QiotEnviroEntity
from .enviro.models import SensorGroup

PARALLEL_UPDATES = 1

CALIBRATE = ButtonEntityDescription(
    key="calibrate_gas_baseline",
    translation_key="calibrate_gas_baseline",
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the calibration button when the board has the gas sensor."""
    coordinator = entry.runtime_data
    assert coordinator.detection is not None
    if SensorGroup.GAS in coordinator.detection.groups:
        async_add_entities([QiotEnviroCalibrateButton(coordinator, CALIBRATE)])


class QiotEnviroCalibrateButton(QiotEnviroEntity, ButtonEntity):
    """Forget the gas baseline and learn it again in the current (clean) air."""

    @override
    async def async_press(self) -> None:
        """Restart learning the clean-air baseline."""
        await self.coordinator.async_reset_baseline()
