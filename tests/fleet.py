"""A fleet on a real broker: Home Assistant's real MQTT integration, agents as processes.

``async_setup_real_mqtt`` connects Home Assistant's MQTT integration (its own paho
client, nothing mocked) to a test broker (tests/broker.py). Tests use it with the
harness's ``hass`` fixture: pytest-homeassistant-custom-component lets sockets reach
127.0.0.1 once ``socket_enabled`` is requested. ``benchmarks/remote.py`` uses it with a
Home Assistant built by ``async_test_home_assistant``. ``AgentProcess`` runs the agent
as users run it, from a TOML config file, and stops it by its pid.
"""

import signal
import subprocess
import sys
from pathlib import Path

from homeassistant.components.mqtt import client as mqtt_client
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker import Broker

ROOT = Path(__file__).resolve().parents[1]
# A shell in a new UTS namespace sets its host name ($0), then becomes the agent ($@).
UNSHARE = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"']


def other_host_names() -> bool:
    """Tell whether an agent can run under another host name here (root may unshare)."""
    try:
        result = subprocess.run(
            [*UNSHARE, "qiot-probe", "true"], capture_output=True, timeout=10, check=False
        )
    except OSError:
        return False
    return result.returncode == 0


async def async_setup_real_mqtt(hass: HomeAssistant, broker: Broker, user: str) -> MockConfigEntry:
    """Set up the MQTT integration against ``broker`` as ``user``; wait until it connects.

    Raises RuntimeError when it does not set up or connect, TypeError when the client is
    not the real one (a test that also requested ``mqtt_mock`` would get the mock).
    """
    entry = MockConfigEntry(
        domain="mqtt",
        title="MQTT",
        data={
            "broker": broker.host,
            "port": broker.port,
            "username": user,
            "password": broker.users[user],
        },
        version=2,
        minor_version=1,
    )
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError("MQTT did not set up")
    from homeassistant.components import mqtt

    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise RuntimeError("MQTT did not connect")
    if not isinstance(hass.data[mqtt.DATA_MQTT].client, mqtt_client.MQTT):
        raise TypeError("not the real MQTT client")
    await hass.async_block_till_done()
    return entry


class AgentProcess:
    """The agent as users run it: ``python -m custom_components.qiot_enviro.agent run``.

    ``config`` is the TOML it is started with (written with mode 600: it holds the
    broker's password); ``write_config`` replaces it, as a user editing the file would.
    Output goes to a log file; ``stop`` ends it by its pid.
    """

    def __init__(self, folder: Path, name: str) -> None:
        """Prepare its files in ``folder``; nothing runs until ``start``."""
        self.folder = folder
        self.name = name
        self.config = folder / f"{name}.toml"
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self, broker: Broker, user: str, **settings: str | float) -> None:
        """Write the config file: the broker URL of ``user`` and ``settings`` (TOML keys)."""
        lines = [f'broker = "{broker.url(user)}"']
        for key, value in {
            "state_file": str(self.folder / f"{self.name}.json"),
            **settings,
        }.items():
            lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
        self.config.touch(mode=0o600)
        self.config.chmod(0o600)
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, *extra: str, hostname: str | None = None) -> None:
        """Start the agent with the config file (``extra``: more command line options).

        ``hostname``: run it in a UTS namespace of its own under that host name (see
        ``other_host_names``), as if it ran on another Pi.
        """
        command = [sys.executable, "-m", "custom_components.qiot_enviro.agent", "run"]
        command += ["--config", str(self.config), *extra]
        if hostname is not None:
            command = [*UNSHARE, hostname, *command]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Signal the agent by its pid if it runs, wait for it; return its exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode

    def output(self) -> str:
        """Return what the agent logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
