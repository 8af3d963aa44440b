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
