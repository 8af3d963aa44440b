"""Run the end-to-end check (scripts/e2e.py) against a real Home Assistant.

Skip it for quick local runs with ``scripts/test -m "not e2e"``.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_real_home_assistant_end_to_end(tmp_path: Path) -> None:
    """Home Assistant starts, is onboarded, and the integration is added over HTTP."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "e2e.py"), "--artifacts", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "e2e: passed" in result.stdout
