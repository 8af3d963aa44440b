"""install-service / uninstall-service against a fake OS: a file root, a command runner, a uid.

Nothing of ours is faked: the unit file is written under a temporary root, the commands
go to :class:`FakeOS`, which answers ``getent``, ``useradd`` and ``systemctl`` the way a
Raspberry Pi OS would.
"""

import configparser
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from custom_components.qiot_enviro.agent.cli import _parser, main
from custom_components.qiot_enviro.agent.service import (
    DEVICE_GROUPS,
    UNIT_NAME,
    UNIT_PATH,
    ServiceError,
    System,
    agent_command,
    install_service,
    uninstall_service,
)
from custom_components.qiot_enviro.agent.settings import (
    DEFAULT_CONFIG,
    DEFAULT_STATE_FILE,
    SettingsError,
)

CONFIG = """broker = "mqtt://board:hunter2@broker.local"\n"""
USERADD = [
    "useradd",
    "--system",
    "--user-group",
    "--no-create-home",
    "--home-dir",
    "/var/lib/qiot-enviro-agent",
    "--shell",
    "/usr/sbin/nologin",
    "--comment",
    "QIoT Enviro agent",
    "qiot-enviro",
]


class FakeOS:
    """Records every command and answers it like a Pi would; ``useradd`` adds the user."""

    def __init__(self, groups: Sequence[str], users: Sequence[str] = ()) -> None:
        """Start with these groups and users."""
        self.groups = set(groups)
        self.users = set(users)
        self.commands: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run one command."""
        self.commands.append(list(args))
        code = 0
        match list(args):
            case ["getent", "passwd", name]:
                code = 0 if name in self.users else 2
            case ["getent", "group", name]:
                code = 0 if name in self.groups else 2
            case ["useradd", *_, name]:
                self.users.add(name)
        return subprocess.CompletedProcess(list(args), code, "", "")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Return a machine running systemd, with a config holding a password, mode 600."""
    machine = tmp_path / "root"
    (machine / "run/systemd/system").mkdir(parents=True)
    (machine / "etc").mkdir()
    config = machine / "etc/qiot-enviro-agent.toml"
    config.write_text(CONFIG)
    config.chmod(0o600)
    return machine


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    """Return the agent's console script, where pipx --global puts it."""
    script = tmp_path / "opt/pipx/venvs/qiot-enviro-agent/bin/qiot-enviro-agent"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def _system(root: Path, fake: FakeOS, uid: int = 0) -> System:
    """Return the machine under ``root`` whose commands go to ``fake``."""
    return System(root=root, run=fake, euid=lambda: uid)


