"""The private Mosquitto of tests/broker.py, proven with the paho-mqtt client Home Assistant uses."""

import queue
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from .broker import Broker

TIMEOUT = 5.0
USERS = {"alice": "wonder:land/1", "bob": "builder"}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(socket_enabled: None) -> None:
    """Replace the suite-wide fixture (no ``hass`` here) and allow the loopback sockets."""


class Client:
    """A paho client that records its connection result and the messages it receives."""

    def __init__(self, user: str, password: str) -> None:
        """Prepare the client; ``connect`` starts its network thread."""
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.paho.username_pw_set(user, password)
        self.connected: queue.Queue[ReasonCode] = queue.Queue()
        self.subscribed: queue.Queue[int] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.paho.on_connect = lambda _c, _u, _f, code, _p: self.connected.put(code)
        self.paho.on_subscribe = lambda _c, _u, mid, _codes, _p: self.subscribed.put(mid)
        self.paho.on_message = lambda _c, _u, message: self.messages.put(message)

    def connect(self, host: str, port: int) -> ReasonCode:
        """Connect and return the broker's answer (CONNACK)."""
        self.paho.connect(host, port, keepalive=10)
        self.paho.loop_start()
        return self.connected.get(timeout=TIMEOUT)

    def subscribe(self, topic: str) -> None:
        """Subscribe and wait for the broker's SUBACK."""
        _, mid = self.paho.subscribe(topic, qos=1)
        assert self.subscribed.get(timeout=TIMEOUT) == mid

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait until the broker acknowledged it."""
        info = self.paho.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

    def next_message(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage | None:
        """Return the next message received, or None after ``timeout`` seconds."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.paho.disconnect()
        self.paho.loop_stop()


@contextmanager
def connected(broker: Broker, user: str, password: str | None = None) -> Iterator[Client]:
    """Yield a client connected to ``broker`` as ``user``; fail if the broker refuses."""
    client = Client(user, broker.users[user] if password is None else password)
    try:
        code = client.connect(broker.host, broker.port)
        assert not code.is_failure, str(code)
        yield client
    finally:
        client.close()


@pytest.fixture
def broker() -> Iterator[Broker]:
    """Yield a running broker with two users, removed after the test."""
    with Broker(USERS) as running:
        yield running


def test_publish_subscribe(broker: Broker) -> None:
    """A user with the right password subscribes and receives what another publishes."""
    with connected(broker, "alice") as alice, connected(broker, "bob") as bob:
        alice.subscribe("qiot_enviro/#")
        bob.publish("qiot_enviro/board/state", b'{"t": 21.5}')
        message = alice.next_message()
    assert message is not None
    assert (message.topic, message.payload) == ("qiot_enviro/board/state", b'{"t": 21.5}')
    assert broker.host == "127.0.0.1"
    assert set(broker.users) == {"alice", "bob"}


@pytest.mark.parametrize(
    ("user", "password"), [("alice", "wrong"), ("mallory", "builder"), ("bob", "")]
)
def test_wrong_credentials_are_refused(broker: Broker, user: str, password: str) -> None:
    """A wrong password, an unknown user or an empty password gets a failing CONNACK."""
    client = Client(user, password)
    try:
        code = client.connect(broker.host, broker.port)
    finally:
        client.close()
    assert code.is_failure
    assert code.getName() in {"Not authorized", "Bad user name or password"}


def test_url_quotes_the_credentials(broker: Broker) -> None:
    """The URL carries user and password percent-encoded, with the broker's port."""
    assert broker.url("alice") == f"mqtt://alice:wonder%3Aland%2F1@127.0.0.1:{broker.port}"
    with pytest.raises(ValueError, match="no TLS listener"):
        broker.url("alice", tls=True)


