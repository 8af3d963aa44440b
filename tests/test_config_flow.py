"""Tests for the config flow, the reconfigure flow and the options flow."""

from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro import config_flow as config_flow_module
from custom_components.qiot_enviro.const import (
    BOARD_HARDWARE,
    BOARD_SIMULATED,
    BOARD_SIMULATED_ENVIRO,
    CONF_BOARD,
    CONF_COMPENSATION_FACTOR,
    CONF_CPU_AVERAGE_SAMPLES,
    CONF_GAS_BASELINE_TRACKING,
    CONF_GAS_LEARN_SAMPLES,
    CONF_IDLE_SCREEN,
    CONF_LEGACY_NOTIFY_NAME,
    CONF_NOISE_OFFSET,
    CONF_PARTICULATE_SAMPLING,
    CONF_PM25_CORRECTION,
    CONF_STARTUP_MESSAGE,
    CONF_TAP_THRESHOLD,
    CONF_TEMPERATURE_COMPENSATION,
    CONF_UART_PATH,
    DOMAIN,
)
from custom_components.qiot_enviro.enviro.bus import ADDR_ADS1015, ADDR_BME280, ADDR_LTR559
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.models import BusDevice

from .conftest import PINNED, SIM_IDENTITY


async def test_no_board_offers_simulated(hass: HomeAssistant) -> None:
    """On a machine without I2C the form says so, and the simulated board can be added."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "i2c_not_enabled"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_SIMULATED, CONF_UART_PATH: "/dev/ttyAMA0"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["model"] == "Enviro+ (simulated)"
    assert "PMS5003" in result["description_placeholders"]["sensors"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Enviro+ (simulated)"
    assert result["data"] == {
        CONF_BOARD: BOARD_SIMULATED,
        CONF_UART_PATH: "/dev/ttyAMA0",
        CONF_LEGACY_NOTIFY_NAME: "qiot_lcd",
    }
    assert result["result"].unique_id == SIM_IDENTITY[BOARD_SIMULATED]


async def test_simulated_plain_enviro(hass: HomeAssistant) -> None:
    """The simulated plain Enviro has no gas or particulate sensor."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_SIMULATED_ENVIRO, CONF_UART_PATH: "/dev/ttyAMA0"}
    )
    assert result["description_placeholders"]["model"] == "Enviro (simulated)"
    assert "MICS6814" not in result["description_placeholders"]["sensors"]
    assert "PMS5003" not in result["description_placeholders"]["sensors"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SIM_IDENTITY[BOARD_SIMULATED_ENVIRO]


async def test_hardware_found_goes_to_confirm(hass: HomeAssistant, hardware: EmulatedBoard) -> None:
    """With a board on the Pi, the flow shows what it found and creates the entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {
        "model": "Enviro+",
        "sensors": "BME280 (°C, %, hPa), MICS6814 (Ω), LTR559 (lx), MEMS microphone (dB(A)), PMS5003 (µg/m³)",
        "display": "ST7735 160x80",
        "path": "/dev/ttyAMA0",
        "detail": "",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/ttyAMA0"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Enviro+"
    assert result["data"] == {
        CONF_BOARD: BOARD_HARDWARE,
        CONF_UART_PATH: "/dev/ttyAMA0",
        CONF_LEGACY_NOTIFY_NAME: "qiot_lcd",
    }
    assert result["result"].unique_id == hardware.identity


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("permission_denied", "i2c_permission_denied"),
        ("busy_device", "i2c_busy"),
        ("missing_device", "i2c_not_enabled"),
        ("no_chips", "no_board"),
    ],
)
async def test_hardware_errors_then_recover(
    hass: HomeAssistant, hardware: EmulatedBoard, fault: str, error: str
) -> None:
    """Each reason no board answers is shown; fixing it and retrying works."""
    if fault == "no_chips":
        for address in (ADDR_BME280, ADDR_LTR559, ADDR_ADS1015):
            hardware.faults.missing_chip(address)
    else:
        getattr(hardware.faults, fault)(BusDevice.I2C)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: "/dev/ttyAMA0"}
    )
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    hardware.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: " /dev/ttyAMA0 "}
    )
    assert result["step_id"] == "confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unexpected_error_then_recover(hass: HomeAssistant, hardware: EmulatedBoard) -> None:
    """An unexpected exception while probing shows 'unknown' and the flow goes on."""
    with patch.object(config_flow_module, "detect", side_effect=RuntimeError("boom")):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["errors"] == {"base": "unknown"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: ""}
    )
    assert result["step_id"] == "confirm"


async def test_duplicate_board_aborts(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The same board cannot be added twice."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_SIMULATED, CONF_UART_PATH: "/dev/ttyAMA0"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_uart_path(hass: HomeAssistant, hardware: EmulatedBoard) -> None:
    """A wrong UART path is refused with the reason; a right one reloads the entry."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+",
        data={CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: "/dev/ttyAMA0"},
        unique_id=hardware.identity,
    )
    entry.add_to_hass(hass)
    hardware.faults.missing_device(BusDevice.I2C)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/serial0"}
    )
    assert result["errors"] == {"base": "i2c_not_enabled"}
    hardware.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/serial0"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_UART_PATH] == "/dev/serial0"
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_other_board_aborts(hass: HomeAssistant, hardware: EmulatedBoard) -> None:
    """Reconfiguring must not silently swap in a different board."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+",
        data={CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: "/dev/ttyAMA0"},
        unique_id="another-board",
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/ttyAMA0"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_board"
    assert entry.data[CONF_UART_PATH] == "/dev/ttyAMA0"


async def test_options_flow(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Options are saved and applied by a reload."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    options = {
        CONF_TEMPERATURE_COMPENSATION: False,
        CONF_COMPENSATION_FACTOR: 3.0,
        CONF_CPU_AVERAGE_SAMPLES: 10,
        CONF_GAS_BASELINE_TRACKING: False,
        CONF_GAS_LEARN_SAMPLES: 12,
        CONF_PM25_CORRECTION: True,
        CONF_NOISE_OFFSET: -2.5,
        CONF_PARTICULATE_SAMPLING: "5",
        CONF_IDLE_SCREEN: "clock",
        CONF_STARTUP_MESSAGE: False,
        CONF_TAP_THRESHOLD: 1200,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], options)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == options
    coordinator = init_integration.runtime_data
    assert coordinator.compensation is False
    assert coordinator.noise_offset == -2.5
    assert coordinator.factor == 3.0
    assert coordinator.pm25_correction is True
    # The PMS5003 now sleeps between samples, one every 5 minutes.
    assert coordinator.board.particulate_sampling == 300
    assert coordinator.lcd is not None
    assert coordinator.lcd.idle_mode == "clock"
    # Without compensation the temperature is the raw BME280 value.
    state = hass.states.get("sensor.enviro_simulated_temperature")
    assert state is not None
    assert float(state.state) == pytest.approx(PINNED["temperature"], abs=0.05)


@pytest.mark.parametrize(
    ("fault", "path", "error"),
    [
        (None, "/dev/ttyUSB7", "uart_not_found"),
        ("permission_denied", "/dev/serial0", "uart_permission_denied"),
        ("busy_device", "/dev/serial0", "uart_busy"),
    ],
)
async def test_confirm_lets_the_user_change_the_uart_path(
    hass: HomeAssistant, hardware: EmulatedBoard, fault: str | None, path: str, error: str
) -> None:
    """The first setup shows the serial port; a typed path that cannot be opened is refused."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["step_id"] == "confirm"
    assert CONF_UART_PATH in result["data_schema"].schema
    if fault is not None:
        getattr(hardware.faults, fault)(BusDevice.UART)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: path}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_UART_PATH: error}
    assert result["description_placeholders"]["path"] == path
    hardware.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/serial0"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_UART_PATH] == "/dev/serial0"


async def test_reconfigure_refuses_a_missing_uart_naming_it(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Reconfigure checks the field it edits: a port that does not exist is named."""
    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/ttyNOPE"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_UART_PATH: "uart_not_found"}
    assert result["description_placeholders"]["path"] == "/dev/ttyNOPE"
    assert init_integration.data[CONF_UART_PATH] == "/dev/ttyAMA0"
    assert init_integration.state is ConfigEntryState.LOADED


async def test_reconfigure_of_a_running_board_leaves_its_buses_alone(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """While the entry runs, reconfigure opens no second UART and starts no conversion."""
    simulator = init_integration.runtime_data.simulator
    assert simulator is not None
    assert simulator.adc is not None
    ports, conversions = len(simulator.serial_ports), simulator.adc.conversions
    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_UART_PATH: "/dev/serial0"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    # Measured before the reload the flow schedules: the flow itself touched nothing.
    assert len(simulator.serial_ports) == ports
    assert simulator.adc.conversions == conversions
    await hass.async_block_till_done()
    assert init_integration.data[CONF_UART_PATH] == "/dev/serial0"
    assert init_integration.state is ConfigEntryState.LOADED
