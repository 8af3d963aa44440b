"""What a user taught the integration survives: failed starts, power cuts, deletion."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.qiot_enviro.const import (
    CONF_GAS_LEARN_SAMPLES,
    DOMAIN,
    HISTORY_STORAGE_VERSION,
    STORAGE_SAVE_INTERVAL,
    STORAGE_VERSION,
)
from custom_components.qiot_enviro.derived import hour_start
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.models import BusDevice

from .conftest import PINNED, async_next_cycle

LEARNED = {"oxidising": 21_000.0, "reducing": 310_000.0, "nh3": 140_000.0}


def store_key(entry: MockConfigEntry) -> str:
    """Return the storage key of an entry's gas baseline."""
    return f"{DOMAIN}.{entry.unique_id}.gas_baseline"


def stored_r0(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, float] | None:
    """Return the R0 written to disk, None if nothing learned was written."""
    stored = hass_storage.get(store_key(entry))
    return None if stored is None else stored["data"]["r0"]


async def test_failed_start_keeps_the_stored_baseline(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
) -> None:
    """A setup retry (I2C not up yet at boot) does not erase the calibration."""
    hass_storage[store_key(mock_config_entry)] = {
        "version": STORAGE_VERSION,
        "key": store_key(mock_config_entry),
        "data": {"r0": dict(LEARNED), "samples": []},
    }
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.I2C))
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert stored_r0(hass_storage, mock_config_entry) == LEARNED

    on_new_board.clear()
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    # Restored, not learned again (the first cycle may already track it a little).
    assert mock_config_entry.runtime_data.baseline.r0 == pytest.approx(LEARNED, rel=0.01)


async def test_baseline_is_written_while_running(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Learning is on disk at once; tracking within STORAGE_SAVE_INTERVAL, never later.

    Nothing here stops the entry: what is on disk is what a power cut would leave.
    """
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_GAS_LEARN_SAMPLES: 3})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(3):
        await async_next_cycle(hass, freezer)
    coordinator = mock_config_entry.runtime_data
    assert coordinator.baseline.r0 is not None
    learned = dict(coordinator.baseline.r0)
    assert stored_r0(hass_storage, mock_config_entry) == learned

    # Cleaner air (higher reducing resistance) moves the baseline a little each cycle.
    simulator = coordinator.simulator
    assert simulator is not None
    simulator.env.set(reducing=PINNED["reducing"] * 1.5)
    cycles_per_interval = int(STORAGE_SAVE_INTERVAL / coordinator.update_interval)
    written_at: list[int] = []
    last = dict(learned)
    for cycle in range(1, 3 * cycles_per_interval + 1):
        await async_next_cycle(hass, freezer)
        on_disk = stored_r0(hass_storage, mock_config_entry)
        assert on_disk is not None
        if on_disk != last:
            written_at.append(cycle)
            last = dict(on_disk)
    # A write per interval while the baseline keeps changing, each within the interval
    # (one cycle of slack: the write and the cycle are due at the same instant).
    assert len(written_at) >= 2
    gaps = [b - a for a, b in zip([0, *written_at], written_at, strict=False)]
    assert max(gaps) <= cycles_per_interval + 1
    assert last["reducing"] > learned["reducing"]


async def test_an_unchanged_baseline_is_not_rewritten(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Steady air leaves the file alone (no SD card writes for nothing)."""
    hass_storage[store_key(mock_config_entry)] = {
        "version": STORAGE_VERSION,
        "key": store_key(mock_config_entry),
        "data": {"r0": {"oxidising": 1.0, "reducing": 1e9, "nh3": 1e9}, "samples": []},
    }
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    marker = hass_storage[store_key(mock_config_entry)]
    freezer.tick(STORAGE_SAVE_INTERVAL + timedelta(seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass_storage[store_key(mock_config_entry)] is marker
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass_storage[store_key(mock_config_entry)] is marker


async def test_deleting_the_entry_removes_its_repairs_and_baseline(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Nothing of a deleted board stays behind: no repair, no stored baseline or history."""
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.SPI))
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_GAS_LEARN_SAMPLES: 1})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await async_next_cycle(hass, freezer)
    issues = ir.async_get(hass)
    issue_id = f"{mock_config_entry.entry_id}_spi_missing"
    assert issues.async_get_issue(DOMAIN, issue_id) is not None
    assert stored_r0(hass_storage, mock_config_entry) is not None

    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    assert not [i for (d, i) in issues.issues if d == DOMAIN]
    assert store_key(mock_config_entry) not in hass_storage
    assert history_key(mock_config_entry) not in hass_storage


@pytest.mark.parametrize("reloads", [50])
async def test_warm_up_is_not_a_fault(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    reloads: int,
) -> None:
    """Starts and reloads log no warning; during warm-up the PM entities read unknown."""
    mock_config_entry.add_to_hass(hass)
    # A warm-up longer than the whole test: every cycle here falls inside it.
    with pytest.MonkeyPatch.context() as patch:
        from custom_components.qiot_enviro import coordinator as coordinator_module

        patch.setitem(coordinator_module.SIMULATED_BOARD_OPTIONS, "particulate_warmup", 600.0)
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        for _ in range(reloads):
            assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
            await hass.async_block_till_done()
            state = hass.states.get("sensor.enviro_simulated_pm2_5")
            assert state is not None
            assert state.state == "unknown"
            temperature = hass.states.get("sensor.enviro_simulated_temperature")
            assert temperature is not None
            assert temperature.state not in ("unknown", "unavailable")
    warnings = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert [r.getMessage() for r in warnings if r.name.startswith("custom_components")] == []
    assert not ir.async_get(hass).async_get_issue(
        DOMAIN, f"{mock_config_entry.entry_id}_particulates_stale"
    )


def history_key(entry: MockConfigEntry) -> str:
    """Return the storage key of an entry's hourly particulate history."""
    return f"{DOMAIN}.{entry.unique_id}.particulate_history"


AQI_ENTITY = "sensor.enviro_simulated_air_quality_index"
CATEGORY_ENTITY = "sensor.enviro_simulated_air_quality"


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state string."""
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_nowcast_history_is_written_and_survives_a_reload(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two clock hours of readings make the NowCast AQI; it is on disk and back at once.

    PM2.5 12 and PM10 20 all along: the NowCast is 12.0, AQI 49 / 26.3 * 2.9 + 51 = 56.
    """
    start = dt_util.now().replace(minute=0, second=5, microsecond=0) + timedelta(hours=1)
    freezer.move_to(start)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, AQI_ENTITY) == "unknown"
    for _ in range(2 * 60):
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, AQI_ENTITY) == "56"
    assert state_of(hass, CATEGORY_ENTITY) == "moderate"
    # Written within STORAGE_SAVE_INTERVAL of the hour closing, without an unload.
    for _ in range(int(STORAGE_SAVE_INTERVAL / timedelta(minutes=1)) + 1):
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    stored = hass_storage[history_key(mock_config_entry)]["data"]
    assert len(stored["hours"]) == 2

    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, AQI_ENTITY) == "56"
    aqi = hass.states.get(AQI_ENTITY)
    assert aqi is not None
    assert aqi.attributes["pm2_5_input"] == "raw"


async def test_failed_start_keeps_the_stored_history(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    on_new_board: list[Callable[[EmulatedBoard], None]],
) -> None:
    """A setup retry leaves the history alone; the next start knows the AQI at once.

    Three stored hours at PM2.5 40: AQI 49 / 19.9 * (40 - 35.5) + 101 = 112.
    """
    latest = hour_start(dt_util.now())
    stored = {
        "version": HISTORY_STORAGE_VERSION,
        "key": history_key(mock_config_entry),
        "data": {
            "hours": [[latest - age * 3600, 40.0, 20.0, 50.0] for age in (3, 2, 1)],
            "open": None,
        },
    }
    hass_storage[history_key(mock_config_entry)] = stored
    on_new_board.append(lambda board: board.faults.missing_device(BusDevice.I2C))
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert hass_storage[history_key(mock_config_entry)] is stored

    on_new_board.clear()
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert state_of(hass, AQI_ENTITY) == "112"
    assert state_of(hass, CATEGORY_ENTITY) == "unhealthy_for_sensitive_groups"


async def test_history_with_a_gap_leaves_the_aqi_unknown(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
) -> None:
    """Stored hours that miss two of the last three give no NowCast (not a zero)."""
    latest = hour_start(dt_util.now())
    hass_storage[history_key(mock_config_entry)] = {
        "version": HISTORY_STORAGE_VERSION,
        "key": history_key(mock_config_entry),
        "data": {"hours": [[latest - 3 * 3600, 40.0, 20.0, 50.0]], "open": None},
    }
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, AQI_ENTITY) == "unknown"
    assert state_of(hass, CATEGORY_ENTITY) == "unknown"


