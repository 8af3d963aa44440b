"""The actions refuse what they cannot do, with translated errors; faults are simulated only."""

from collections.abc import Callable

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro.const import BOARD_HARDWARE, CONF_BOARD, CONF_UART_PATH, DOMAIN
from custom_components.qiot_enviro.enviro.bus import DEFAULT_UART
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.models import BusDevice


async def test_unknown_entry(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An entry id that is not ours is named in the error."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "dismiss_message", {"config_entry_id": "nope"}, blocking=True
        )
    assert err.value.translation_key == "entry_not_found"
    assert err.value.translation_placeholders == {"entry_id": "nope"}


async def test_not_loaded_entry(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An unloaded board cannot show a message; the error names it."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "show_message",
            {"config_entry_id": init_integration.entry_id, "message": "hi"},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_loaded"
    assert err.value.translation_placeholders == {"title": init_integration.title}


async def test_no_fault_injection_on_real_hardware(
    hass: HomeAssistant, hardware: EmulatedBoard
) -> None:
    """Real hardware has no fault selector and no fault action: test tooling stays out."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+",
        data={CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: DEFAULT_UART},
        unique_id=hardware.identity,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service(DOMAIN, "simulate_fault")
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert entities
    assert not [e.entity_id for e in entities if e.domain == "select"]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_simulated_board_has_the_fault_selector(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The simulated board lists every fault; picking one breaks it, "none" mends it."""
    state = hass.states.get("select.enviro_simulated_simulated_fault")
    assert state is not None
    assert state.state == "none"
    assert state.attributes["options"] == [
        "none",
        "particulates_silent",
        "particulates_corrupt",
        "i2c_bus_error",
        "gas_sensor_missing",
        "lcd_spi_error",
    ]
    simulator = init_integration.runtime_data.simulator
    assert simulator is not None
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": state.entity_id, "option": "gas_sensor_missing"},
        blocking=True,
    )
    with pytest.raises(OSError, match="Remote I/O"):
        simulator.i2c.read_i2c_block_data(0x49, 1, 2)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": state.entity_id, "option": "lcd_spi_error"},
        blocking=True,
    )
    # Picking another fault replaces the first.
    assert simulator.i2c.read_i2c_block_data(0x49, 1, 2)
    await hass.services.async_call(
        "select", "select_option", {"entity_id": state.entity_id, "option": "none"}, blocking=True
    )
    state = hass.states.get(state.entity_id)
    assert state is not None
    assert state.state == "none"


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
