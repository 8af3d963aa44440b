"""Fixtures for the display tests: pure Pillow and threads, no Home Assistant instance."""

from collections.abc import Generator

import pytest

from custom_components.qiot_enviro.display import DisplayWorker


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replace the suite-wide fixture: these tests need no Home Assistant instance."""
    return


@pytest.fixture
def workers() -> Generator[list[DisplayWorker]]:
    """Collect the workers a test starts and stop them all, so no thread outlives it."""
    started: list[DisplayWorker] = []
    yield started
    for worker in started:
        worker.stop()
