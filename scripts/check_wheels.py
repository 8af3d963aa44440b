"""Check that runtime requirements install on Home Assistant's container images.

Home Assistant's container images (Alpine, musl) ship no compiler, so every runtime
requirement of the integration, with all of its dependencies, must resolve for
Python 3.14 on musllinux_1_2_aarch64 and musllinux_1_2_x86_64 to a wheel or to a
pure-Python source distribution. This script resolves the requirements for each
platform with uv, then checks every pinned package: a matching wheel passes; without
one, the source distribution passes only if it carries no C, C++, Cython or Rust
sources. It names every package that fails and exits non-zero.

Usage: python scripts/check_wheels.py [path/to/manifest.json]
"""

import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PYTHON_VERSION = "3.14"
PLATFORMS = {
    "musllinux_1_2_aarch64": "aarch64-unknown-linux-musl",
    "musllinux_1_2_x86_64": "x86_64-unknown-linux-musl",
}
COMPILED_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs", ".f90")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = ROOT / "custom_components" / "qiot_enviro" / "manifest.json"


def resolve(requirements: list[str], target: str, workdir: Path) -> list[str]:
    """Return the pinned closure of requirements for one target platform."""
    infile = workdir / "requirements.in"
    infile.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            target,
            str(infile),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cannot resolve for {target}:\n{result.stderr.strip()}")
    return [
        line.strip()
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def has_wheel(pin: str, platform: str, workdir: Path) -> bool:
    """Tell whether pip finds a wheel of pin for Python 3.14 on platform."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            platform,
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "--abi",
            "cp314",
            "--abi",
            "abi3",
            "--abi",
            "none",
            "--dest",
            str(workdir / "wheels"),
            pin,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def sdist_is_pure(pin: str, workdir: Path) -> bool:
    """Download the source distribution of pin and tell whether it compiles nothing."""
    dest = workdir / "sdists" / pin.replace("==", "-")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary=:all:",
            "--dest",
            str(dest),
            pin,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    archives = list(dest.glob("*")) if dest.exists() else []
    if result.returncode != 0 and not archives:
        return False
    for archive in archives:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zipped:
                names = zipped.namelist()
        else:
            with tarfile.open(archive) as tarred:
                names = tarred.getnames()
        if any(name.lower().endswith(COMPILED_SUFFIXES) for name in names):
            return False
    return bool(archives)


def check(manifest: Path) -> list[str]:
    """Return one line per package that would need a compiler, per platform."""
    requirements = json.loads(manifest.read_text(encoding="utf-8"))["requirements"]
    failures: list[str] = []
    verdicts: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for platform, target in PLATFORMS.items():
            try:
                pins = resolve(requirements, target, workdir)
            except RuntimeError as err:
                failures.append(str(err))
                continue
            for pin in pins:
                if has_wheel(pin, platform, workdir):
                    continue
                if pin not in verdicts:
                    verdicts[pin] = sdist_is_pure(pin, workdir)
                if not verdicts[pin]:
                    failures.append(
                        f"{pin}: no wheel for Python {PYTHON_VERSION} on {platform} "
                        "and its source distribution needs a compiler"
                    )
    return failures


def main() -> int:
    """Run the check on the given or default manifest and report."""
    manifest = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MANIFEST
    failures = check(manifest)
    if failures:
        print(f"{manifest}: requirements that cannot install on Home Assistant's container:")
        for line in failures:
            print(f"  {line}")
        return 1
    print(
        f"wheel check: every runtime requirement resolves to wheels or pure Python "
        f"on {', '.join(PLATFORMS)} (Python {PYTHON_VERSION})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
