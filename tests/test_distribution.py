"""The remote agent's distribution: built from the repository, installed without Home Assistant.

The wheel is built from the root pyproject.toml and installed with its dependencies into a
clean virtualenv on the oldest Python the agent supports (tests/agent_venv.py), the way
``pipx install`` does on a Raspberry Pi. What runs there is the board side and nothing else.
About 20 s with empty caches (PyPI), a few seconds once tests/agent_venv.py has its venv.
"""

import json
import re
import subprocess
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

from .agent_venv import ROOT, agent_sdist, agent_venv, agent_wheel, build_wheel

INTEGRATION = ROOT / "custom_components" / "qiot_enviro"


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    """Return the agent venv's bin folder (built on first use, about a minute)."""
    return agent_venv()


def _python(bin_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "python"), "-I", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=bin_dir,
    )


def test_wheel_holds_only_the_board_side(bin_dir: Path) -> None:
    """Only qiot_enviro/{agent,display,enviro}: nothing that imports Home Assistant."""
    del bin_dir
    with zipfile.ZipFile(agent_wheel()) as wheel:
        names = wheel.namelist()
    packaged = [name for name in names if ".dist-info/" not in name]
    assert packaged
    outside = [
        name for name in packaged if not re.match(r"qiot_enviro/(agent|display|enviro)/[^/]", name)
    ]
    assert outside == []
    # The integration's own modules, manifest and translations stay out.
    assert "qiot_enviro/__init__.py" not in names
    assert not [name for name in names if name.endswith("manifest.json")]
    assert not [name for name in names if "translations" in name]
    assert "qiot_enviro/coordinator.py" not in names
    for folder in ("agent", "display", "enviro"):
        assert f"qiot_enviro/{folder}/__init__.py" in names
    assert "qiot_enviro/enviro/emulator/board.py" in names


def test_sdist_builds_the_same_wheel(bin_dir: Path, tmp_path: Path) -> None:
    """The sdist keeps the repository's paths of the board side only, and builds the same wheel."""
    del bin_dir
    with tarfile.open(agent_sdist()) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    sources = [name for name in names if name.endswith(".py")]
    assert sources
    assert all(
        re.match(r"custom_components/qiot_enviro/(agent|display|enviro)/", name) for name in sources
    )
    assert "pyproject.toml" in names
    assert "custom_components/qiot_enviro/manifest.json" not in names
    rebuilt = build_wheel(agent_sdist(), tmp_path)
    with zipfile.ZipFile(rebuilt) as again, zipfile.ZipFile(agent_wheel()) as first:
        assert sorted(again.namelist()) == sorted(first.namelist())


def test_no_home_assistant_and_python_313(bin_dir: Path) -> None:
    """The venv runs the oldest supported Python and has no Home Assistant."""
    result = _python(
        bin_dir,
        """
        import sys
        print(sys.version_info[:2])
        try:
            import homeassistant
        except ImportError:
            print("no homeassistant")
        else:
            print("homeassistant at", homeassistant.__file__)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["(3, 13)", "no homeassistant"]


def test_simulated_board_reads_and_round_trips(bin_dir: Path) -> None:
    """The installed board side reads the simulated Enviro+ and speaks the wire format."""
    result = _python(
        bin_dir,
        """
        import json
        import qiot_enviro
        from qiot_enviro.agent import wire
        from qiot_enviro.enviro.board import Board
        from qiot_enviro.enviro.emulator.board import create_simulated
        from qiot_enviro.enviro.models import Variant

        sim = create_simulated(Variant.ENVIRO_PLUS, seed=1, frame_interval=0.03)
        board = Board(sim.provider, particulate_warmup=0.0, particulate_read_timeout=0.5)
        detection = board.open()
        try:
            snapshot = board.read()
            health = board.health()
        finally:
            board.close()
        state = wire.decode_state(wire.encode_state(3, snapshot, health), detection.groups)
        print(json.dumps({
            "namespace": list(qiot_enviro.__path__),
            "file": getattr(qiot_enviro, "__file__", None),
            "temperature": snapshot.climate.value.temperature,
            "same": state.snapshot == snapshot and state.health == health,
            "seq": state.seq,
        }))
        """,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # An implicit namespace package, installed in the venv, not the repository's copy.
    assert report["file"] is None
    assert all("site-packages" in path for path in report["namespace"])
    assert isinstance(report["temperature"], float)
    assert -40.0 < report["temperature"] < 85.0
    assert report["same"] is True
    assert report["seq"] == 3


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].lower()


def test_dependencies_are_the_manifest_plus_mqtt_and_pillow() -> None:
    """The distribution pins what the manifest pins, plus what Home Assistant would provide."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    dependencies = project["dependencies"]
    extra = [item for item in dependencies if item not in manifest["requirements"]]
    assert sorted(set(dependencies) & set(manifest["requirements"])) == sorted(
        manifest["requirements"]
    )
    assert sorted(_name(item) for item in extra) == ["paho-mqtt", "pillow"]
    # Pillow as a floor only, so that Debian's python3-pil can serve it.
    assert next(item for item in extra if _name(item) == "pillow").startswith("pillow>=")
    assert project["requires-python"] == ">=3.13"


def test_command_help(bin_dir: Path) -> None:
    """The console script the distribution declares starts and prints its help."""
    with zipfile.ZipFile(agent_wheel()) as wheel:
        entry_points = wheel.read("qiot_enviro_agent-0.3.0.dist-info/entry_points.txt").decode()
    assert "qiot-enviro-agent = qiot_enviro.agent.cli:main" in entry_points
    result = subprocess.run(
        [str(bin_dir / "qiot-enviro-agent"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
