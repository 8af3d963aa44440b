"""A fleet on a real Mosquitto, with hostile publishers and misbehaving agents.

Home Assistant runs its real MQTT integration (its own paho client) against a broker of
tests/broker.py; the boards are agents run as users run them (processes, simulated
Enviro+ or Enviro, from a TOML config file). Every test ends with the fleet healthy:
each board's entities update again, and nothing a user would miss is lost.
"""

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import pytest_socket
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from paho.mqtt.enums import CallbackAPIVersion
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.qiot_enviro.agent import wire
from custom_components.qiot_enviro.const import (
    BOARD_REMOTE,
    CONF_BOARD,
    CONF_BOARD_ID,
    CONF_LEGACY_NOTIFY_NAME,
    DOMAIN,
)
from custom_components.qiot_enviro.enviro.models import SensorGroup, Variant
from custom_components.qiot_enviro.remote import RemoteCoordinator
from tests.broker import Broker
from tests.fleet import AgentProcess, async_setup_real_mqtt, other_host_names

TARGET = "fleet-target"  # the board the hostile publishers aim at
BYSTANDER = "fleet-bystander"  # another board on the same broker
CYCLE = 0.5
USERS = {"homeassistant": "ha-pw", "agent": "agent-pw", "intruder": "intruder-pw"}
# Values no simulated board reports: a forged message carries them.
MARK_PRESSURE = 1111.1
MARK_LUX = 123456.0


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """Mosquitto without an ACL: any user may publish on any board's topics."""
    pytest_socket.enable_socket()  # before the function-scoped socket_enabled runs
    with Broker(USERS) as running:
        yield running


@pytest.fixture(scope="module")
def agents(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the two boards' agents for the whole module."""
    folder = tmp_path_factory.mktemp("agents")
    running = []
    for board_id in (TARGET, BYSTANDER):
        agent = AgentProcess(folder, board_id)
        agent.write_config(broker, "agent", simulated="enviro_plus", board_id=board_id, cycle=CYCLE)
        agent.start("--simulated-frame-interval", "0.05", "--birth-delay", "0.2")
        running.append(agent)
    try:
        yield
    finally:
        codes = [agent.stop() for agent in running]  # every one stopped before any assert
    for agent, code in zip(running, codes, strict=True):
        assert code == 0, agent.output()[-3000:]
        assert "Traceback" not in agent.output()


@pytest.fixture
def hass_config_dir(tmp_path: Path) -> str:
    """Return a configuration folder with an empty configuration.yaml (MQTT reads it)."""
    (tmp_path / "configuration.yaml").write_text("", encoding="utf-8")
    return str(tmp_path)


@pytest.fixture
def expected_lingering_timers() -> bool:
    """Home Assistant's MQTT client leaves its one-second misc timer behind."""
    return True


async def until(predicate: Callable[[], object], seconds: float = 20.0) -> None:
    """Wait on the event loop until ``predicate()`` holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def remote_entry(board_id: str) -> MockConfigEntry:
    """Return the config entry of a remote board."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Enviro+ (simulated) on {board_id}",
        data={CONF_BOARD: BOARD_REMOTE, CONF_BOARD_ID: board_id, CONF_LEGACY_NOTIFY_NAME: ""},
        unique_id=board_id,
        version=1,
        minor_version=2,
    )


@dataclass
class Watched:
    """One board in Home Assistant: its entry, and every update its entities saw."""

    entry: MockConfigEntry
    entity_ids: set[str] = field(default_factory=set)
    by_key: dict[str, str] = field(default_factory=dict)
    changes: list[tuple[str, str]] = field(default_factory=list)
    pressures: list[float] = field(default_factory=list)

    @property
    def coordinator(self) -> RemoteCoordinator:
        """Return the board's coordinator."""
        coordinator = self.entry.runtime_data
        assert isinstance(coordinator, RemoteCoordinator)
        return coordinator

    def entity(self, key: str) -> str:
        """Return the entity id of one of the board's entities, by its description key."""
        return self.by_key[key]

    def updates(self) -> int:
        """Return how many states the coordinator has used so far."""
        return len(self.pressures)