def fan_key(entry: MockConfigEntry) -> str:
    """Return the storage key of an entry's PMS5003 fan running time."""
    return f"{DOMAIN}.{entry.unique_id}.particulate_fan"


async def test_fan_running_time_survives_a_reload_and_goes_with_the_entry(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
) -> None:
    """The fan's hours carry on from the stored total, are written at unload, and are deleted."""
    hass_storage[fan_key(mock_config_entry)] = {
        "version": STORAGE_VERSION,
        "key": fan_key(mock_config_entry),
        "data": {"seconds": 7200.0},
    }
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.enviro_simulated_particulate_sensor_fan_running_time")
    assert state is not None
    assert float(state.state) >= 2.0
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    # Written at unload: the stored total only grows (the fan ran meanwhile).
    assert hass_storage[fan_key(mock_config_entry)]["data"]["seconds"] > 7200.0
    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert fan_key(mock_config_entry) not in hass_storage


async def test_sleeping_particulate_sensor_keeps_its_last_sample(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """With sampling, PM entities hold the last sample with its time; no stale repair."""
    import asyncio

    from custom_components.qiot_enviro.const import CONF_PARTICULATE_SAMPLING

    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={CONF_PARTICULATE_SAMPLING: "5"}
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    for _ in range(200):  # the emulated sensor takes its sample in real time
        await coordinator.async_refresh()
        result = coordinator.data.snapshot.particulates
        if result is not None and result.sleeping:
            break
        await asyncio.sleep(0.1)
    assert result is not None
    assert result.sleeping
    state = hass.states.get("sensor.enviro_simulated_pm2_5")
    assert state is not None
    assert float(state.state) == result.value.pm2_5
    assert state.attributes["sampled_at"] == result.read_at.isoformat()
    await asyncio.sleep(0.3)  # the SET line drops just after the sample is kept
    fan = coordinator.board.particulate_fan_seconds()
    await asyncio.sleep(0.5)
    await coordinator.async_refresh()
    # Asleep: the fan is off, and a sleeping sensor is not a stale one.
    assert coordinator.board.particulate_fan_seconds() == fan
    assert (
        ir.async_get(hass).async_get_issue(
            DOMAIN, f"{mock_config_entry.entry_id}_particulates_stale"
        )
        is None
    )