@pytest.mark.parametrize("persistence", [True, False])
def test_restart_same_port_and_retained_messages(persistence: bool) -> None:
    """``restart`` comes back on the same port; retained messages survive with persistence."""
    with Broker(USERS, persistence=persistence) as broker:
        with connected(broker, "bob") as bob:
            bob.publish("qiot_enviro/board/status", b"online", retain=True)
        port, pid = broker.port, broker.pid
        broker.restart()
        assert broker.port == port
        assert broker.pid not in {None, pid}
        with connected(broker, "alice") as alice:
            alice.subscribe("qiot_enviro/board/status")
            message = alice.next_message(timeout=1.0 if not persistence else TIMEOUT)
    if persistence:
        assert message is not None
        assert (message.payload, message.retain) == (b"online", True)
    else:
        assert message is None


def test_acl_confines_each_user_to_its_topics() -> None:
    """With ``pattern readwrite qiot_enviro/%u/#`` a user neither reads nor writes another's."""
    acl = "user alice\ntopic read qiot_enviro/#\n\npattern readwrite qiot_enviro/%u/#\n"
    with (
        Broker(USERS, acl=acl) as broker,
        connected(broker, "alice") as alice,
        connected(broker, "bob") as bob,
    ):
        alice.subscribe("qiot_enviro/#")
        bob.subscribe("qiot_enviro/#")
        # Mosquitto acknowledges a denied publish and drops it.
        bob.publish("qiot_enviro/alice/cmd", b"denied")
        bob.publish("qiot_enviro/bob/state", b"allowed")
        seen_by_alice = alice.next_message()
        seen_by_bob = bob.next_message()
        nothing_more = alice.next_message(timeout=0.5)
    assert broker.acl_path is not None
    assert seen_by_alice is not None
    assert (seen_by_alice.topic, seen_by_alice.payload) == ("qiot_enviro/bob/state", b"allowed")
    assert seen_by_bob is not None
    assert seen_by_bob.topic == "qiot_enviro/bob/state"
    assert nothing_more is None


def test_tls_listener() -> None:
    """The TLS listener serves a certificate for 127.0.0.1 that the broker's CA verifies."""
    with Broker(USERS, tls=True) as broker:
        assert broker.tls is not None
        assert broker.tls_port is not None
        assert broker.tls_port != broker.port
        assert broker.url("bob", tls=True) == f"mqtts://bob:builder@127.0.0.1:{broker.tls_port}"
        client = Client("alice", USERS["alice"])
        client.paho.tls_set(ca_certs=str(broker.tls.ca))
        try:
            code = client.connect(broker.host, broker.tls_port)
            assert not code.is_failure, str(code)
            client.subscribe("qiot_enviro/#")
            client.publish("qiot_enviro/board/state", b"over tls")
            message = client.next_message()
        finally:
            client.close()
        # A client that does not trust the CA is turned away at the handshake.
        stranger = mqtt.Client(CallbackAPIVersion.VERSION2)
        stranger.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        with pytest.raises(ssl.SSLError):
            stranger.connect(broker.host, broker.tls_port)
    assert message is not None
    assert message.payload == b"over tls"


def test_stop_by_pid_and_close() -> None:
    """``stop`` ends the broker's process and frees its port; ``close`` removes its files."""
    broker = Broker(USERS)
    broker.start()
    pid = broker.pid
    assert pid is not None
    folder = broker.folder
    assert (folder / "mosquitto.conf").is_file()
    broker.stop()
    assert broker.pid is None
    client = Client("alice", USERS["alice"])
    with pytest.raises(ConnectionRefusedError):
        client.paho.connect(broker.host, broker.port)
    broker.close()
    assert not folder.exists()


def test_start_failure_reports_the_log() -> None:
    """A configuration mosquitto rejects fails at start with what mosquitto said."""
    broker = Broker(USERS)
    try:
        broker.config.write_text(broker.config.read_text() + "no_such_option 1\n")
        with pytest.raises(RuntimeError, match="mosquitto exited at start"):
            broker.start()
        assert "no_such_option" in broker.log()
    finally:
        broker.close()