class Fleet:
    """Home Assistant with both boards set up, recording what their entities show."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start empty."""
        self.hass = hass
        self.boards: dict[str, Watched] = {}

    async def add(self, board_id: str) -> Watched:
        """Set a board up and record its updates."""
        entry = remote_entry(board_id)
        entry.add_to_hass(self.hass)
        assert await self.hass.config_entries.async_setup(entry.entry_id)
        await self.hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        watched = Watched(entry)
        registry = er.async_get(self.hass)
        entities = er.async_entries_for_config_entry(registry, entry.entry_id)
        watched.entity_ids = {item.entity_id for item in entities}
        watched.by_key = {
            item.unique_id.removeprefix(f"{board_id}_"): item.entity_id for item in entities
        }
        self.boards[board_id] = watched
        self._follow(watched)
        return watched

    def _follow(self, watched: Watched) -> None:
        coordinator = watched.coordinator

        @callback
        def updated() -> None:
            data = coordinator.data
            if data is not None and data.snapshot.climate and data.snapshot.climate.value:
                watched.pressures.append(data.snapshot.climate.value.pressure)

        watched.entry.async_on_unload(coordinator.async_add_listener(updated))

    @callback
    def state_changed(self, event: Event[EventStateChangedData]) -> None:
        """Record each entity state of a watched board."""
        new = event.data["new_state"]
        if new is None:
            return
        for watched in self.boards.values():
            if new.entity_id in watched.entity_ids:
                watched.changes.append((new.entity_id, new.state))

    async def healthy(self, seconds: float = 20.0) -> None:
        """Wait until every board has used two more states; its entities are available."""
        counts = {board_id: watched.updates() for board_id, watched in self.boards.items()}
        await until(
            lambda: all(w.updates() >= counts[b] + 2 for b, w in self.boards.items()), seconds
        )
        for watched in self.boards.values():
            assert watched.coordinator.last_update_success
            state = self.hass.states.get(watched.entity("temperature"))
            assert state is not None
            assert state.state != STATE_UNAVAILABLE


@pytest.fixture
async def fleet(
    hass: HomeAssistant, broker: Broker, agents: None, socket_enabled: None
) -> AsyncIterator[Fleet]:
    """Home Assistant's MQTT on the broker, both boards set up and updating."""
    await async_setup_real_mqtt(hass, broker, "homeassistant")
    fleet = Fleet(hass)
    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, fleet.state_changed)
    for board_id in (TARGET, BYSTANDER):
        await fleet.add(board_id)
    await fleet.healthy()
    yield fleet
    unsubscribe()
    for watched in fleet.boards.values():
        if watched.entry.state.recoverable:
            await hass.config_entries.async_unload(watched.entry.entry_id)
    await hass.async_block_till_done()


