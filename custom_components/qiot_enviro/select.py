"""Select entity of the simulated board only: which hardware fault it suffers."""

from typing import override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EnviroCoordinator, QiotEnviroConfigEntry
from .entity import QiotEnviroEntity
from .enviro.emulator.scenarios import CLEAR, FAULT_SCENARIOS

PARALLEL_UPDATES = 0

NO_FAULT = "none"

SIMULATED_FAULT = SelectEntityDescription(
    key="simulated_fault",
    translation_key="simulated_fault",
    entity_category=EntityCategory.CONFIG,
    options=[NO_FAULT, *FAULT_SCENARIOS],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the fault selector to a simulated board (local or remote); real hardware gets nothing."""
    if entry.runtime_data.simulated:
        async_add_entities([QiotEnviroSimulatedFault(entry.runtime_data, SIMULATED_FAULT)])


class QiotEnviroSimulatedFault(QiotEnviroEntity, SelectEntity):
    """Inject one fault into the simulated board (``none`` clears every fault).

    Always available: it is how a user breaks, and then mends, the simulated board.
    """

    def __init__(
        self, coordinator: EnviroCoordinator, description: SelectEntityDescription
    ) -> None:
        """Start without a fault (a new simulated board has none)."""
        super().__init__(coordinator, description)
        self._attr_current_option = NO_FAULT

    @property
    @override
    def available(self) -> bool:
        """Stay available while the faults it injects make other entities unavailable."""
        return True

    @override
    async def async_select_option(self, option: str) -> None:
        """Clear the previous fault and inject the chosen one."""
        await self.coordinator.async_set_fault(CLEAR if option == NO_FAULT else option)
        self._attr_current_option = option
        self.async_write_ha_state()
