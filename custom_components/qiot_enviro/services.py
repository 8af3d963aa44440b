"""Actions of the integration, registered once in async_setup."""

import voluptuous as vol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .const import DOMAIN
from .coordinator import QiotEnviroConfigEntry
from .hardware.emulator.scenarios import SCENARIOS, apply_scenario

SERVICE_SIMULATE_FAULT = "simulate_fault"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_FAULT = "fault"

SIMULATE_FAULT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_FAULT): vol.In(sorted(SCENARIOS)),
    }
)


def loaded_entry(hass: HomeAssistant, entry_id: str) -> QiotEnviroConfigEntry:
    """Return a loaded entry of this integration or raise a translated error."""
    entry: QiotEnviroConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    @callback
    def simulate_fault(call: ServiceCall) -> None:
        """Inject (or clear) a fault in a simulated board."""
        entry = loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        simulator = entry.runtime_data.simulator
        if simulator is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_simulated",
                translation_placeholders={"title": entry.title},
            )
        apply_scenario(simulator.faults, call.data[ATTR_FAULT])

    hass.services.async_register(
        DOMAIN, SERVICE_SIMULATE_FAULT, simulate_fault, schema=SIMULATE_FAULT_SCHEMA
    )