def _unit(root: Path) -> configparser.SectionProxy:
    """Parse the installed unit; return its [Service] section."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((root / UNIT_PATH.relative_to("/")).read_text())
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    return parser["Service"]


def test_unit_file(root: Path, agent: Path) -> None:
    lines: list[str] = []
    install_service(_system(root, FakeOS(["i2c", "gpio", "dialout"])), [str(agent)], lines.append)
    service = _unit(root)
    assert shlex.split(service["ExecStart"]) == [str(agent), "run", "--config", str(DEFAULT_CONFIG)]
    assert service["User"] == "qiot-enviro"
    assert service["Restart"] == "on-failure"
    assert int(service["RestartSec"]) > 0
    assert service["SupplementaryGroups"].split() == ["i2c", "gpio", "dialout"]
    # The state file run uses by default is inside the directory systemd creates for it.
    assert Path("/var/lib", service["StateDirectory"]) == DEFAULT_STATE_FILE.parent
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    # Either would close /dev/i2c-*, /dev/spidev*, /dev/gpiochip* and /dev/ttyAMA0.
    assert not {"PrivateDevices", "ProtectClock", "DevicePolicy", "DeviceAllow"} & set(service)
    assert (root / UNIT_PATH.relative_to("/")).stat().st_mode & 0o777 == 0o644
    assert "Groups missing on this machine (not added): spi" in lines
    assert lines[-1].endswith("journalctl -u qiot-enviro-agent")


def test_install_commands_in_order(root: Path, agent: Path) -> None:
    fake = FakeOS(DEVICE_GROUPS)
    install_service(_system(root, fake), [str(agent)], lambda _line: None)
    assert fake.commands == [
        ["getent", "passwd", "qiot-enviro"],
        USERADD,
        ["getent", "group", "i2c"],
        ["getent", "group", "spi"],
        ["getent", "group", "gpio"],
        ["getent", "group", "dialout"],
        ["usermod", "--append", "--groups", "i2c,spi,gpio,dialout", "qiot-enviro"],
        ["chown", "qiot-enviro:", str(root / "etc/qiot-enviro-agent.toml")],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", UNIT_NAME],
    ]


def test_reinstall_keeps_the_user_and_restarts(root: Path, agent: Path) -> None:
    fake = FakeOS(DEVICE_GROUPS)
    install_service(_system(root, fake), [str(agent)], lambda _line: None)
    fake.commands.clear()
    lines: list[str] = []
    install_service(_system(root, fake), [str(agent)], lines.append)
    assert USERADD not in fake.commands
    assert fake.commands[-3:] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", UNIT_NAME],
        ["systemctl", "restart", UNIT_NAME],
    ]
    assert "System user qiot-enviro exists" in lines


def test_custom_config_and_user(root: Path, agent: Path) -> None:
    config = root / "srv/agent.toml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    config.chmod(0o600)
    fake = FakeOS(["i2c"], users=["pi-agent"])
    install_service(
        _system(root, fake),
        [str(agent)],
        lambda _line: None,
        config=Path("/srv/agent.toml"),
        user="pi-agent",
    )
    service = _unit(root)
    assert shlex.split(service["ExecStart"])[-2:] == ["--config", "/srv/agent.toml"]
    assert service["User"] == "pi-agent"
    assert ["chown", "pi-agent:", str(config)] in fake.commands


@pytest.mark.parametrize("command", ["install-service", "uninstall-service"])
def test_refused_without_root(root: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeOS(DEVICE_GROUPS)
    assert main([command], system=_system(root, fake, uid=1000)) == 1
    err = capsys.readouterr().err
    assert (
        err == f"qiot-enviro-agent: {command} must run as root: sudo qiot-enviro-agent {command}\n"
    )
    assert fake.commands == []
    assert not (root / UNIT_PATH.relative_to("/")).exists()


def test_refused_without_systemd(tmp_path: Path, agent: Path) -> None:
    fake = FakeOS(DEVICE_GROUPS)
    with pytest.raises(ServiceError, match="systemd is not running"):
        install_service(_system(tmp_path, fake), [str(agent)], lambda _line: None)
    assert fake.commands == []


def test_world_readable_config_with_password_refused(root: Path, agent: Path) -> None:
    config = root / "etc/qiot-enviro-agent.toml"
    config.chmod(0o644)
    fake = FakeOS(DEVICE_GROUPS)
    with pytest.raises(SettingsError, match="other users can read it") as err:
        install_service(_system(root, fake), [str(agent)], lambda _line: None)
    assert "hunter2" not in str(err.value)
    assert fake.commands == []
    assert not (root / UNIT_PATH.relative_to("/")).exists()


def test_world_readable_config_without_password_accepted(root: Path, agent: Path) -> None:
    config = root / "etc/qiot-enviro-agent.toml"
    config.write_text('broker = "mqtts://broker.local"\n')
    config.chmod(0o644)
    install_service(_system(root, FakeOS(DEVICE_GROUPS)), [str(agent)], lambda _line: None)
    assert (root / UNIT_PATH.relative_to("/")).exists()


def test_missing_config_refused(root: Path, agent: Path) -> None:
    (root / "etc/qiot-enviro-agent.toml").unlink()
    fake = FakeOS(DEVICE_GROUPS)
    with pytest.raises(ServiceError, match="does not exist: write it first"):
        install_service(_system(root, fake), [str(agent)], lambda _line: None)
    assert fake.commands == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("cycle = 5\n", "has no broker"),
        ('broker = "mqtt://host"\nstate_file = "/home/pi/state.json"\n', "state_file must be in"),
        ('broker = "mqtts://host"\nca_file = "/root/ca.pem"\n', "cannot see ca_file"),
    ],
)
def test_configs_the_service_cannot_run_with(
    root: Path, agent: Path, config: str, message: str
) -> None:
    (root / "etc/qiot-enviro-agent.toml").write_text(config)
    fake = FakeOS(DEVICE_GROUPS)
    with pytest.raises(ServiceError, match=message):
        install_service(_system(root, fake), [str(agent)], lambda _line: None)
    assert fake.commands == []


def test_agent_in_a_home_directory_refused(root: Path) -> None:
    with pytest.raises(ServiceError, match="pipx install --global"):
        install_service(
            _system(root, FakeOS(DEVICE_GROUPS)),
            ["/home/pi/.local/bin/qiot-enviro-agent"],
            lambda _line: None,
        )


def test_uninstall_keeps_user_config_and_state(root: Path, agent: Path) -> None:
    fake = FakeOS(DEVICE_GROUPS)
    install_service(_system(root, fake), [str(agent)], lambda _line: None)
    state = root / "var/lib/qiot-enviro-agent/state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    fake.commands.clear()
    lines: list[str] = []
    uninstall_service(_system(root, fake), lines.append)
    assert fake.commands == [
        ["systemctl", "disable", "--now", UNIT_NAME],
        ["systemctl", "daemon-reload"],
    ]
    assert not (root / UNIT_PATH.relative_to("/")).exists()
    assert (root / "etc/qiot-enviro-agent.toml").read_text() == CONFIG
    assert state.exists()
    assert "qiot-enviro" in fake.users
    assert lines[-1].startswith(
        "Kept the user qiot-enviro, the config /etc/qiot-enviro-agent.toml and the state in "
        "/var/lib/qiot-enviro-agent"
    )


def test_uninstall_is_idempotent(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeOS(DEVICE_GROUPS)
    assert main(["uninstall-service"], system=_system(root, fake)) == 0
    assert main(["uninstall-service"], system=_system(root, fake)) == 0
    assert capsys.readouterr().out == f"{UNIT_NAME} is not installed: nothing to do\n" * 2
    assert fake.commands == []


def test_failing_command_is_one_line(root: Path, agent: Path) -> None:
    def no_systemctl(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        failed = args[0] == "systemctl"
        stderr = "Failed to connect to bus: No such file or directory\n" if failed else ""
        return subprocess.CompletedProcess(list(args), int(failed), "", stderr)

    system = System(root=root, run=no_systemctl, euid=lambda: 0)
    with pytest.raises(ServiceError) as err:
        install_service(system, [str(agent)], lambda _line: None)
    assert str(err.value) == (
        "systemctl daemon-reload failed: Failed to connect to bus: No such file or directory"
    )


def test_agent_command(tmp_path: Path, agent: Path) -> None:
    link = tmp_path / "usr/local/bin/qiot-enviro-agent"
    link.parent.mkdir(parents=True)
    link.symlink_to(agent)
    assert agent_command(str(link)) == [str(agent)]
    main_py = tmp_path / "qiot_enviro/agent/__main__.py"
    venv_python = "/opt/pipx/venvs/qiot-enviro-agent/bin/python"
    command = agent_command(str(main_py), python=venv_python)
    assert command[:2] == [venv_python, "-m"]
    assert command[2].endswith("qiot_enviro.agent")


def test_command_line_defaults() -> None:
    args = _parser().parse_args(["install-service"])
    assert (args.config, args.user) == (DEFAULT_CONFIG, "qiot-enviro")
