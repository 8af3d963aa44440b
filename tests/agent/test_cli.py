"""The command line: options, config merging, clear refusals."""

from pathlib import Path

import pytest

from custom_components.qiot_enviro.agent import __version__
from custom_components.qiot_enviro.agent.cli import _parser, main, settings_from


def _settings(*argv: str):
    return settings_from(_parser().parse_args(["run", *argv]))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_command_line_overrides_config(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('broker = "mqtt://u:pw@host"\ncycle = 5\nsimulated = "enviro"\n')
    config.chmod(0o600)
    settings = _settings("--config", str(config), "--cycle", "0.5", "--board-id", "sim-1")
    assert settings.cycle == 0.5
    assert settings.simulated == "enviro"
    assert settings.board_id == "sim-1"
    assert settings.broker.host == "host"


def test_refusals_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--broker", "mqtt://host", "--board-id", "sim-1"]) == 2
    assert "simulated board only" in capsys.readouterr().err
    assert (
        main(["run", "--broker", "mqtt://host", "--simulated", "enviro", "--board-id", "a/b"]) == 2
    )
    assert "invalid board id" in capsys.readouterr().err
    config = tmp_path / "agent.toml"
    config.write_text('broker = "mqtt://u:hunter2@host"\n')
    config.chmod(0o640)
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "other users can read it" in err
    assert "hunter2" not in err
    assert "Traceback" not in err
