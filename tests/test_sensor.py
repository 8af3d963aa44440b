"""Tests for the sensor entities: what exists, what it shows, and availability."""

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.qiot_enviro.const import (
    BOARD_SIMULATED,
    BOARD_SIMULATED_ENVIRO,
    CONF_NOISE_OFFSET,
    CONF_PM25_CORRECTION,
)
from custom_components.qiot_enviro.sensor import MICROGRAMS_PER_CUBIC_METER

from .conftest import PINNED, async_next_cycle

PM_ENTITIES = (
    "sensor.enviro_simulated_pm1",
    "sensor.enviro_simulated_pm2_5",
    "sensor.enviro_simulated_pm10",
    "sensor.enviro_simulated_air_quality_index",
    "sensor.enviro_simulated_air_quality",
)
I2C_ENTITIES = (
    "sensor.enviro_simulated_temperature",
    "sensor.enviro_simulated_humidity",
    "sensor.enviro_simulated_atmospheric_pressure",
    "sensor.enviro_simulated_illuminance",
    "sensor.enviro_simulated_reducing_gas_resistance",
)


def plain(mapping: Mapping[str, Any]) -> Any:
    """Return a mapping as plain JSON values (enum keys become their strings)."""
    return json.loads(json.dumps(dict(mapping), default=str))


@pytest.mark.parametrize("board_kind", [BOARD_SIMULATED, BOARD_SIMULATED_ENVIRO])
@pytest.mark.parametrize("platforms", [[Platform.SENSOR]])
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    """Every entity of each board variant, with its state, registry entry and device.

    Built from the fields a user sees, so that the snapshot holds for every supported
    Home Assistant release (their registry objects differ in private details).
    """
    entities = {}
    for entry in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id):
        state = hass.states.get(entry.entity_id)
        assert state is not None
        entities[entry.entity_id] = {
            "unique_id": entry.unique_id,
            "original_name": entry.original_name,
            "translation_key": entry.translation_key,
            "device_class": str(entry.original_device_class),
            "unit": str(entry.unit_of_measurement),
            "entity_category": str(entry.entity_category),
            "disabled_by": str(entry.disabled_by),
            "capabilities": plain(entry.capabilities or {}),
            "options": plain(entry.options),
            "state": state.state,
            "attributes": plain(state.attributes),
        }
    assert entities == snapshot(name="entities")
    devices = [
        {
            "identifiers": sorted(device.identifiers),
            "manufacturer": device.manufacturer,
            "model": device.model,
            "name": device.name,
            "serial_number": device.serial_number,
            "sw_version": device.sw_version,
        }
        for device in dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)
    ]
    assert devices == snapshot(name="device")


