"""HACS packaging: what HACS and Home Assistant read from the repository."""

import json
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "qiot_enviro"


def test_manifest_order_and_fields() -> None:
    """Domain and name first, then the rest alphabetically; requirements pinned."""
    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["config_flow"] is True
    assert manifest["integration_type"] == "device"
    assert manifest["iot_class"] == "local_polling"
    assert all("==" in requirement for requirement in manifest["requirements"])
    assert not {"spidev", "st7735", "enviroplus"} & {
        requirement.split("==")[0] for requirement in manifest["requirements"]
    }


def test_hacs_metadata() -> None:
    """hacs.json names the integration and the oldest supported Home Assistant."""
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["name"] == "QIoT Enviro"
    assert hacs["homeassistant"] == "2026.3.0"
    assert (ROOT / "info.md").read_text(encoding="utf-8").strip()


@pytest.mark.parametrize(
    ("name", "size"),
    [("icon.png", (256, 256)), ("icon@2x.png", (512, 512))],
)
def test_brand_icons(name: str, size: tuple[int, int]) -> None:
    """The brand icons have the sizes Home Assistant and HACS expect."""
    with Image.open(INTEGRATION / "brand" / name) as image:
        assert image.size == size
        assert image.mode == "RGBA"


@pytest.mark.parametrize("name", ["logo.png", "logo@2x.png"])
def test_brand_logos(name: str) -> None:
    """The logos are wider than tall, the @2x one twice the size."""
    with Image.open(INTEGRATION / "brand" / name) as image:
        assert image.width > image.height
    with (
        Image.open(INTEGRATION / "brand" / "logo.png") as small,
        Image.open(INTEGRATION / "brand" / "logo@2x.png") as large,
    ):
        assert large.height == 2 * small.height


# The remote agent's own modules run on the other Pi, from the agent's distribution
# (its requirements are pyproject's, checked by test_distribution.py); Home Assistant
# imports only the wire format of that package.
AGENT_ONLY = {"cli.py", "runner.py", "settings.py", "state.py", "service.py", "__main__.py"}


def _integration_sources() -> list[Path]:
    """Return the files Home Assistant may import (all but the agent's own)."""
    return [
        path
        for path in INTEGRATION.rglob("*.py")
        if not (path.parent.name == "agent" and path.name in AGENT_ONLY)
    ]


def _imported_top_modules() -> set[str]:
    """Return the top-level modules the integration's own code imports."""
    import ast
    import sys

    modules: set[str] = set()
    for path in _integration_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "homeassistant"}


# Imported but not required: numpy only when installed (st7735 falls back to Pillow);
# voluptuous is Home Assistant's own schema module (since 2026.10 served by probatio).
NOT_REQUIRED = {"numpy", "voluptuous"}


def test_every_import_is_declared() -> None:
    """Each third-party module the code imports comes from a declared requirement.

    Declared means the manifest's requirements, or a package Home Assistant itself
    requires (Pillow, numpy, voluptuous): a user's Home Assistant installs exactly those.
    """
    from importlib import metadata

    from packaging.requirements import Requirement

    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    declared = {Requirement(r).name.lower() for r in manifest["requirements"]}
    core = {Requirement(r).name.lower() for r in metadata.requires("homeassistant") or [] if r}
    providers = metadata.packages_distributions()
    undeclared = {
        module: sorted(providers.get(module, ["?"]))
        for module in _imported_top_modules() - NOT_REQUIRED
        if not {d.lower() for d in providers.get(module, [])} & (declared | core)
    }
    assert undeclared == {}


def test_integration_imports_only_the_wire_format_of_the_agent() -> None:
    """No module Home Assistant loads reaches into the agent (paho-mqtt is the agent's)."""
    import ast

    for path in _integration_sources():
        if path.parent.name == "agent":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and "agent" in node.module:
                names = {alias.name for alias in node.names}
                assert node.module.endswith("agent"), path
                assert names <= {"wire"}, (path, names)
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "paho", path


def test_validation_workflows() -> None:
    """The repository runs hassfest and the HACS action, as HACS integrations do."""
    import yaml

    workflow = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "validate.yml").read_text(encoding="utf-8")
    )
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    uses = {step.get("uses", "").split("@")[0] for step in steps}
    assert {"home-assistant/actions/hassfest", "hacs/action"} <= uses
    hacs = next(step for step in steps if step.get("uses", "").startswith("hacs/action"))
    assert hacs["with"]["category"] == "integration"
