"""Tests for setting up, retrying, reloading and unloading a board."""

import logging
from collections.abc import Callable

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.qiot_enviro.const import CONF_GAS_LEARN_SAMPLES, DOMAIN
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.models import BusDevice

from .conftest import async_next_cycle

NOTHING_OPEN = {"i2c": 0, "gpio_chip": 0, "gpio_lines": 0, "serial": 0, "spi": 0, "audio": 0}


async def test_load_unload_releases_hardware(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Loading opens the board; unloading releases every line, port and handle."""
    assert init_integration.state is ConfigEntryState.LOADED
    simulator = init_integration.runtime_data.simulator
    assert simulator is not None
    assert simulator.open_resources()["gpio_lines"] > 0
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    assert simulator.open_resources() == NOTHING_OPEN


async def test_board_not_answering_retries_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulators: list[EmulatedBoard],
    on_new_board: list[Callable[[EmulatedBoard], None]],
) -> None:
    """No I2C bus: setup goes into Home Assistant's retry and holds nothing open."""
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.I2C))
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert simulators
    assert all(board.open_resources() == NOTHING_OPEN for board in simulators)
    issue_id = f"{mock_config_entry.entry_id}_i2c_missing"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None

    # I2C enabled again: the retry succeeds and the repair goes away.
    on_new_board.clear()
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_reload_twenty_times(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulators: list[EmulatedBoard]
) -> None:
    """Reloading again and again works and never leaves a line claimed ("line busy")."""
    for _ in range(20):
        assert await hass.config_entries.async_reload(init_integration.entry_id)
        await hass.async_block_till_done()
        assert init_integration.state is ConfigEntryState.LOADED
    assert all(board.open_resources() == NOTHING_OPEN for board in simulators[:-1])
    state = hass.states.get("sensor.enviro_simulated_atmospheric_pressure")
    assert state is not None
    assert float(state.state) == pytest.approx(1013.2, abs=0.1)


async def test_gas_baseline_survives_restart(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A learned baseline is stored and comes back after a restart (reload)."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_GAS_LEARN_SAMPLES: 3})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    ratio = "sensor.enviro_simulated_reducing_gas_ratio"
    state = hass.states.get(ratio)
    assert state is not None
    assert state.state == "unknown"  # still learning
    for _ in range(3):
        await async_next_cycle(hass, freezer)
    state = hass.states.get(ratio)
    assert state is not None
    assert float(state.state) == pytest.approx(1.0, abs=0.02)
    learned = mock_config_entry.runtime_data.baseline.r0
    assert learned is not None

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.runtime_data.baseline.r0 == learned
    state = hass.states.get(ratio)
    assert state is not None
    assert float(state.state) == pytest.approx(1.0, abs=0.02)


async def test_calibrate_button_restarts_learning(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Pressing "Calibrate gas baseline" forgets R0 and learns it again."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_GAS_LEARN_SAMPLES: 2})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await async_next_cycle(hass, freezer)
    coordinator = mock_config_entry.runtime_data
    assert not coordinator.baseline.learning
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": "button.enviro_simulated_calibrate_gas_baseline"},
        blocking=True,
    )
    assert coordinator.baseline.learning
    state = hass.states.get("sensor.enviro_simulated_nh3_gas_ratio")
    assert state is not None
    assert state.state == "unknown"


async def test_stop_turns_off_and_releases(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """When Home Assistant stops, the LCD goes dark and the hardware is released."""
    simulator = init_integration.runtime_data.simulator
    assert simulator is not None
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert simulator.open_resources() == NOTHING_OPEN
    assert not simulator.lcd.backlight


async def test_hardware_page_does_not_take_the_board_side_for_a_platform(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Settings > System > Hardware works, and no error names this integration.

    Home Assistant's ``hardware`` integration imports ``<integration>.hardware`` of every
    loaded integration as its platform; 2026.3 logged "Invalid hardware platform" at every
    start while the board side lived in a package of that name.
    """
    assert await async_setup_component(hass, "hardware", {})
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "hardware/info"})
    response = await client.receive_json()

    assert response["success"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