class Publisher:
    """Any client on the broker: publishes whatever it likes on whichever topic."""

    def __init__(self, broker: Broker, user: str = "intruder") -> None:
        """Connect."""
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.username_pw_set(user, broker.users[user])
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert connected.wait(10)

    def publish(self, topic: str, payloads: list[bytes], *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait until the broker has every message."""
        infos = [self.client.publish(topic, payload, qos=1, retain=retain) for payload in payloads]
        for info in infos:
            info.wait_for_publish(60)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def intruder(broker: Broker) -> Iterator[Publisher]:
    """Return a hostile client on the broker."""
    publisher = Publisher(broker)
    yield publisher
    publisher.close()


class LoopLag:
    """Measures how late a 50 ms timer of Home Assistant's event loop fires."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start ticking."""
        self.hass = hass
        self.worst = 0.0
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if self._due:
            self.worst = max(self.worst, now - self._due)
        self._due = now + 0.05
        self._handle = self.hass.loop.call_later(0.05, self._tick)

    def stop(self) -> None:
        """Stop ticking."""
        if self._handle is not None:
            self._handle.cancel()


def forged_state(fleet: Fleet) -> dict[str, Any]:
    """Return the target's newest state as JSON, in its agent's name, with the markers."""
    coordinator = fleet.boards[TARGET].coordinator
    assert coordinator.data is not None
    assert coordinator.announcement is not None
    payload: dict[str, Any] = json.loads(
        wire.encode_state(
            10**9,
            coordinator.data.snapshot,
            coordinator.remote_health,
            backlight=True,
            instance=coordinator.announcement.instance,
        )
    )
    payload["groups"]["climate"]["value"]["pressure"] = MARK_PRESSURE
    payload["groups"]["light"]["value"]["lux"] = MARK_LUX
    return payload


def dumped(payload: dict[str, Any], **replace: str) -> bytes:
    """Return JSON text with some ``"key": value`` texts replaced (NaN is not JSON)."""
    text = json.dumps(payload)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def malformed(fleet: Fleet) -> list[bytes]:
    """Return truncated JSON."""
    return [dumped(forged_state(fleet))[:200]] * 5


def wrong_types(fleet: Fleet) -> list[bytes]:
    """Return states with a reading as a string."""
    payload = forged_state(fleet)
    payload["groups"]["climate"]["value"]["pressure"] = str(MARK_PRESSURE)
    return [json.dumps(payload).encode()] * 5


def nan(fleet: Fleet) -> list[bytes]:
    """Return states with NaN, which Python's json reads and writes but JSON does not allow."""
    return [dumped(forged_state(fleet), **{str(MARK_PRESSURE): "NaN"})] * 5


def infinity(fleet: Fleet) -> list[bytes]:
    """Return states with Infinity."""
    return [dumped(forged_state(fleet), **{str(MARK_PRESSURE): "Infinity"})] * 5


def minus_infinity(fleet: Fleet) -> list[bytes]:
    """Return states with -Infinity."""
    return [dumped(forged_state(fleet), **{str(MARK_PRESSURE): "-Infinity"})] * 5


def huge(fleet: Fleet) -> list[bytes]:
    """Return 5 MB states: valid JSON, with a long string in it."""
    payload = forged_state(fleet)
    payload["padding"] = "x" * 5_000_000
    return [json.dumps(payload).encode()] * 2


def schema_major(fleet: Fleet) -> list[bytes]:
    """Return states of a major version this side does not speak (a repair, until a good one)."""
    payload = forged_state(fleet)
    payload["schema"] = "2.0"
    return [json.dumps(payload).encode()] * 5


def schema_minor(fleet: Fleet) -> list[bytes]:
    """Return states of a newer minor version (new fields are ignored) that lack a kept field."""
    payload = forged_state(fleet)
    payload["schema"] = f"{wire.SCHEMA_MAJOR}.{wire.SCHEMA_MINOR + 97}"
    payload["readings"] = payload.pop("groups")
    return [json.dumps(payload).encode()] * 5


def flood(fleet: Fleet) -> list[bytes]:
    """Return 5,000 states in the agent's name, seq far ahead (as if many cycles passed)."""
    payload = forged_state(fleet)
    return [json.dumps(dict(payload, seq=10**9 + n)).encode() for n in range(5000)]


# What each hostile publication is, and the dropped-message warning it causes (once).
BAD_STATES: dict[str, tuple[Callable[[Fleet], list[bytes]], str]] = {
    "malformed": (malformed, "not JSON"),
    "wrong_types": (wrong_types, "pressure must be a number"),
    "nan": (nan, "NaN is not a number JSON allows"),
    "infinity": (infinity, ": Infinity is not a number JSON allows"),
    "minus_infinity": (minus_infinity, "-Infinity is not a number JSON allows"),
    "huge": (huge, "is over the limit of"),
    "schema_major": (schema_major, "unsupported schema version '2.0'"),
    "schema_minor": (schema_minor, "groups must be an object"),
    "flood": (flood, "further ahead of"),
}


async def forged_received(hass: HomeAssistant) -> list[int]:
    """Count the forged states (seq 10**9 and up) Home Assistant's MQTT client receives."""
    from homeassistant.components import mqtt

    received: list[int] = []

    @callback
    def message(msg: Any) -> None:
        if msg.topic.endswith("/state") and b'"seq": 100000' in msg.payload:
            received.append(len(msg.payload))

    # The board's own filter: one subscription at the broker, each message once.
    unsubscribe = await mqtt.async_subscribe(
        hass, f"{wire.TOPIC_ROOT}/{TARGET}/+", message, qos=1, encoding=None
    )
    hass.data.setdefault("qiot_test_unsubscribe", []).append(unsubscribe)
    return received


def dropped_warnings(caplog: pytest.LogCaptureFixture, board_id: str) -> list[str]:
    """Return the dropped-message warnings about one board."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and record.getMessage().startswith(f"Dropped a message of board {board_id}:")
    ]


def issues(hass: HomeAssistant) -> set[str]:
    """Return the ids of this integration's repairs, without their entry prefix."""
    return {
        issue_id.split("_", 1)[1]
        for domain, issue_id in ir.async_get(hass).issues
        if domain == DOMAIN
    }


@pytest.mark.parametrize("case", sorted(BAD_STATES))
async def test_bad_states_change_nothing(
    hass: HomeAssistant,
    fleet: Fleet,
    intruder: Publisher,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    """Any client publishes bad states for a board: logged once, used never, HA responsive.

    A schema major version this side does not speak raises its repair (a newer agent
    would need it); the board's next good state clears it.
    """
    caplog.set_level(logging.INFO)  # MQTT's debug line per message would be the load
    make, cause = BAD_STATES[case]
    payloads = make(fleet)
    target = fleet.boards[TARGET]
    dropped = target.coordinator.dropped
    received = await forged_received(hass)
    lag = LoopLag(hass)
    started = time.monotonic()
    await hass.async_add_executor_job(intruder.publish, wire.topic(TARGET, wire.STATE), payloads)
    # Until no more arrive: Mosquitto drops what a subscriber's queue cannot hold (its
    # max_queued_messages, 1000 by default), so a flood reaches Home Assistant in part.
    count = -1
    while count != len(received):
        count = len(received)
        await asyncio.sleep(1.0)
    elapsed = time.monotonic() - started - 1.0
    await fleet.healthy()
    lag.stop()
    assert received
    assert target.coordinator.dropped - dropped == len(received)  # each one dropped
    warnings = dropped_warnings(caplog, TARGET)
    assert len(warnings) == 1, warnings
    assert cause in warnings[0]
    assert dropped_warnings(caplog, BYSTANDER) == []
    assert MARK_PRESSURE not in target.pressures
    assert not [c for c in target.changes if c[1] in (str(MARK_PRESSURE), str(MARK_LUX))]
    assert lag.worst < 0.5, f"a 50 ms timer fired {lag.worst:.3f} s late"
    assert issues(hass) == set()
    logging.getLogger(__name__).info(
        "%s: %d of %d messages reached Home Assistant in %.1f s; worst timer lag %.3f s",
        case,
        len(received),
        len(payloads),
        elapsed,
        lag.worst,
    )


def retained_announcement(broker: Broker, board_id: str) -> wire.Announcement:
    """Return the announcement a new subscriber finds retained for a board."""
    received: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set("homeassistant", USERS["homeassistant"])
    client.on_message = lambda _c, _u, message: received.append(bytes(message.payload))
    client.connect(broker.host, broker.port)
    client.subscribe(wire.topic(board_id, wire.ANNOUNCE), 1)
    client.loop_start()
    try:
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.disconnect()
        client.loop_stop()
    return wire.decode_announcement(received[0])


@pytest.mark.parametrize("instance", ["feedfacefeedface", ""], ids=["instance", "no_instance"])
async def test_announcement_with_another_identity(
    hass: HomeAssistant,
    broker: Broker,
    fleet: Fleet,
    intruder: Publisher,
    instance: str,
    *,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A retained announcement claims the board: another host, an Enviro (no gas, no PM).

    No state follows it, so Home Assistant keeps the board as it is (no reload, the
    particulate entities stay); the agent sees it on its own topic and announces again,
    so the broker holds the real announcement once more.
    """
    target = fleet.boards[TARGET]
    coordinator = target.coordinator
    real = coordinator.announcement
    assert real is not None
    assert real.instance
    other = wire.encode_announcement(
        TARGET,
        replace(real.detection, variant=Variant.ENVIRO),
        agent_version="6.6.6",
        cycle=1.0,
        hostname="intruder-pi",
        instance=instance,
    )
    assert wire.decode_announcement(other).detection.groups != real.detection.groups
    await hass.async_add_executor_job(
        partial(intruder.publish, wire.topic(TARGET, wire.ANNOUNCE), [other], retain=True)
    )
    await fleet.healthy()
    assert target.entry.runtime_data is coordinator  # not reloaded
    assert coordinator.announcement == real  # the agent may announce again (HA birth)
    pm = hass.states.get(target.entity("pm10"))
    assert pm is not None
    assert pm.state != STATE_UNAVAILABLE
    deadline = time.monotonic() + 15
    while (
        await hass.async_add_executor_job(retained_announcement, broker, TARGET)
    ).instance != real.instance:
        assert time.monotonic() < deadline, "the agent did not announce again"
        await asyncio.sleep(0.5)
    assert dropped_warnings(caplog, TARGET) == []
    assert issues(hass) == set()


# -- agents that misbehave -------------------------------------------------------------


@pytest.fixture
def agent_folder(tmp_path: Path) -> Path:
    """Where this test's own agents keep their config, state and log files."""
    folder = tmp_path / "agents"
    folder.mkdir()
    return folder


async def test_agent_restarts_with_another_config_file(
    hass: HomeAssistant,
    broker: Broker,
    fleet: Fleet,
    agent_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An Enviro+ agent comes back as an Enviro with a slower cycle (same Pi, same state file).

    Home Assistant follows the new instance: after RESTART_CONFIRM without the old one
    it reloads the entry, whose entities are then those of an Enviro, and the new cycle
    sets when the board counts as silent. No repair: one agent, restarted.
    """
    caplog.set_level(logging.INFO)
    board_id = "fleet-restart"
    agent = AgentProcess(agent_folder, board_id)
    agent.write_config(broker, "agent", simulated="enviro_plus", board_id=board_id, cycle=CYCLE)
    agent.start("--simulated-frame-interval", "0.05", "--birth-delay", "0.2")
    try:
        await until(lambda: "Connected to" in agent.output())
        board = await fleet.add(board_id)
        await fleet.healthy()
        before = board.coordinator
        assert before.detection is not None
        assert SensorGroup.PARTICULATES in before.detection.groups

        assert agent.stop() == 0
        agent.write_config(broker, "agent", simulated="enviro", board_id=board_id, cycle=2.0)
        restarted = time.monotonic()
        agent.start("--birth-delay", "0.2")
        await until(
            lambda: (
                board.entry.state is ConfigEntryState.LOADED
                and getattr(board.entry, "runtime_data", before) is not before
            ),
            seconds=30,
        )
        now = board.coordinator
        await until(lambda: now.data is not None and now.last_update_success, seconds=30)
        seen = time.monotonic() - restarted
        assert now.announcement is not None
        assert now.announcement.cycle == 2.0
        assert now.detection is not None
        assert SensorGroup.PARTICULATES not in now.detection.groups
        assert SensorGroup.GAS not in now.detection.groups
        board.pressures.clear()
        board.coordinator.async_add_listener(lambda: board.pressures.append(0.0))
        await until(lambda: len(board.pressures) >= 2, seconds=15)
        assert issues(hass) == set()
        logging.getLogger(__name__).info(
            "restart with another config: %.1f s from the agent's start to the new entities",
            seen,
        )
    finally:
        agent.stop()
    assert "Traceback" not in agent.output()
    assert "Another agent" not in agent.output()


async def test_two_agents_with_one_board_id(
    hass: HomeAssistant,
    broker: Broker,
    fleet: Fleet,
    agent_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A second agent starts with a board id in use, on another host (a UTS namespace).

    Mosquitto closes the older connection whenever one connects with the same client
    id (the other one's last will, "offline", is published each time); paho reconnects
    after a second, so the two take turns. Home Assistant raises a repair naming the
    board and both hosts, and ignores the "offline" of the turns; both agents log an
    error. Once the second agent stops, the repair clears by itself.
    """
    caplog.set_level(logging.INFO)
    board_id = "fleet-twin"
    hostnames = ("twin-a", "twin-b") if other_host_names() else (None, None)
    first, second = (AgentProcess(agent_folder, name) for name in ("first", "second"))
    for agent in (first, second):
        agent.write_config(broker, "agent", simulated="enviro_plus", board_id=board_id, cycle=1.0)
    first.start("--birth-delay", "0.2", hostname=hostnames[0])
    try:
        await until(lambda: "Connected to" in first.output())
        board = await fleet.add(board_id)
        await fleet.healthy()
        issue_id = f"{board.entry.entry_id}_duplicate_board_id"
        registry = ir.async_get(hass)

        started = time.monotonic()
        second.start("--birth-delay", "0.2", hostname=hostnames[1])
        await until(lambda: registry.async_get_issue(DOMAIN, issue_id) is not None, seconds=30)
        detected = time.monotonic() - started
        issue = registry.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "duplicate_board_id"
        assert issue.severity is ir.IssueSeverity.ERROR
        placeholders = issue.translation_placeholders or {}
        assert placeholders["board"] == board_id
        names = {placeholders["host"], placeholders["other_host"]}
        assert names == {hostnames[0] or socket.gethostname(), hostnames[1] or socket.gethostname()}
        await until(
            lambda: all("Another agent uses board id" in a.output() for a in (first, second)),
            seconds=20,
        )
        # The turns go on; the bystanders keep updating, and the board stays available.
        await asyncio.sleep(2.0)
        assert board.coordinator.last_update_success
        await fleet.healthy()

        assert second.stop() == 0
        stopped = time.monotonic()
        await until(lambda: registry.async_get_issue(DOMAIN, issue_id) is None, seconds=60)
        cleared = time.monotonic() - stopped
        await fleet.healthy()
    finally:
        first.stop()
        second.stop()
    for agent in (first, second):
        output = agent.output()
        assert output.count("Another agent uses board id") == 1, output[-3000:]
        assert "Traceback" not in output
    warnings = [r.getMessage() for r in caplog.records if "two agents publish" in r.getMessage()]
    assert len(warnings) == 1
    offline = [
        r.getMessage() for r in caplog.records if f"{board_id} is unavailable" in r.getMessage()
    ]
    logging.getLogger(__name__).info(
        "two agents: repair %.1f s after the second agent's start, cleared %.1f s after it "
        "stopped; %d unavailable warnings before the repair",
        detected,
        cleared,
        len(offline),
    )
    assert len(offline) <= 3
