"""Agent tests run without ``hass``."""

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite-wide fixture: agent tests need no Home Assistant."""
    return
