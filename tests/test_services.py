"""The simulate_fault action refuses what it cannot do, with translated errors."""

from collections.abc import Callable

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro.const import BOARD_HARDWARE, CONF_BOARD, DOMAIN
from custom_components.qiot_enviro.hardware.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.hardware.models import BusDevice


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


async def test_show_message_without_lcd(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
) -> None:
    """A board without SPI has no LCD: the action says so instead of failing silently."""
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.SPI))
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service("notify", "qiot_lcd")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "show_message",
            {"config_entry_id": mock_config_entry.entry_id, "message": "hi"},
            blocking=True,
        )
    assert err.value.translation_key == "lcd_unavailable"
