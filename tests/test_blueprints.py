"""The automation blueprints shipped in blueprints/ are valid for Home Assistant."""

from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    async_validate_config_item,
)
from homeassistant.components.blueprint import Blueprint, BlueprintInputs
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml
from pytest_homeassistant_custom_component.common import MockConfigEntry

BLUEPRINTS = Path(__file__).resolve().parents[1] / "blueprints" / "automation" / "qiot_enviro"

INPUTS: dict[str, dict[str, Any]] = {
    "pm25_lcd_warning.yaml": {
        "pm25_sensor": "sensor.enviro_pm2_5",
        "lcd": "notify.enviro_lcd",
        "threshold": 35.5,
        "message": "PM2.5 is high",
        "repeat_minutes": 15,
    },
    "air_quality_phone_alert.yaml": {
        "category_sensor": "sensor.enviro_air_quality",
        "phone": "PHONE_DEVICE_ID",
    },
}


def test_every_blueprint_has_inputs_for_the_test() -> None:
    """Each shipped blueprint is exercised below (a new one needs test inputs)."""
    assert sorted(path.name for path in BLUEPRINTS.glob("*.yaml")) == sorted(INPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
async def test_blueprint_is_valid_automation(hass: HomeAssistant, name: str) -> None:
    """The blueprint passes the blueprint schema and yields a valid automation."""
    assert await async_setup_component(hass, "homeassistant", {})
    phone_entry = MockConfigEntry(domain="mobile_app", data={})
    phone_entry.add_to_hass(hass)
    phone = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "phone")}
    )
    given = {k: phone.id if v == "PHONE_DEVICE_ID" else v for k, v in INPUTS[name].items()}
    path = BLUEPRINTS / name
    blueprint = Blueprint(
        load_yaml(path),
        path=str(path),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.metadata["name"].startswith("Enviro+")
    inputs = BlueprintInputs(
        blueprint,
        {"use_blueprint": {"path": f"qiot_enviro/{name}", "input": given}},
    )
    inputs.validate()
    config = inputs.async_substitute()
    validated = await async_validate_config_item(hass, "test", config)
    assert validated is not None
    assert validated.validation_error is None, validated.validation_error
