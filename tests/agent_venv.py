"""A clean virtualenv holding the remote agent's distribution, as a Pi would install it.

``agent_venv()`` builds the wheel from the repository's pyproject.toml, creates a
virtualenv with the oldest Python the agent supports (``scripts/bootstrap-python313``)
and installs the wheel with its dependencies from PyPI: no Home Assistant, nothing of the
test harness. The result is cached under ``.toolchain/agent-venv`` and rebuilt only when
pyproject.toml, a file of the board side (enviro, display, agent), this module or the
interpreter changes (the newest few builds are kept). A file lock keeps two test
processes from building it at once.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".toolchain" / "agent-venv"
BOARD_SIDE = ("agent", "display", "enviro")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Building and installing asks PyPI; generous, since a first build may compile.
TIMEOUT = 900.0
_READY = ".qiot-ready"
# Builds kept (the board side changes under concurrent test runs while one is in use).
KEEP_BUILDS = 3


def agent_python() -> Path:
    """Return the interpreter scripts/bootstrap-python313 picks (Python 3.13 here)."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "bootstrap-python313")],
        check=False,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"scripts/bootstrap-python313 found no Python 3.13:\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


def _board_side_files() -> Iterator[Path]:
    for folder in BOARD_SIDE:
        for path in sorted((ROOT / "custom_components" / "qiot_enviro" / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path


def source_key(python: Path) -> str:
    """Return the hash the cached venv is keyed by: its sources, recipe and interpreter."""
    digest = hashlib.sha256()
    digest.update(str(python).encode())
    for path in (ROOT / "pyproject.toml", Path(__file__).resolve(), *_board_side_files()):
        digest.update(b"\0" + str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _environment() -> dict[str, str]:
    """Return an environment for pip and uv: reproducible, through the system's CA bundle."""
    env = {
        key: value
        for key, value in os.environ.items()
        # The machine's own package sources and the test run's Python must not leak in
        # (the caches may: they only hold what PyPI served).
        if not key.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV"))
        or key in {"PIP_CACHE_DIR", "UV_CACHE_DIR"}
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    if CA_BUNDLE.is_file():
        env["PIP_CERT"] = str(CA_BUNDLE)
        env.setdefault("SSL_CERT_FILE", str(CA_BUNDLE))
    return env


def _run(*command: str | Path, cwd: Path = ROOT) -> None:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


def _build(python: Path, target: Path) -> None:
    """Build the wheel into target/dist and install it into the venv target/venv."""
    dist = target / "dist"
    venv = target / "venv"
    # The sdist and the wheel, both from the source tree as pip does for
    # ``pipx install git+https://...``, in an isolated environment (hatchling from PyPI).
    _run(sys.executable, "-m", "uv", "build", "--no-config", "--sdist", "--wheel", "-o", dist, ROOT)
    _run(python, "-m", "venv", "--without-pip", venv)
    # Debian's ensurepip looks for the host's wheels: take pip from next to the interpreter.
    wheels = sorted((python.parent.parent / "share" / "python-wheels").glob("pip-*.whl"))
    if wheels:
        _run(venv / "bin" / "python", f"{wheels[-1]}/pip", "install", "-q", wheels[-1])
    else:
        _run(venv / "bin" / "python", "-m", "ensurepip")
    (wheel,) = dist.glob("*.whl")
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel)


def agent_wheel() -> Path:
    """Return the wheel agent_venv() installed (building both if needed)."""
    bin_dir = agent_venv()
    (wheel,) = (bin_dir.parent.parent / "dist").glob("*.whl")
    return wheel


def agent_sdist() -> Path:
    """Return the sdist built next to agent_venv()'s wheel (building both if needed)."""
    bin_dir = agent_venv()
    (sdist,) = (bin_dir.parent.parent / "dist").glob("*.tar.gz")
    return sdist


def build_wheel(source: Path, out_dir: Path) -> Path:
    """Build a wheel from ``source`` (a source tree or an sdist) into ``out_dir``."""
    _run(sys.executable, "-m", "uv", "build", "--no-config", "--wheel", "-o", out_dir, source)
    (wheel,) = out_dir.glob("*.whl")
    return wheel


def agent_venv() -> Path:
    """Return the bin folder of a venv with the agent's distribution installed.

    Building takes about a minute the first time (PyPI); afterwards the cached venv is
    returned at once while its sources stay the same.
    """
    python = agent_python()
    key = source_key(python)
    target = CACHE / key
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / _READY).is_file():
            # A half-made build is started afresh.
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            _build(python, target)
            (target / _READY).write_text(f"{python}\n", encoding="utf-8")
            _prune(keep=target)
    return target / "venv" / "bin"


def _prune(keep: Path) -> None:
    """Remove all but the newest few builds: another test run may still use an older one."""
    builds = sorted(
        (path for path in CACHE.iterdir() if path.is_dir() and path != keep),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for stale in builds[KEEP_BUILDS - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)
