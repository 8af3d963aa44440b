"""Security of the MQTT path, against a real Mosquitto: the ACL, TLS, no leaked credentials.

The broker runs with the ACL printed in the README (read from its code block here, so the
README says only what is tested) and a TLS listener whose CA and server certificate are
made by the test. The agent runs as users run it: a process on the simulated board, its
broker user named by its board id.
"""

import asyncio
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest
import pytest_socket
from homeassistant.core import HomeAssistant
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.qiot_enviro.agent import wire
from custom_components.qiot_enviro.agent.runner import Agent
from custom_components.qiot_enviro.agent.settings import Settings, SettingsError, parse_broker_url
from custom_components.qiot_enviro.diagnostics import async_get_config_entry_diagnostics
from tests.agent.test_agent import BOARD, AgentProcess
from tests.agent.test_agent import namespace as namespace  # noqa: PLC0414 - a fixture
from tests.broker import Broker, make_tls_files
from tests.test_remote import BOARD_ID as REMOTE_BOARD_ID
from tests.test_remote import Agent as RemoteAgent
from tests.test_remote import async_setup_remote
from tests.test_remote import cycle as cycle  # noqa: PLC0414 - a fixture
from tests.test_remote import expected_lingering_timers as expected_lingering_timers  # noqa: PLC0414

REPO = Path(__file__).resolve().parents[2]
HA_USER = "homeassistant"
HA_PASSWORD = "ha-Pa55"  # noqa: S105 - a test broker's
# Characters a URL must percent-encode: the password also appears encoded in the URL.
AGENT_PASSWORD = "Zx9:q/r@s%t#u?v"  # noqa: S105 - a test broker's
OTHER = "sim-other-board"  # a second board: its own user, its own topics
ATTACKER_PASSWORD = "attacker-pw"  # noqa: S105 - a test broker's
OWN_KINDS = (wire.ANNOUNCE, wire.STATUS, wire.STATE, wire.PREVIEW, wire.TAP)


def readme_acl() -> str:
    """Return the Mosquitto ACL of the README's "Security" section (its code block)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(
        r"^```\n(# Mosquitto ACL for qiot_enviro.*?)^```$", readme, re.MULTILINE | re.DOTALL
    )
    assert len(blocks) == 1, "the README has one ACL block"
    return str(blocks[0])


@pytest.fixture
def sockets(socket_enabled: None) -> None:
    """Home Assistant's test plugin blocks sockets; these tests talk to a real broker."""


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """Mosquitto with the README's ACL, a plain and a TLS listener."""
    pytest_socket.enable_socket()  # before the function-scoped socket_enabled runs
    users = {HA_USER: HA_PASSWORD, BOARD: AGENT_PASSWORD, OTHER: ATTACKER_PASSWORD}
    with Broker(users, acl=readme_acl(), tls=True) as running:
        yield running


class Client:
    """A paho client of one broker user, recording what it receives and its acks."""

    def __init__(
        self,
        broker: Broker,
        user: str,
        *,
        tls_ca: Path | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
        will: tuple[str, bytes] | None = None,
    ) -> None:
        """Connect (and wait for the broker's answer)."""
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, list[ReasonCode]] = {}
        self.connected = threading.Event()
        self.connack: Any = None
        self.filters: list[str] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
        self.client.username_pw_set(user, broker.users[user])
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_message = self._message
        self.client.on_connect = self._connect
        self.client.on_subscribe = self._ack
        self.client.on_publish = self._published
        port = broker.port
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
            assert broker.tls_port is not None
            port = broker.tls_port
        self.client.connect(broker.host, port)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def _connect(self, client: mqtt.Client, userdata: object, *args: Any) -> None:
        self.connack = args[1]
        for topic_filter in self.filters:  # again after a reconnect (a clean session)
            client.subscribe(topic_filter, 1)
        self.connected.set()

    def _message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def _ack(self, client: mqtt.Client, userdata: object, mid: int, codes: Any, *_: Any) -> None:
        with self.lock:
            self.acks[mid] = list(codes)

    def _published(
        self, client: mqtt.Client, userdata: object, mid: int, code: Any, *_: Any
    ) -> None:
        with self.lock:
            self.acks[mid] = [code]

    def subscribe(self, topic_filter: str) -> list[ReasonCode]:
        """Subscribe (again at each reconnect) and return the broker's reason codes."""
        self.filters.append(topic_filter)
        _, mid = self.client.subscribe(topic_filter, 1)
        assert mid is not None
        wait(lambda: mid in self.acks)
        return self.acks[mid]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        wait(lambda: info.mid in self.acks)
        return self.acks[info.mid][0]

    def of(self, board_id: str, kind: str) -> list[bytes]:
        """Return the payloads received on one topic of a board."""
        name = wire.topic(board_id, kind)
        with self.lock:
            return [payload for topic, payload in self.messages if topic == name]

    def close(self) -> None:
        """Disconnect cleanly."""
        self.client.disconnect()
        self.client.loop_stop()


