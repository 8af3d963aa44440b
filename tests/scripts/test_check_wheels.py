"""The lint step that keeps runtime requirements installable on Home Assistant's container."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "custom_components" / "qiot_enviro" / "manifest.json"
pytestmark = pytest.mark.slow


def run_checker(manifest: Path) -> subprocess.CompletedProcess[str]:
    """Run scripts/check_wheels.py on a manifest with the test's interpreter."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_wheels.py"), str(manifest)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )


def test_manifest_requirements_have_wheels() -> None:
    """Every runtime requirement of the integration installs without a compiler."""
    result = run_checker(MANIFEST)
    assert result.returncode == 0, result.stdout + result.stderr


def test_requirement_without_wheels_is_named(tmp_path: Path) -> None:
    """Adding spidev (no wheels, C sources) fails the check and names spidev."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    manifest["requirements"].append("spidev==3.8")
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(manifest), encoding="utf-8")
    result = run_checker(bad)
    assert result.returncode == 1
    assert "spidev==3.8: no wheel for Python 3.14 on musllinux_1_2_aarch64" in result.stdout
    assert "musllinux_1_2_x86_64" in result.stdout
    assert "gpiod" not in result.stdout
