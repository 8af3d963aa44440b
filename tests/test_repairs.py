"""Repair issues: raised when a bus device or the particulate sensor fails, cleared after."""

import time
from collections.abc import Callable

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro.const import DOMAIN
from custom_components.qiot_enviro.coordinator import PROBE_EVERY
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.models import BusDevice

from .conftest import async_next_cycle


def issues(issue_registry: ir.IssueRegistry, entry: MockConfigEntry) -> set[str]:
    """Return this entry's issue ids without the entry prefix."""
    prefix = f"{entry.entry_id}_"
    return {
        issue_id.removeprefix(prefix)
        for (domain, issue_id) in issue_registry.issues
        if domain == DOMAIN and issue_id.startswith(prefix)
    }


async def test_missing_spi_raises_repair_until_it_appears(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """No SPI: the sensors work, a repair says the LCD is off; enabling SPI clears it."""
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.SPI))
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert issues(issue_registry, mock_config_entry) == {"spi_missing"}
    issue = issue_registry.async_get_issue(DOMAIN, f"{mock_config_entry.entry_id}_spi_missing")
    assert issue is not None
    assert issue.translation_placeholders == {
        "path": "/dev/spidev0.1",
        "detail": "/dev/spidev0.1: not_present (simulated)",
    }
    temperature = hass.states.get("sensor.enviro_simulated_temperature")
    assert temperature is not None
    assert temperature.state != "unavailable"

    on_new_board.clear()
    simulator = mock_config_entry.runtime_data.simulator
    assert simulator is not None
    simulator.faults.clear()
    for _ in range(PROBE_EVERY):
        await async_next_cycle(hass, freezer)
    assert issues(issue_registry, mock_config_entry) == set()
    # The device appeared: the entry reloads to start the LCD.
    assert mock_config_entry.runtime_data.simulator is not simulator


async def test_microphone_missing_or_busy_raises_repair_and_no_noise_sensors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """No capture device: a repair says what to enable, and no noise sensor is made.

    Busy (another program records): the other repair; freeing it brings noise back.
    """
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.AUDIO))
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issues(issue_registry, mock_config_entry) == {"audio_missing"}
    assert hass.states.get("sensor.enviro_simulated_noise_level") is None
    assert hass.states.get("sensor.enviro_simulated_temperature") is not None
    issue = issue_registry.async_get_issue(DOMAIN, f"{mock_config_entry.entry_id}_audio_missing")
    assert issue is not None
    assert issue.translation_placeholders == {
        "path": "hw:CARD=adau7002,DEV=0",
        "detail": "hw:CARD=adau7002,DEV=0: not_present (simulated)",
    }

    simulator = mock_config_entry.runtime_data.simulator
    assert simulator is not None
    simulator.faults.clear()
    simulator.faults.busy_device(BusDevice.AUDIO)
    for _ in range(PROBE_EVERY):
        await async_next_cycle(hass, freezer)
    assert issues(issue_registry, mock_config_entry) == {"audio_inaccessible"}

    on_new_board.clear()
    simulator.faults.clear()
    for _ in range(PROBE_EVERY):
        await async_next_cycle(hass, freezer)
    assert issues(issue_registry, mock_config_entry) == set()
    # The microphone appeared: the entry reloads and the noise sensors exist.
    assert mock_config_entry.runtime_data.simulator is not simulator
    assert hass.states.get("sensor.enviro_simulated_noise_level") is not None


async def test_microphone_in_use_by_the_board_is_not_reported_busy(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The periodic probe finds the microphone held by our own capture: that is no repair.

    An ALSA hw device has one reader, so a probe opening it while the board captures
    gets "busy"; the board knows it is the reader.
    """
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    simulator = mock_config_entry.runtime_data.simulator
    assert simulator is not None
    assert simulator.microphone.open_streams == 1
    for _ in range(PROBE_EVERY):
        await async_next_cycle(hass, freezer)
    assert issues(issue_registry, mock_config_entry) == set()
    assert mock_config_entry.runtime_data.simulator is simulator  # no reload either


async def test_inaccessible_uart_and_serial_console(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A UART without permission and a serial console each get their own repair."""

    def break_uart(board: EmulatedBoard) -> None:
        board.faults.permission_denied(BusDevice.UART)
        board.faults.serial_console(True)

    on_new_board.append(break_uart)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issues(issue_registry, mock_config_entry) == {"uart_inaccessible", "serial_console"}
    simulator = mock_config_entry.runtime_data.simulator
    assert simulator is not None
    simulator.faults.serial_console(False)
    for _ in range(PROBE_EVERY):
        await async_next_cycle(hass, freezer)
    assert issues(issue_registry, mock_config_entry) == {"uart_inaccessible"}


async def test_stale_particulates_raise_and_clear_repair(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Minutes without a PMS5003 frame raise a repair; frames coming back clear it."""
    simulator = init_integration.runtime_data.simulator
    assert simulator is not None
    simulator.faults.pms_silence()
    await hass.async_add_executor_job(time.sleep, 0.4)
    await async_next_cycle(hass, freezer)
    assert "particulates_stale" not in issues(issue_registry, init_integration)
    for _ in range(31):
        await async_next_cycle(hass, freezer)
    assert "particulates_stale" in issues(issue_registry, init_integration)
    simulator.faults.clear()
    # The reader may be between resets of the sensor: frames are back within seconds.
    for _ in range(50):
        await hass.async_add_executor_job(time.sleep, 0.1)
        await async_next_cycle(hass, freezer)
        if "particulates_stale" not in issues(issue_registry, init_integration):
            break
    assert "particulates_stale" not in issues(issue_registry, init_integration)
