"""The agent as a separate process on the simulated board, against a real Mosquitto.

The agent runs the way the distribution installs it: the board side as the namespace
package ``qiot_enviro`` (hardware, display, agent), without the integration's
top-level modules or Home Assistant.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import pytest_socket
from paho.mqtt.enums import CallbackAPIVersion

from custom_components.qiot_enviro.agent import wire
from tests.broker import Broker

REPO = Path(__file__).resolve().parents[2]
BOARD = "sim-test-1"
PASSWORD = "s3cr:et/pw"  # noqa: S105 - a test broker's
CYCLE = "0.3"


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """Home Assistant's test plugin blocks sockets; these tests talk to a real broker."""


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    pytest_socket.enable_socket()  # before the function-scoped socket_enabled runs
    with Broker({"agent": PASSWORD, "ha": "ha-pass"}) as running:
        yield running


@pytest.fixture(scope="module")
def namespace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lay out ``qiot_enviro`` as the distribution does (symlinks to the board side)."""
    root = tmp_path_factory.mktemp("ns")
    package = root / "qiot_enviro"
    package.mkdir()
    for name in ("enviro", "display", "agent"):
        (package / name).symlink_to(REPO / "custom_components" / "qiot_enviro" / name)
    return root


class Subscriber:
    """A paho client recording every message on qiot_enviro/#."""

    def __init__(self, broker: Broker) -> None:
        """Connect as Home Assistant's user and subscribe."""
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.username_pw_set("ha", "ha-pass")
        self.client.on_message = self._message
        self.client.on_connect = lambda c, *_: c.subscribe("qiot_enviro/#", 1)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def of(self, kind: str) -> list[tuple[bytes, bool]]:
        """Return (payload, retained) of every message of one kind of our board."""
        name = wire.topic(BOARD, kind)
        with self.lock:
            return [(payload, retain) for topic, payload, retain in self.messages if topic == name]

    def wait(self, predicate: Callable[[], object], timeout: float = 10.0) -> object:
        """Poll until ``predicate()`` is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := predicate():
                return result
            time.sleep(0.05)
        raise AssertionError("timed out")

    def states(self) -> list[wire.State]:
        """Decode every state message received."""
        return [wire.decode_state(payload) for payload, _ in self.of(wire.STATE)]

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


class AgentProcess:
    """``python -m qiot_enviro.agent run`` on the simulated board, output to a file."""

    def __init__(self, namespace: Path, tmp: Path, url: str, *extra: str) -> None:
        """Start the agent."""
        self.log = tmp / f"agent-{time.monotonic_ns()}.log"
        self.state_file = tmp / "state.json"
        self._out = self.log.open("wb")
        command = [
            sys.executable,
            "-m",
            "qiot_enviro.agent",
            "run",
            "--broker",
            url,
            "--simulated",
            "enviro_plus",
            "--board-id",
            BOARD,
            "--cycle",
            CYCLE,
            "--state-file",
            str(self.state_file),
            "--simulated-frame-interval",
            "0.05",
            "--birth-delay",
            "0.2",
            *extra,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(namespace)},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        """Return what the agent logged so far."""
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the agent (if still running) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(10)
        finally:
            self._out.close()


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Subscriber]:
    # Start each test from a clean slate of retained messages.
    cleaner = mqtt.Client(CallbackAPIVersion.VERSION2)
    cleaner.username_pw_set("ha", "ha-pass")
    cleaner.connect(broker.host, broker.port)
    cleaner.loop_start()
    for kind in (wire.ANNOUNCE, wire.STATUS, wire.STATE, wire.PREVIEW):
        cleaner.publish(wire.topic(BOARD, kind), b"", qos=1, retain=True).wait_for_publish(5)
    cleaner.loop_stop()
    cleaner.disconnect()
    sub = Subscriber(broker)
    yield sub
    sub.close()


@pytest.fixture
def agent(
    broker: Broker, namespace: Path, tmp_path: Path, subscriber: Subscriber
) -> Iterator[AgentProcess]:
    running = AgentProcess(namespace, tmp_path, broker.url("agent"))
    yield running
    running.stop(signal.SIGKILL)


def _publish(broker: Broker, name: str, payloads: list[bytes], *, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set("ha", "ha-pass")
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = [client.publish(name, payload, qos=1, retain=retain) for payload in payloads]
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def test_announce_state_and_clean_stop(agent: AgentProcess, subscriber: Subscriber) -> None:
    subscriber.wait(lambda: subscriber.of(wire.ANNOUNCE) and len(subscriber.of(wire.STATE)) >= 4)
    assert (wire.ONLINE.encode(), False) in subscriber.of(wire.STATUS)
    announcement = wire.decode_announcement(subscriber.of(wire.ANNOUNCE)[-1][0])
    assert announcement.board_id == BOARD
    assert announcement.has_display
    seqs = [state.seq for state in subscriber.states()]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert subscriber.states()[-1].backlight is True
    assert agent.stop(signal.SIGTERM) == 0
    subscriber.wait(lambda: subscriber.of(wire.STATUS)[-1][0] == wire.OFFLINE.encode())
    saved = json.loads(agent.state_file.read_text())
    assert saved["seq"] >= seqs[-1]
    assert agent.state_file.stat().st_mode & 0o777 == 0o600
    assert "Traceback" not in agent.output()


def test_sigkill_leaves_last_will(agent: AgentProcess, subscriber: Subscriber) -> None:
    subscriber.wait(lambda: subscriber.of(wire.STATE))
    agent.process.kill()
    agent.process.wait(5)
    # The broker sends the will after 1.5 keep-alives at most; the socket closing is at once.
    subscriber.wait(lambda: subscriber.of(wire.STATUS)[-1][0] == wire.OFFLINE.encode(), 50)


def test_lcd_commands(agent: AgentProcess, subscriber: Subscriber, broker: Broker) -> None:
    subscriber.wait(lambda: subscriber.of(wire.PREVIEW))
    before = len(subscriber.of(wire.PREVIEW))
    show = wire.encode_show(wire.ShowCommand(text="Hello from the test", title="Test"))
    _publish(broker, wire.topic(BOARD, wire.CMD_SHOW), [show])
    subscriber.wait(lambda: len(subscriber.of(wire.PREVIEW)) > before)
    preview = wire.decode_preview(subscriber.of(wire.PREVIEW)[-1][0])
    assert preview.startswith(wire.PNG_SIGNATURE)
    _publish(broker, wire.topic(BOARD, wire.CMD_BACKLIGHT), [wire.encode_backlight(False)])
    subscriber.wait(lambda: subscriber.states()[-1].backlight is False)
    assert json.loads(agent.state_file.read_text())["backlight"] is False


def test_malformed_flood_is_bounded(
    agent: AgentProcess, subscriber: Subscriber, broker: Broker
) -> None:
    subscriber.wait(lambda: subscriber.of(wire.STATE))
    garbage = [b"", b"{", b"[]", b'{"schema":"1.0"}', b'{"schema":"9.0","text":"x"}', b"\xff" * 10]
    payloads = [garbage[i % len(garbage)] + str(i).encode() * (i % 2) for i in range(1000)]
    _publish(broker, wire.topic(BOARD, wire.CMD_SHOW), payloads)
    _publish(broker, f"qiot_enviro/{BOARD}/cmd/nonsense", [b"x"] * 50)
    count = len(subscriber.of(wire.STATE))
    subscriber.wait(lambda: len(subscriber.of(wire.STATE)) >= count + 3)
    lines = [line for line in agent.output().splitlines() if "Command dropped" in line]
    assert 1 <= len(lines) <= 25
    assert "Traceback" not in agent.output()


def test_broker_restart_and_birth(
    agent: AgentProcess, subscriber: Subscriber, broker: Broker
) -> None:
    subscriber.wait(lambda: subscriber.of(wire.ANNOUNCE))
    live = len([m for m in subscriber.of(wire.ANNOUNCE) if not m[1]])
    _publish(broker, wire.HA_STATUS_TOPIC, [wire.ONLINE.encode()])
    subscriber.wait(lambda: len([m for m in subscriber.of(wire.ANNOUNCE) if not m[1]]) > live)

    onlines = len(subscriber.of(wire.STATUS))
    broker.restart()
    # A live (not retained) "online" after the restart: the agent reconnected.
    subscriber.wait(
        lambda: any(
            payload == wire.ONLINE.encode() and not retain
            for payload, retain in subscriber.of(wire.STATUS)[onlines:]
        ),
        20,
    )
    count = len(subscriber.of(wire.STATE))
    subscriber.wait(lambda: len(subscriber.of(wire.STATE)) > count + 2)
    output = agent.output()
    assert "Disconnected from" in output
    assert output.count("Connected to") >= 2


def test_wrong_password(broker: Broker, namespace: Path, tmp_path: Path) -> None:
    url = f"mqtt://agent:wrong-horse-battery@{broker.host}:{broker.port}"
    agent = AgentProcess(namespace, tmp_path, url)
    try:
        code = agent.process.wait(20)
    finally:
        agent.stop(signal.SIGKILL)
    output = agent.output()
    assert code == 3
    assert "refused the credentials" in output
    assert f"{broker.host}:{broker.port}" in output
    assert "wrong-horse-battery" not in output
    assert "Traceback" not in output


def test_corrupt_state_file_replaced(broker: Broker, namespace: Path, tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    agent = AgentProcess(namespace, tmp_path, broker.url("agent"))
    try:
        time.sleep(1.5)
    finally:
        assert agent.stop(signal.SIGTERM) == 0
    assert "is corrupt" in agent.output()
    assert json.loads((tmp_path / "state.json").read_text())["version"] == 1
