"""Every translated error a user can meet reads as a sentence, with no raw placeholder.

Each exception of en.json is raised here the way a user meets it (a failed setup, a
failing cycle, a refused action), and its message is rendered through Home Assistant's
translation helper, which leaves a template with a missing placeholder unformatted.
"""

import json
import logging
from pathlib import Path
from typing import Any, override
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.translation import async_get_exception_message
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro import coordinator as coordinator_module
from custom_components.qiot_enviro.const import (
    BOARD_HARDWARE,
    CONF_BOARD,
    CONF_LEGACY_NOTIFY_NAME,
    CONF_UART_PATH,
    DOMAIN,
)
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.emulator.i2c import EmulatedI2CHandle
from custom_components.qiot_enviro.enviro.emulator.scenarios import apply_scenario
from custom_components.qiot_enviro.enviro.models import BusDevice
from custom_components.qiot_enviro.notify import async_get_service

from .conftest import PiBuses, async_next_cycle

EXCEPTIONS = json.loads(
    (
        Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text(encoding="utf-8")
)["exceptions"]

type Seen = dict[str, dict[str, str] | None]

# The errors only a board on another Pi can meet (raised in tests/test_remote.py).
REMOTE_EXCEPTIONS = (
    "mqtt_disconnected",
    "mqtt_not_set_up",
    "remote_no_state",
    "remote_not_announced",
    "remote_offline",
)


def record(seen: Seen, err: HomeAssistantError) -> None:
    """Keep the translation key and placeholders of a raised error."""
    assert err.translation_domain == DOMAIN, (err.translation_key, err)
    assert err.translation_key is not None
    seen[err.translation_key] = err.translation_placeholders


async def refused(hass: HomeAssistant, seen: Seen, domain: str, service: str, **data: Any) -> None:
    """Call an action that must be refused; record its error."""
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(domain, service, data, blocking=True)
    record(seen, err.value)


def ours(err: BaseException | None) -> HomeAssistantError | None:
    """Return the integration's translated error in an exception's chain, if any."""
    while err is not None:
        if isinstance(err, HomeAssistantError) and err.translation_domain == DOMAIN:
            return err
        err = err.__cause__ or err.__context__
    return None


async def failed_setup(
    hass: HomeAssistant, seen: Seen, entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Set up an entry that must go into retry; record why.

    Home Assistant 2026.3 keeps only the message in the entry (newer versions also the
    translation key), so the error is taken from the exception it logs at debug level.
    """
    entry.add_to_hass(hass)
    with caplog.at_level(logging.DEBUG, logger="homeassistant.config_entries"):
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    errors = [e for r in caplog.records if r.exc_info and (e := ours(r.exc_info[1]))]
    assert errors, "no translated error logged for the failed setup"
    record(seen, errors[-1])
    assert entry.reason is not None
    assert "{" not in entry.reason


class LateDeniedBuses(PiBuses):
    """The Pi's buses where /dev/i2c-1 turns inaccessible between probe and open."""

    @override
    def open_i2c(self) -> EmulatedI2CHandle:
        """Refuse the open as the kernel would after a permission change."""
        raise PermissionError(13, "Permission denied", "/dev/i2c-1")


async def test_every_exception_renders_without_placeholders(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hardware: EmulatedBoard,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Raise each exception of en.json as a user would, and read its message."""
    seen: Seen = {}

    # Setup: no board on I2C, then an I2C bus that cannot be opened.
    missing = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+",
        data={CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: "/dev/ttyAMA0"},
        unique_id="missing",
    )
    hardware.faults.missing_device(BusDevice.I2C)
    await failed_setup(hass, seen, missing, caplog)
    hardware.faults.clear()
    denied = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+",
        data={CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: "/dev/ttyAMA0"},
        unique_id="denied",
    )
    with patch.object(coordinator_module, "LinuxBusProvider", lambda: LateDeniedBuses(hardware)):
        await failed_setup(hass, seen, denied, caplog)

    # A running simulated board: a dead I2C bus, then a board that cannot be read.
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    assert coordinator.simulator is not None
    apply_scenario(coordinator.simulator.faults, "i2c_bus_error")
    await async_next_cycle(hass, freezer)
    assert isinstance(coordinator.last_exception, HomeAssistantError)
    record(seen, coordinator.last_exception)
    apply_scenario(coordinator.simulator.faults, "clear")
    await hass.async_add_executor_job(coordinator.board.close)
    await async_next_cycle(hass, freezer)
    assert isinstance(coordinator.last_exception, HomeAssistantError)
    record(seen, coordinator.last_exception)
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    # Actions refused, each naming what is wrong.
    entry_id = mock_config_entry.entry_id
    await refused(hass, seen, DOMAIN, "dismiss_message", config_entry_id="nope")
    for fields in (
        {"message": ""},
        {"message": "x" * 1001},
        {"message": "hi", "title": 5},
        {"message": "hi", "duration": -1},
        {"message": "hi", "color": "no such colour"},
        {"message": "hi", "size": 99},
    ):
        await refused(hass, seen, DOMAIN, "show_message", config_entry_id=entry_id, **fields)
    legacy = mock_config_entry.data[CONF_LEGACY_NOTIFY_NAME]
    await refused(hass, seen, "notify", legacy, message="hi", data={"blink": True})
    gone = await async_get_service(hass, {}, {"entry_id": entry_id, "name": "qiot_lcd_gone"})
    assert gone is not None
    gone.hass = hass
    assert await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await gone.async_send_message("hi")
    record(seen, err.value)
    await refused(hass, seen, DOMAIN, "show_message", config_entry_id=entry_id, message="hi")

    # A remote board's errors are raised in tests/test_remote.py.
    local = set(EXCEPTIONS) - set(REMOTE_EXCEPTIONS)
    assert sorted(seen) == sorted(local), "an exception of en.json was not exercised"
    for key, placeholders in seen.items():
        message = async_get_exception_message(DOMAIN, key, placeholders)
        assert message != key, f"{key}: not translated"
        assert "{" not in message, f"{key}: {message}"
