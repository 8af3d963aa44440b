"""The simulate_fault action refuses what it cannot do, with translated errors."""

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro.const import BOARD_HARDWARE, CONF_BOARD, DOMAIN


async def test_unknown_entry(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An entry id that is not ours is named in the error."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "simulate_fault",
            {"config_entry_id": "nope", "fault": "clear"},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_found"


async def test_not_loaded_entry(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An unloaded board cannot take a fault."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "simulate_fault",
            {"config_entry_id": init_integration.entry_id, "fault": "clear"},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_loaded"


async def test_real_hardware_refuses_simulated_faults(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Faults are only for simulated boards."""
    init_integration.runtime_data.simulator = None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "simulate_fault",
            {"config_entry_id": init_integration.entry_id, "fault": "clear"},
            blocking=True,
        )
    assert err.value.translation_key == "not_simulated"
    assert init_integration.data[CONF_BOARD] != BOARD_HARDWARE
