"""Fixtures for the hardware layer: an emulated board and the real board code on it.

These tests need no Home Assistant instance: the autouse fixture that enables custom
integrations (and with it ``hass``) is replaced by one that does nothing.
"""

from collections.abc import Generator

import pytest

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard, create_simulated
from custom_components.qiot_enviro.enviro.models import Variant

from .common import FRAME_INTERVAL, PINNED, POWER_UP_DELAY


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite-wide fixture: hardware tests run without ``hass``."""
    return


@pytest.fixture
def variant() -> Variant:
    """Return the board variant to emulate (parametrize to change)."""
    return Variant.ENVIRO_PLUS


@pytest.fixture
def adc() -> str:
    """Return the Enviro+'s ADC to emulate (parametrize to change)."""
    return "ads1015"


@pytest.fixture
def sim(variant: Variant, adc: str) -> EmulatedBoard:
    """Return an emulated board in a room pinned to known values, with a fast PMS5003."""
    board = create_simulated(
        variant,
        seed=7,
        frame_interval=FRAME_INTERVAL,
        power_up_delay=POWER_UP_DELAY,
        adc="ads1115" if adc == "ads1115" else "ads1015",
    )
    board.env.set(**PINNED)
    return board


@pytest.fixture
def board(sim: EmulatedBoard) -> Generator[Board]:
    """Yield the real board logic on the emulated buses; closed after the test."""
    board = Board(
        sim.provider,
        particulate_warmup=0.0,
        particulate_stale_after=1.0,
        particulate_read_timeout=0.3,
    )
    yield board
    board.close()


@pytest.fixture
def opened(board: Board) -> Board:
    """Return the board, opened."""
    board.open()
    return board
