"""Fixtures shared by the whole test suite.

The integration runs on the simulated board: the real board code and the real vendor
drivers against the bus-level emulator. Time frozen by the ``freezer`` fixture applies
to Home Assistant; the emulator and the drivers keep real time, as hardware does.
"""

from collections.abc import Callable, Generator
from typing import Any, override
from unittest.mock import PropertyMock, patch

import freezegun
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

import custom_components.qiot_enviro as integration_module
from custom_components.qiot_enviro import coordinator as coordinator_module
from custom_components.qiot_enviro.const import (
    BOARD_SIMULATED,
    BOARD_SIMULATED_ENVIRO,
    CONF_BOARD,
    CONF_UART_PATH,
    DOMAIN,
    UPDATE_INTERVAL,
)
from custom_components.qiot_enviro.enviro.bus import DEFAULT_UART
from custom_components.qiot_enviro.enviro.emulator.board import (
    EmulatedBoard,
    EmulatedBusProvider,
    create_simulated,
)
from custom_components.qiot_enviro.enviro.models import Variant

freezegun.configure(
    extend_ignore_list=[
        "custom_components.qiot_enviro.enviro",
        # The display thread runs in real time; the display controller runs on Home
        # Assistant's clock (its timers and minute ticks follow the freezer).
        "custom_components.qiot_enviro.display.worker",
        "ads1015",
        "bme280",
        "i2cdevice",
        "ltr559",
        "pms5003",
    ]
)

# Values the emulated room is pinned to, so that entity states are reproducible.
PINNED: dict[str, float] = {
    "temperature": 24.0,
    "pressure": 1013.2,
    "humidity": 45.0,
    "lux": 250.0,
    "proximity": 10,
    "oxidising": 20_000.0,
    "reducing": 300_000.0,
    "nh3": 150_000.0,
    "pm1": 4,
    "pm2_5": 12,
    "pm10": 20,
    "cpu_temperature": 45.0,
    "noise": 42.0,
}
SIM_IDENTITY = {
    BOARD_SIMULATED: "sim-0000000000000001",
    BOARD_SIMULATED_ENVIRO: "sim-0000000000000002",
}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""
    return


@pytest.fixture
def simulators() -> list[EmulatedBoard]:
    """Every emulated board the integration created during the test, newest last."""
    return []


@pytest.fixture
def on_new_board() -> list[Callable[[EmulatedBoard], None]]:
    """Callbacks applied to each emulated board when the integration builds it."""
    return []


@pytest.fixture(autouse=True)
def fast_simulated_board(
    simulators: list[EmulatedBoard], on_new_board: list[Callable[[EmulatedBoard], None]]
) -> Generator[None]:
    """Build simulated boards with a fast PMS5003 and a pinned room."""

    def build(variant: Variant = Variant.ENVIRO_PLUS, **kwargs: Any) -> EmulatedBoard:
        kwargs.setdefault("frame_interval", 0.02)
        board = create_simulated(variant, **kwargs)
        board.env.set(**PINNED)
        for callback in on_new_board:
            callback(board)
        simulators.append(board)
        return board

    with (
        patch.object(coordinator_module, "create_simulated", build),
        patch.dict(
            coordinator_module.SIMULATED_BOARD_OPTIONS,
            {"particulate_warmup": 0.0, "particulate_stale_after": 0.3, "noise_settle": 0.1},
        ),
    ):
        yield


@pytest.fixture
def board_kind() -> str:
    """Which simulated board the entry uses (parametrize to change)."""
    return BOARD_SIMULATED


@pytest.fixture
def mock_config_entry(board_kind: str) -> MockConfigEntry:
    """Return a config entry for a simulated board."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+ (simulated)" if board_kind == BOARD_SIMULATED else "Enviro (simulated)",
        data={CONF_BOARD: board_kind, CONF_UART_PATH: DEFAULT_UART},
        unique_id=SIM_IDENTITY[board_kind],
    )


async def async_next_cycle(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let one polling interval pass and the coordinator read the board again."""
    freezer.tick(UPDATE_INTERVAL)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def platforms() -> list[Platform] | None:
    """Return the platforms to set up (None: all of them); snapshot tests pick one."""
    return None


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, platforms: list[Platform] | None
) -> MockConfigEntry:
    """Set up the integration with a simulated board."""
    mock_config_entry.add_to_hass(hass)
    with patch.object(integration_module, "PLATFORMS", platforms or integration_module.PLATFORMS):
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Enable the entities that are disabled by default (as Home Assistant core's fixture)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialize Home Assistant objects (states, registry entries) stably."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


class PiBuses(EmulatedBusProvider):
    """The emulated buses standing in for a Raspberry Pi's device nodes."""

    @property
    @override
    def simulated(self) -> bool:
        """Present the emulator as real hardware, as a Pi with an Enviro+ would be."""
        return False


@pytest.fixture
def hardware() -> Generator[EmulatedBoard]:
    """Make the Pi's buses answer like an Enviro+ (the emulator behind the provider)."""
    board = create_simulated(seed=41, frame_interval=0.02)
    board.env.set(**PINNED)
    with patch.object(coordinator_module, "LinuxBusProvider", lambda: PiBuses(board)):
        yield board