async def test_values_follow_the_room(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Readings equal the emulated room within the chips' resolution; derived ones agree."""
    raw = hass.states.get("sensor.enviro_simulated_raw_temperature")
    assert raw is not None
    assert float(raw.state) == pytest.approx(PINNED["temperature"], abs=0.01)
    compensated = hass.states.get("sensor.enviro_simulated_temperature")
    assert compensated is not None
    expected = PINNED["temperature"] - (PINNED["cpu_temperature"] - PINNED["temperature"]) / 2.25
    assert float(compensated.state) == pytest.approx(expected, abs=0.01)
    pm25 = hass.states.get("sensor.enviro_simulated_pm2_5")
    assert pm25 is not None
    assert pm25.state == "12"
    # The AQI follows the NowCast of hourly averages: unknown until two hours are in.
    category = hass.states.get("sensor.enviro_simulated_air_quality")
    assert category is not None
    assert category.state == "unknown"
    aqi = hass.states.get("sensor.enviro_simulated_air_quality_index")
    assert aqi is not None
    assert aqi.attributes["pm2_5_input"] == "raw"
    assert hass.states.get("sensor.enviro_simulated_corrected_pm2_5") is None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_instantaneous_aqi_follows_the_latest_reading(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """PM2.5 12 reads 49 / 26.3 * 2.9 + 51 = 56 at once on the instantaneous sensor."""
    state = hass.states.get("sensor.enviro_simulated_instantaneous_pm2_5_aqi")
    assert state is not None
    assert state.state == "56"


async def test_corrected_pm25_option(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """With the option on, the corrected PM2.5 uses the compensated humidity; the AQI says so."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_PM25_CORRECTION: True})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    humidity = hass.states.get("sensor.enviro_simulated_humidity")
    corrected = hass.states.get("sensor.enviro_simulated_corrected_pm2_5")
    assert humidity is not None
    assert corrected is not None
    expected = 0.524 * PINNED["pm2_5"] - 0.0862 * float(humidity.state) + 5.75
    assert float(corrected.state) == pytest.approx(expected, abs=0.05)
    assert corrected.attributes["unit_of_measurement"] == MICROGRAMS_PER_CUBIC_METER
    assert corrected.attributes["device_class"] == "pm25"
    aqi = hass.states.get("sensor.enviro_simulated_air_quality_index")
    assert aqi is not None
    assert aqi.attributes["pm2_5_input"] == "corrected"


async def test_noise_levels_follow_the_room_and_the_calibration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The room's 42 dB(A) reads as LAeq, LAFmax at or above it; the offset adds to both."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_NOISE_OFFSET: 3.5})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    level = hass.states.get("sensor.enviro_simulated_noise_level")
    assert level is not None
    # The microphone settles first (its start-up thump): unknown, not unavailable.
    assert level.state == "unknown"
    # The emulated microphone delivers audio in real time: let some accumulate.
    await asyncio.sleep(0.5)
    await mock_config_entry.runtime_data.async_refresh()
    level = hass.states.get("sensor.enviro_simulated_noise_level")
    peak = hass.states.get("sensor.enviro_simulated_maximum_noise_level")
    assert level is not None
    assert peak is not None
    assert float(level.state) == pytest.approx(PINNED["noise"] + 3.5, abs=0.5)
    assert float(level.state) <= float(peak.state) <= float(level.state) + 6.0
    assert level.attributes["unit_of_measurement"] == "dBA"
    assert level.attributes["device_class"] == "sound_pressure"


FAULT_SELECT = "select.enviro_simulated_simulated_fault"
LCD_ENTITIES = (
    "notify.enviro_simulated_lcd",
    "switch.enviro_simulated_lcd_backlight",
    "image.enviro_simulated_lcd_preview",
)


async def simulate(hass: HomeAssistant, entry: MockConfigEntry, fault: str) -> None:
    """Inject a fault through the simulated board's fault selector ("clear" = none)."""
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": FAULT_SELECT, "option": "none" if fault == "clear" else fault},
        blocking=True,
    )
    state = hass.states.get(FAULT_SELECT)
    assert state is not None
    assert state.state == ("none" if fault == "clear" else fault)


async def test_dead_particulate_sensor_only_affects_particulates(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A silent PMS5003 makes only the PM entities unavailable, logged once; then recovery."""
    await simulate(hass, init_integration, "particulates_silent")
    for _ in range(3):
        await hass.async_add_executor_job(time.sleep, 0.4)
        await async_next_cycle(hass, freezer)
        for entity_id in PM_ENTITIES:
            state = hass.states.get(entity_id)
            assert state is not None
            assert state.state == STATE_UNAVAILABLE, entity_id
        for entity_id in I2C_ENTITIES:
            state = hass.states.get(entity_id)
            assert state is not None
            assert state.state != STATE_UNAVAILABLE, entity_id
    assert caplog.text.count("The particulates sensors are unavailable") == 1

    await simulate(hass, init_integration, "clear")

    def all_back() -> bool:
        states = [hass.states.get(entity_id) for entity_id in PM_ENTITIES]
        return all(s is not None and s.state != STATE_UNAVAILABLE for s in states)

    # The sensor streams in real time: give a loaded machine a few seconds for a frame.
    for _ in range(30):
        await hass.async_add_executor_job(time.sleep, 0.1)
        await async_next_cycle(hass, freezer)
        if all_back():
            break
    assert all_back()
    assert caplog.text.count("The particulates sensors are back") == 1


async def test_dead_i2c_bus_makes_everything_unavailable(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """When no I2C chip answers, every sensor is unavailable; it all comes back.

    The LCD is on SPI: its entities stay available, and a message still shows.
    """
    await simulate(hass, init_integration, "i2c_bus_error")
    await async_next_cycle(hass, freezer)
    for entity_id in (*I2C_ENTITIES, *PM_ENTITIES, "event.enviro_simulated_proximity_tap"):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == STATE_UNAVAILABLE, entity_id
    for entity_id in LCD_ENTITIES:
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state != STATE_UNAVAILABLE, entity_id
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": LCD_ENTITIES[0], "message": "Still here"},
        blocking=True,
    )
    await simulate(hass, init_integration, "clear")
    await async_next_cycle(hass, freezer)
    await async_next_cycle(hass, freezer)
    for entity_id in (*I2C_ENTITIES, *PM_ENTITIES):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state != STATE_UNAVAILABLE, entity_id


async def test_missing_gas_sensor_only_affects_gas(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A gas ADC that stops answering makes only the gas entities unavailable."""
    await simulate(hass, init_integration, "gas_sensor_missing")
    await async_next_cycle(hass, freezer)
    gas = hass.states.get("sensor.enviro_simulated_reducing_gas_resistance")
    assert gas is not None
    assert gas.state == STATE_UNAVAILABLE
    temperature = hass.states.get("sensor.enviro_simulated_temperature")
    assert temperature is not None
    assert temperature.state != STATE_UNAVAILABLE
    await simulate(hass, init_integration, "clear")
    await async_next_cycle(hass, freezer)
    await async_next_cycle(hass, freezer)
    gas = hass.states.get("sensor.enviro_simulated_reducing_gas_resistance")
    assert gas is not None
    assert gas.state != STATE_UNAVAILABLE


async def test_board_gone_makes_entities_unavailable(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A board that can no longer be read: every entity unavailable, logged once."""
    await hass.async_add_executor_job(init_integration.runtime_data.board.close)
    for _ in range(2):
        await async_next_cycle(hass, freezer)
    for entity_id in (*I2C_ENTITIES, *PM_ENTITIES):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == STATE_UNAVAILABLE, entity_id
    assert caplog.text.count("Error fetching qiot_enviro data") == 1