def wait(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def clear_retained(broker: Broker, *board_ids: str) -> None:
    """Remove the retained messages of some boards (as Home Assistant's user may)."""
    cleaner = Client(broker, HA_USER)
    for board_id in board_ids:
        for kind in (wire.ANNOUNCE, wire.STATUS, wire.STATE, wire.PREVIEW, wire.CMD_SAMPLING):
            cleaner.publish(wire.topic(board_id, kind), b"", retain=True)
    cleaner.close()


@pytest.fixture
def home_assistant(broker: Broker, sockets: None) -> Iterator[Client]:
    """Home Assistant's user, listening to every board's topics (retained ones cleared)."""
    clear_retained(broker, BOARD, OTHER)
    client = Client(broker, HA_USER)
    assert client.subscribe(f"{wire.TOPIC_ROOT}/#")[0].value == 1
    yield client
    client.close()


def secrets_in(text: str) -> list[str]:
    """Return each form of the agent's password found in ``text``."""
    forms = {AGENT_PASSWORD, quote(AGENT_PASSWORD, safe=""), quote(AGENT_PASSWORD)}
    forms |= {form.lower() for form in forms} | {form.upper() for form in forms}
    return sorted(form for form in forms if form in text)


# -- the ACL -------------------------------------------------------------------------


def test_agent_works_under_the_acl(
    broker: Broker, home_assistant: Client, namespace: Path, tmp_path: Path
) -> None:
    """Announcement, status, state and preview arrive; commands and the birth reach it."""
    agent = AgentProcess(namespace, tmp_path, broker.url(BOARD))
    try:
        wait(lambda: home_assistant.of(BOARD, wire.ANNOUNCE))
        wait(lambda: len(home_assistant.of(BOARD, wire.STATE)) >= 2)
        assert wire.decode_announcement(home_assistant.of(BOARD, wire.ANNOUNCE)[-1]).board_id == (
            BOARD
        )
        assert home_assistant.of(BOARD, wire.STATUS)[-1] == wire.ONLINE.encode()
        wait(lambda: home_assistant.of(BOARD, wire.PREVIEW))
        # Its own commands reach it: the backlight switches off in the next state.
        home_assistant.publish(wire.topic(BOARD, wire.CMD_BACKLIGHT), wire.encode_backlight(False))
        wait(lambda: wire.decode_state(home_assistant.of(BOARD, wire.STATE)[-1]).backlight is False)
        # Home Assistant's birth reaches it: it announces again.
        announced = len(home_assistant.of(BOARD, wire.ANNOUNCE))
        home_assistant.publish(wire.HA_STATUS_TOPIC, wire.ONLINE.encode())
        wait(lambda: len(home_assistant.of(BOARD, wire.ANNOUNCE)) > announced)
        # Its last will is allowed: killed, the broker publishes "offline" for it.
        agent.process.kill()
        agent.process.wait(5)
        wait(lambda: home_assistant.of(BOARD, wire.STATUS)[-1] == wire.OFFLINE.encode())
    finally:
        agent.stop(signal.SIGKILL)
    output = agent.output()
    assert "Command dropped" not in output
    assert "Traceback" not in output
    assert "Denied" not in broker.log()


def test_a_board_cannot_publish_for_another(broker: Broker, home_assistant: Client) -> None:
    """Logged in as one board, a client's messages on another board's topics are dropped."""
    attacker = Client(broker, OTHER)
    forged_state = b'{"schema": "1.1", "forged": true}'
    try:
        for kind in (wire.STATE, wire.ANNOUNCE, wire.STATUS, wire.PREVIEW, wire.TAP):
            attacker.publish(wire.topic(BOARD, kind), forged_state, retain=True)
            attacker.publish(wire.topic(BOARD, kind), forged_state)
        # Nor may it command a board, or fake Home Assistant's birth (a storm of announcements).
        attacker.publish(wire.topic(BOARD, wire.CMD_SHOW), b"{}")
        attacker.publish(wire.HA_STATUS_TOPIC, wire.ONLINE.encode())
        # Its own topics do work: the last message proves the earlier ones were handled.
        attacker.publish(wire.topic(OTHER, wire.STATE), b"own")
        wait(lambda: home_assistant.of(OTHER, wire.STATE) == [b"own"])
    finally:
        attacker.close()
    assert all(
        not topic.startswith(f"qiot_enviro/{BOARD}/") for topic, _ in home_assistant.messages
    )
    # A late subscriber finds nothing retained for the board either.
    late = Client(broker, HA_USER)
    late.subscribe(f"{wire.TOPIC_ROOT}/{BOARD}/#")
    time.sleep(0.3)
    late.close()
    assert late.messages == []


def test_mqtt5_client_is_told_not_authorized(broker: Broker, home_assistant: Client) -> None:
    """An MQTT 5 client gets "not authorized" (0x87) for another board's topic, 0 for its own."""
    attacker = Client(broker, OTHER, protocol=MQTTProtocolVersion.MQTTv5)
    try:
        denied = attacker.publish(wire.topic(BOARD, wire.STATE), b"forged")
        own = attacker.publish(wire.topic(OTHER, wire.STATE), b"own")
    finally:
        attacker.close()
    assert denied.value == 0x87
    assert own.value == 0
    assert not home_assistant.of(BOARD, wire.STATE)


def test_a_board_cannot_read_another_boards_commands(
    broker: Broker, home_assistant: Client
) -> None:
    """Another board's command topics: nothing is delivered.

    Mosquitto 2.0 grants the subscription (SUBACK QoS 1) and checks read access on each
    message it would deliver: none of the other board's messages comes through.
    """
    attacker = Client(broker, OTHER)
    try:
        attacker.subscribe(f"qiot_enviro/{BOARD}/cmd/#")
        attacker.subscribe(f"{wire.TOPIC_ROOT}/#")  # a broad filter delivers only its own
        attacker.subscribe(f"qiot_enviro/{OTHER}/cmd/#")
        show = wire.encode_show(wire.ShowCommand(text="for the other board"))
        home_assistant.publish(wire.topic(BOARD, wire.CMD_SHOW), show)
        home_assistant.publish(wire.topic(BOARD, wire.CMD_SAMPLING), b"{}", retain=True)
        home_assistant.publish(wire.topic(OTHER, wire.CMD_SHOW), b"own")
        wait(lambda: attacker.of(OTHER, wire.CMD_SHOW))
        # Nor may it read the other board's own messages.
        home_assistant.publish(wire.topic(BOARD, wire.STATE), b"state")
        home_assistant.publish(wire.topic(OTHER, wire.CMD_DISMISS), b"own")
        wait(lambda: attacker.of(OTHER, wire.CMD_DISMISS))
    finally:
        attacker.close()
    assert {topic for topic, _ in attacker.messages} <= {
        wire.topic(OTHER, wire.CMD_SHOW),
        wire.topic(OTHER, wire.CMD_DISMISS),
    }


def test_a_board_cannot_leave_a_last_will_for_another(
    broker: Broker, home_assistant: Client
) -> None:
    """A will on another board's status is never published; one on its own is (control)."""
    for board_id in (BOARD, OTHER):
        client = Client(broker, OTHER, will=(wire.topic(board_id, wire.STATUS), b"offline"))
        if client.connack.is_failure:  # refused at once: the will is never stored
            client.client.loop_stop()
            continue
        # Cut the connection without a DISCONNECT: the broker sends the will.
        client.client.loop_stop()
        sock = client.client.socket()
        assert sock is not None
        sock.close()
    wait(lambda: home_assistant.of(OTHER, wire.STATUS) == [b"offline"])
    time.sleep(0.3)
    assert not home_assistant.of(BOARD, wire.STATUS)


# -- credentials ---------------------------------------------------------------------


def test_password_never_in_the_agents_output(
    broker: Broker, home_assistant: Client, namespace: Path, tmp_path: Path
) -> None:
    """At DEBUG: connect, a broker restart, a clean stop, a refused login; no password."""
    url = broker.url(BOARD)
    assert quote(AGENT_PASSWORD, safe="") in url
    agent = AgentProcess(namespace, tmp_path, url, "--log-level", "DEBUG")
    try:
        wait(lambda: home_assistant.of(BOARD, wire.STATE))
        broker.restart()
        seen = len(home_assistant.messages)
        # Home Assistant's client reconnects by itself; the agent's state arrives again.
        wait(
            lambda: wire.topic(BOARD, wire.STATE) in [t for t, _ in home_assistant.messages[seen:]],
            20,
        )
        assert agent.stop(signal.SIGTERM) == 0
    finally:
        agent.stop(signal.SIGKILL)
    output = agent.output()
    assert output.count("Connected to") >= 2
    assert f"mqtt://{BOARD}:***@{broker.host}:{broker.port}" in output
    assert " DEBUG " in output  # the level took effect

    wrong = url.replace(quote(AGENT_PASSWORD, safe=""), quote(AGENT_PASSWORD[::-1], safe=""))
    refused = AgentProcess(namespace, tmp_path, wrong, "--log-level", "DEBUG")
    try:
        code = refused.process.wait(20)
    finally:
        refused.stop(signal.SIGKILL)
    refused_output = refused.output()
    assert code == 3
    assert "refused the credentials" in refused_output
    assert "Traceback" not in output + refused_output
    assert secrets_in(output + refused_output) == []
    assert AGENT_PASSWORD[::-1] not in refused_output
    assert quote(AGENT_PASSWORD[::-1], safe="") not in refused_output
    # The broker's log holds no password either.
    assert secrets_in(broker.log()) == []


async def test_paho_debug_log_holds_no_password(
    broker: Broker, sockets: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even with paho's own logger at DEBUG, a (re)connect logs no password.

    The agent keeps that logger at ERROR; here it is opened up after the first connect,
    and the broker restarted so that paho logs a whole reconnect.
    """
    settings = Settings(
        broker=parse_broker_url(broker.url(BOARD)),
        simulated="enviro_plus",
        board_id=BOARD,
        cycle=0.3,
        state_file=tmp_path / "state.json",
        birth_delay=0.0,
        simulated_frame_interval=0.05,
    )
    paho_logger = "custom_components.qiot_enviro.agent.runner.paho"
    agent = Agent(settings)
    caplog.set_level("DEBUG")
    run = asyncio.create_task(agent.run())
    try:
        for _ in range(200):
            if agent.connected:
                break
            await asyncio.sleep(0.05)
        assert agent.connected
        logging.getLogger(paho_logger).setLevel(logging.DEBUG)
        await asyncio.to_thread(broker.restart)
        for _ in range(400):
            if any("Sending CONNECT" in r.getMessage() for r in caplog.records) and agent.connected:
                break
            await asyncio.sleep(0.05)
    finally:
        agent.stop()
        code = await asyncio.wait_for(run, 20)
    assert code == 0
    paho_lines = [r.getMessage() for r in caplog.records if r.name == paho_logger]
    assert any("Sending CONNECT" in line for line in paho_lines)
    assert secrets_in("\n".join(r.getMessage() for r in caplog.records)) == []


def test_malformed_url_error_holds_no_password() -> None:
    """A password with an unencoded '/' makes the URL invalid; the error must not show it."""
    with pytest.raises(SettingsError) as raised:
        parse_broker_url("mqtt://board:Tr0ub4dor/3@broker.local:1883")
    assert "Tr0ub4dor" not in str(raised.value)


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_diagnostics_of_a_remote_board_hold_no_credentials(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, cycle: tuple[Any, Any, Any]
) -> None:
    """Home Assistant never has an agent's credentials; its diagnostics show none."""
    entry = await async_setup_remote(hass, RemoteAgent(hass, cycle))
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)

    def keys(value: object) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield str(key)
                yield from keys(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from keys(item)

    found = {key.lower() for key in keys(diagnostics)}
    assert not {key for key in found if "password" in key or "username" in key}
    text = json.dumps(diagnostics, default=str)
    assert REMOTE_BOARD_ID not in text
    assert "mqtt://" not in text
    assert "mqtts://" not in text


# -- TLS -----------------------------------------------------------------------------


def test_tls_with_the_brokers_ca(
    broker: Broker, home_assistant: Client, namespace: Path, tmp_path: Path
) -> None:
    """mqtts:// with --ca-file: the state arrives at a subscriber on the TLS listener."""
    assert broker.tls is not None
    listener = Client(broker, HA_USER, tls_ca=broker.tls.ca)
    listener.subscribe(f"{wire.TOPIC_ROOT}/{BOARD}/#")
    url = broker.url(BOARD, tls=True)
    agent = AgentProcess(namespace, tmp_path, url, "--ca-file", str(broker.tls.ca))
    try:
        wait(lambda: listener.of(BOARD, wire.STATE))
        assert wire.decode_state(listener.of(BOARD, wire.STATE)[-1]).seq > 0
        assert agent.stop(signal.SIGTERM) == 0
    finally:
        agent.stop(signal.SIGKILL)
        listener.close()
    output = agent.output()
    assert f"Connected to mqtts://{BOARD}:***@{broker.host}:{broker.tls_port}" in output
    assert secrets_in(output) == []


@pytest.mark.parametrize("ca", ["none", "wrong"])
def test_tls_refuses_an_unknown_certificate(
    broker: Broker, home_assistant: Client, namespace: Path, tmp_path: Path, ca: str
) -> None:
    """Without the broker's CA (or with another one) the agent never connects, nor crashes."""
    assert broker.tls is not None
    logged_before = len(broker.log())
    extra: list[str] = []
    if ca == "wrong":
        other = tmp_path / "other-ca"
        other.mkdir()
        extra = ["--ca-file", str(make_tls_files(other).ca)]
    agent = AgentProcess(namespace, tmp_path, broker.url(BOARD, tls=True), *extra)
    try:
        wait(lambda: "unreachable" in agent.output())
        time.sleep(1.5)  # a retry (at least 1 s later) fails the same way
        assert agent.process.poll() is None  # still running, retrying
        assert agent.stop(signal.SIGTERM) == 0
    finally:
        agent.stop(signal.SIGKILL)
    output = agent.output()
    assert f"Broker mqtts://{BOARD}:***@{broker.host}:{broker.tls_port} unreachable" in output
    assert "Connected to" not in output
    assert "Traceback" not in output
    assert home_assistant.of(BOARD, wire.STATE) == []
    assert home_assistant.of(BOARD, wire.STATUS) == []
    # No plaintext fallback: the broker never saw the agent log in.
    assert f"as qiot-enviro-agent-{BOARD}" not in broker.log()[logged_before:]
