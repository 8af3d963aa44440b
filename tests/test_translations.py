"""Translations: fr.json matches en.json, and every key the code uses is translated."""

import ast
import importlib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from custom_components.qiot_enviro import PLATFORMS, const
from custom_components.qiot_enviro.enviro.models import BusDevice

INTEGRATION = Path(__file__).parents[1] / "custom_components" / "qiot_enviro"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
CODE_SPAN = re.compile(r"`[^`]+`")

# Where a translation_key passed to each callable is looked up in en.json.
SECTIONS = {
    "ServiceValidationError": "exceptions",
    "HomeAssistantError": "exceptions",
    "UpdateFailed": "exceptions",
    "ConfigEntryNotReady": "exceptions",
    "ConfigEntryError": "exceptions",
    "async_create_issue": "issues",
    "SelectSelectorConfig": "selector",
}
# Helpers that raise a translated exception, and the position of their key argument.
EXCEPTION_HELPERS = {"_invalid": 1}  # lcd._invalid(field, key)
# What each kind of key must have in en.json.
REQUIRED = {"exceptions": {"message"}, "issues": {"title", "description"}, "selector": {"options"}}


def load(language: str) -> dict[str, Any]:
    """Return the parsed translations file of a language."""
    path = INTEGRATION / "translations" / f"{language}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return every leaf of a translations tree, keyed by its dotted path."""
    leaves: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            leaves |= flatten(value, f"{path}.")
        else:
            leaves[path] = value
    return leaves


EN = load("en")
EN_STRINGS = flatten(EN)
FR_STRINGS = flatten(load("fr"))
SERVICES: dict[str, Any] = yaml.safe_load((INTEGRATION / "services.yaml").read_text("utf-8"))


def called_name(call: ast.Call) -> str:
    """Return the last part of the name of what a call calls (`ir.async_create_issue` -> its tail)."""
    match call.func:
        case ast.Name(id=name) | ast.Attribute(attr=name):
            return name
    return ""


def key_values(node: ast.expr) -> set[str]:
    """Return the translation keys an argument can take; fail on a form this test cannot read."""
    match node:
        case ast.Constant(value=str(value)):
            return {value}
        case ast.Name(id=name) if isinstance(getattr(const, name, None), str):
            return {getattr(const, name)}
        case ast.IfExp(body=body, orelse=orelse):
            return key_values(body) | key_values(orelse)
        case ast.Name(id="key"):
            return set()  # lcd._invalid passes its `key` argument on: its callers are checked
        case ast.Name(id="translation_key"):
            return set()  # coordinator._set_issue passes its argument on: callers are checked
        case ast.JoinedStr() if ast.unparse(node) == "f'{device.value}_{kind}'":
            return {
                f"{device.value}_{kind}"
                for device in BusDevice
                for kind in ("missing", "inaccessible")
            }
    pytest.fail(f"Cannot tell the translation key {ast.unparse(node)}: teach key_values()")


@cache
def used_keys() -> set[tuple[str, str]]:
    """Return (section, key) for every translation key the code passes outside entities."""
    used: set[tuple[str, str]] = set()
    for path in sorted(INTEGRATION.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = called_name(node)
            if name == "_set_issue":
                used |= {("issues", key) for key in key_values(node.args[1])}
            if name in EXCEPTION_HELPERS:
                keys = key_values(node.args[EXCEPTION_HELPERS[name]])
                used |= {("exceptions", key) for key in keys}
            for keyword in node.keywords:
                if keyword.arg != "translation_key" or name.endswith("EntityDescription"):
                    continue  # entity descriptions are checked on the real objects below
                assert name in SECTIONS, f"{path.name}: translation_key passed to {name}"
                used |= {(SECTIONS[name], key) for key in key_values(keyword.value)}
    return used


def entity_descriptions(platform: str) -> Iterator[Any]:
    """Yield the entity descriptions a platform module defines at module level."""
    module = importlib.import_module(f"custom_components.qiot_enviro.{platform}")
    for value in vars(module).values():
        for item in value if isinstance(value, tuple | list) else (value,):
            # By class name: Home Assistant's frozen dataclasses defeat isinstance() here.
            if type(item).__name__.endswith("EntityDescription"):
                yield item


def test_languages_have_the_same_keys() -> None:
    """Fr.json translates exactly the strings of en.json, no more, no fewer."""
    assert sorted(EN_STRINGS.keys() - FR_STRINGS.keys()) == [], "missing in fr.json"
    assert sorted(FR_STRINGS.keys() - EN_STRINGS.keys()) == [], "not in en.json"


@pytest.mark.parametrize("strings", [EN_STRINGS, FR_STRINGS], ids=["en", "fr"])
def test_every_translation_is_a_non_empty_string(strings: dict[str, Any]) -> None:
    """No translation is empty, null, a number or a list."""
    assert [path for path, text in strings.items() if not isinstance(text, str) or not text] == []


@pytest.mark.parametrize("path", sorted(EN_STRINGS))
def test_french_keeps_placeholders_and_code(path: str) -> None:
    """A French string has the English one's placeholders and `code` spans, unchanged."""
    english, french = EN_STRINGS[path], FR_STRINGS.get(path, "")
    assert set(PLACEHOLDER.findall(french)) == set(PLACEHOLDER.findall(english))
    assert sorted(CODE_SPAN.findall(french)) == sorted(CODE_SPAN.findall(english))


@pytest.mark.parametrize(("section", "key"), sorted(used_keys()))
def test_key_used_in_code_is_translated(section: str, key: str) -> None:
    """Every exception, issue and selector key the code passes exists in en.json."""
    assert key in EN[section], f"{section}.{key} missing in en.json"
    assert REQUIRED[section] <= EN[section][key].keys()


def test_code_uses_the_issue_keys_of_every_bus_device() -> None:
    """The f-string issue keys expand to a missing and an inaccessible issue per bus device."""
    issues = {key for section, key in used_keys() if section == "issues"}
    assert {"i2c_missing", "spi_inaccessible", "uart_missing", "gpio_inaccessible"} <= issues


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_entity_translation_keys_exist(platform: str) -> None:
    """Every entity description's translation_key, states and event types are in en.json."""
    translated = EN["entity"].get(platform, {})
    descriptions = list(entity_descriptions(platform))
    assert descriptions, f"no entity descriptions found in {platform}.py"
    for description in descriptions:
        key = description.translation_key
        if key is None:
            continue  # named by its device class
        assert key in translated, f"entity.{platform}.{key} missing in en.json"
        for state in getattr(description, "options", None) or []:
            assert state in translated[key]["state"], f"{key}: state {state}"
        for event_type in getattr(description, "event_types", None) or []:
            states = translated[key]["state_attributes"]["event_type"]["state"]
            assert event_type in states, f"{key}: event type {event_type}"


def test_translated_services_exist() -> None:
    """En.json translates the services of services.yaml and no others."""
    assert EN["services"].keys() == SERVICES.keys()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_and_fields_are_translated(service: str) -> None:
    """A service and each of its fields have a name and a description; select options a label."""
    translated = EN["services"].get(service, {})
    assert translated.get("name")
    assert translated.get("description")
    fields = SERVICES[service].get("fields", {})
    assert translated.get("fields", {}).keys() == fields.keys()
    for field, spec in fields.items():
        assert translated["fields"][field].get("name"), f"{field}: no name"
        assert translated["fields"][field].get("description"), f"{field}: no description"
        select = spec.get("selector", {}).get("select") or {}
        if "translation_key" in select:
            labels = EN["selector"][select["translation_key"]]["options"]
            assert set(select["options"]) <= labels.keys(), f"{field}: untranslated options"
