"""A board on another Pi, through Home Assistant's MQTT integration.

The agent's side of the wire is played with the board side's own encoder and a cycle
read off the emulated board; Home Assistant's MQTT client is the harness's (a paho
client without a broker). The real broker and the agent as a process are proven in
tests/agent and the end-to-end check.
"""

import asyncio
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.mqtt import util as mqtt_util
from homeassistant.config_entries import SOURCE_MQTT, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockMqttReasonCode,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, MqttMockPahoClient

from custom_components.qiot_enviro.agent import wire
from custom_components.qiot_enviro.const import (
    BOARD_REMOTE,
    CONF_BOARD,
    CONF_BOARD_ID,
    CONF_LEGACY_NOTIFY_NAME,
    DOMAIN,
)
from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import create_simulated
from custom_components.qiot_enviro.enviro.models import GroupResult, Variant
from custom_components.qiot_enviro.remote import (
    MAX_INSTANCES,
    MISSED_CYCLES,
    RESTART_CONFIRM,
    RemoteCoordinator,
)

BOARD_ID = "10000000cafe0001"
CYCLE = 10.0
# Agent instances (schema 1.2): two agent processes, or one agent before and after a restart.
KITCHEN = "kitchen1234abcd"
GARAGE = "garage5678efgh"


@pytest.fixture(scope="module")
def cycle() -> tuple[Any, Any, Any]:
    """Read one real cycle (detection, snapshot, health) off the emulated Enviro+."""
    sim = create_simulated(Variant.ENVIRO_PLUS, seed=4, frame_interval=0.03, power_up_delay=0.03)
    board = Board(sim.provider, particulate_warmup=0.0, particulate_read_timeout=0.5)
    detection = board.open()
    try:
        for _ in range(100):
            snapshot = board.read()
            if snapshot.particulates is not None and snapshot.particulates.ok:
                break
        return replace(detection, identity=BOARD_ID), snapshot, board.health()
    finally:
        board.close()


class Agent:
    """What a board's agent publishes, as the wire format says."""

    def __init__(
        self,
        hass: HomeAssistant,
        cycle: tuple[Any, Any, Any],
        *,
        instance: str = "",
        hostname: str = "kitchen-pi",
    ) -> None:
        """Hold the cycle it reports, as one agent process (instance "": schema < 1.2)."""
        self.hass = hass
        self.detection, self.snapshot, self.health = cycle
        self.instance = instance
        self.hostname = hostname
        self.seq = 0
        self.last_state = b""

    def topic(self, kind: str) -> str:
        """Return one of the board's topics."""
        return wire.topic(BOARD_ID, kind)

    def send(self, kind: str, payload: bytes | str) -> None:
        """Publish a message on one of the board's topics."""
        async_fire_mqtt_message(self.hass, self.topic(kind), payload)

    def announce(self, detection: Any = None) -> None:
        """Publish the announcement."""
        self.send(
            wire.ANNOUNCE,
            wire.encode_announcement(
                BOARD_ID,
                detection or self.detection,
                agent_version="0.3.0",
                cycle=CYCLE,
                hostname=self.hostname,
                instance=self.instance,
            ),
        )

    def status(self, online: bool) -> None:
        """Publish the status (or, with False, what the last will says)."""
        self.send(wire.STATUS, wire.ONLINE if online else wire.OFFLINE)

    def state(self, snapshot: Any = None, *, backlight: bool | None = True) -> None:
        """Publish one cycle's state."""
        self.seq += 1
        self.last_state = wire.encode_state(
            self.seq,
            snapshot or self.snapshot,
            self.health,
            backlight=backlight,
            instance=self.instance,
        )
        self.send(wire.STATE, self.last_state)

    def hello(self) -> None:
        """Publish what a connecting agent does: status, announcement, state."""
        self.status(True)
        self.announce()
        self.state()

    def retained(self) -> None:
        """Publish again what the broker keeps (it sends it to a client that resubscribes)."""
        self.status(True)
        self.announce()
        self.send(wire.STATE, self.last_state)


def remote_entry(options: dict[str, Any] | None = None) -> MockConfigEntry:
    """Return the config entry of the remote board."""
    return MockConfigEntry(
        options=options or {},
        domain=DOMAIN,
        title="Enviro+ (simulated) on kitchen-pi",
        data={
            CONF_BOARD: BOARD_REMOTE,
            CONF_BOARD_ID: BOARD_ID,
            CONF_LEGACY_NOTIFY_NAME: "qiot_lcd",
        },
        unique_id=BOARD_ID,
        version=1,
        minor_version=2,
    )


async def async_setup_remote(
    hass: HomeAssistant, agent: Agent, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """Add the remote entry and let the agent's retained messages reach it."""
    entry = remote_entry(options)
    entry.add_to_hass(hass)
    task = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    # Retained messages arrive whenever the subscription is made; no timers here, as
    # a test's frozen clock stops them.
    for step in range(2000):
        await asyncio.sleep(0)
        if task.done():
            break
        if step % 20 == 0:
            agent.hello()
    await task
    await hass.async_block_till_done()
    return entry


@pytest.fixture
def expected_lingering_timers() -> bool:
    """Home Assistant's MQTT client leaves its one-second misc timer behind in the harness.

    Timers of ours are HassJobs cancelled on shutdown, which the harness checks anyway.
    """
    return True


@pytest.fixture
def agent(hass: HomeAssistant, cycle: tuple[Any, Any, Any]) -> Agent:
    """Return the agent's side of the wire."""
    return Agent(hass, cycle)


@pytest.fixture
async def remote(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, agent: Agent) -> MockConfigEntry:
    """Set the remote board up."""
    entry = await async_setup_remote(hass, agent)
    assert entry.state is ConfigEntryState.LOADED
    return entry


def _published(mqtt_mock: MqttMockHAClient, kind: str) -> list[Any]:
    """Return the payloads Home Assistant published on one of the board's topics."""
    topic = wire.topic(BOARD_ID, kind)
    return [
        call.args[1] for call in mqtt_mock.async_publish.call_args_list if call.args[0] == topic
    ]


# -- discovery and the config flow ----------------------------------------------------


async def test_announced_board_is_discovered_and_added_with_one_click(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, agent: Agent
) -> None:
    """The announcement starts a discovery flow; confirming it adds the board."""
    flows: list[Any] = []
    for _ in range(100):  # retained on a broker: it reaches the discovery subscription
        agent.announce()
        await asyncio.sleep(0.02)
        if flows := hass.config_entries.flow.async_progress_by_handler(DOMAIN):
            break
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == SOURCE_MQTT
    assert flows[0]["context"]["title_placeholders"] == {
        "name": "Enviro+ (simulated) on kitchen-pi"
    }

    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == BOARD_ID
    assert result["data"][CONF_BOARD] == BOARD_REMOTE
    assert result["data"][CONF_BOARD_ID] == BOARD_ID


async def _discovery(hass: HomeAssistant, board_id: str, payload: bytes) -> Any:
    """Run the discovery flow of one announcement as the MQTT integration starts it."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_MQTT},
        data=MqttServiceInfo(
            topic=wire.topic(board_id, wire.ANNOUNCE),
            payload=payload,
            qos=1,
            retain=True,
            subscribed_topic=wire.ANNOUNCE_FILTER,
            timestamp=0.0,
        ),
    )
    await hass.async_block_till_done()
    return result


@pytest.mark.parametrize(
    "payload",
    [b"", b"{not json", b"x" * (wire.MAX_JSON_BYTES + 1), json.dumps({"schema": "1.0"}).encode()],
    ids=["empty", "malformed", "huge", "fields_missing"],
)
async def test_invalid_announcement_is_not_offered(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, payload: bytes
) -> None:
    """A malformed announcement aborts its discovery flow."""
    result = await _discovery(hass, BOARD_ID, payload)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"


async def test_announcement_under_another_boards_topic_is_refused(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, agent: Agent
) -> None:
    """A board cannot be announced on another board's topic."""
    payload = wire.encode_announcement(
        BOARD_ID, agent.detection, agent_version="0.3.0", cycle=CYCLE
    )
    result = await _discovery(hass, "someoneelse", payload)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"


async def test_configured_board_is_not_offered_again(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """Once added, its announcements start no flow."""
    agent.announce(
        replace(agent.detection, particulate_frames=not agent.detection.particulate_frames)
    )
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_user_step_lists_announced_boards(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, agent: Agent
) -> None:
    """Choosing "a board on another Pi" lists what announces itself, and adds the choice."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    agent.announce()  # retained on the broker: it arrives while the step listens
    task = hass.async_create_task(
        hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_BOARD: BOARD_REMOTE, "uart_path": "/dev/ttyAMA0"}
        )
    )
    for _ in range(30):
        await asyncio.sleep(0.05)
        agent.announce()
    result = await task
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "remote"
    options = result["data_schema"].schema[CONF_BOARD_ID].config["options"]
    assert [option["value"] for option in options] == [BOARD_ID]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD_ID: BOARD_ID}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Enviro+ (simulated) on kitchen-pi"


async def test_user_step_without_announced_boards(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """With MQTT but no agent, the form says to start one."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_REMOTE, "uart_path": "/dev/ttyAMA0"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_remote_boards"}


async def test_user_step_without_mqtt(hass: HomeAssistant) -> None:
    """Without the MQTT integration, the form says to set it up first."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BOARD: BOARD_REMOTE, "uart_path": "/dev/ttyAMA0"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "mqtt_not_set_up"}


async def test_remote_board_is_not_reconfigured(
    hass: HomeAssistant, remote: MockConfigEntry
) -> None:
    """Reconfigure says that the agent's config file holds a remote board's settings."""
    result = await remote.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "remote_not_reconfigurable"


# -- setup ----------------------------------------------------------------------------


async def test_remote_board_has_the_local_boards_entities(
    hass: HomeAssistant, remote: MockConfigEntry, entity_registry: er.EntityRegistry, agent: Agent
) -> None:
    """Same unique ids as a local board, numeric values, derived values included."""
    entities = er.async_entries_for_config_entry(entity_registry, remote.entry_id)
    unique_ids = {entity.unique_id for entity in entities}
    for key in ("temperature", "humidity", "pressure", "pm25", "oxidising", "aqi"):
        assert f"{BOARD_ID}_{key}" in unique_ids, key
    temperature = next(e for e in entities if e.unique_id == f"{BOARD_ID}_temperature")
    state = hass.states.get(temperature.entity_id)
    assert state is not None
    raw = agent.snapshot.climate.value.temperature
    # Compensated for the CPU's heat, as for a local board.
    assert float(state.state) < raw
    assert {e.domain for e in entities} >= {"notify", "switch", "image", "event", "button"}


async def test_no_mqtt_means_retry(hass: HomeAssistant) -> None:
    """Without MQTT a remote board's setup is retried (local boards are unaffected)."""
    entry = remote_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_silent_agent_means_retry(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A board that never announces itself is retried, not added half-known."""
    monkeypatch.setattr("custom_components.qiot_enviro.remote.ANNOUNCE_TIMEOUT", 0.2)
    entry = remote_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_offline_agent_at_start_means_retry(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, agent: Agent
) -> None:
    """The last will says offline: setup waits for the agent instead of stale values."""
    entry = remote_entry()
    entry.add_to_hass(hass)
    task = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if task.done():
            break
        agent.announce()
        agent.status(False)
    await task
    assert entry.state is ConfigEntryState.SETUP_RETRY


# -- availability ---------------------------------------------------------------------


def _temperature_id(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{BOARD_ID}_temperature")
    assert entity_id is not None
    return entity_id


async def test_offline_and_back(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    """The last will makes every entity unavailable; the agent's return brings them back."""
    sensor = _temperature_id(hass, remote)
    agent.status(False)
    agent.status(False)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_UNAVAILABLE
    assert all(
        state.state == STATE_UNAVAILABLE
        for state in hass.states.async_all()
        if state.entity_id.startswith(("sensor.", "switch.", "notify.", "image."))
        and state.attributes.get("friendly_name", "").startswith("Enviro")
        and "fault" not in state.entity_id
    )
    agent.hello()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE
    assert caplog.text.count("is unavailable: offline") == 1
    assert caplog.text.count(f"Board {BOARD_ID} is back") == 1


async def test_silence_for_three_cycles(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, remote: MockConfigEntry, agent: Agent
) -> None:
    """No state for three cycles (a network gone, no last will yet): unavailable."""
    sensor = _temperature_id(hass, remote)
    freezer.tick(timedelta(seconds=2 * CYCLE))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE
    freezer.tick(timedelta(seconds=CYCLE + 10))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_UNAVAILABLE
    agent.state()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE


async def _refused_message(hass: HomeAssistant, entry: MockConfigEntry) -> str | None:
    """Show a message on the board; return the translation key of the error it raises."""
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "show_message",
            {"config_entry_id": entry.entry_id, "message": "anyone?"},
            blocking=True,
        )
    return err.value.translation_key


def _board_unavailable(hass: HomeAssistant) -> bool:
    """Tell whether every entity of the board that follows its agent is unavailable."""
    return all(
        state.state == STATE_UNAVAILABLE
        for state in hass.states.async_all()
        if state.entity_id.startswith(("sensor.", "switch.", "notify.", "image."))
        and state.attributes.get("friendly_name", "").startswith("Enviro")
        and "fault" not in state.entity_id
    )


def _broker(mqtt_client_mock: MqttMockPahoClient, *, connected: bool) -> None:
    """Make Home Assistant's MQTT client lose or find the broker, as paho tells it."""
    if connected:
        mqtt_client_mock.on_connect(mqtt_client_mock, None, 0, MockMqttReasonCode())
    else:
        mqtt_client_mock.on_disconnect(mqtt_client_mock, None, None, MockMqttReasonCode())


@pytest.mark.parametrize(
    ("outage", "back_with_retained"),
    [(timedelta(seconds=CYCLE), True), (timedelta(seconds=MISSED_CYCLES * CYCLE + 6), False)],
    ids=["short", "long"],
)
async def test_home_assistant_loses_the_broker(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    remote: MockConfigEntry,
    mqtt_client_mock: MqttMockPahoClient,
    agent: Agent,
    *,
    caplog: pytest.LogCaptureFixture,
    outage: timedelta,
    back_with_retained: bool,
) -> None:
    """Home Assistant loses the broker: unavailable at once, as its MQTT entities are.

    Reconnected, the broker sends the retained messages again: the board's last state
    brings it back while it is as recent as the watchdog allows; after a longer outage
    only a newer state does.
    """
    sensor = _temperature_id(hass, remote)
    before = hass.states.get(sensor).state
    _broker(mqtt_client_mock, connected=False)
    await hass.async_block_till_done()
    assert _board_unavailable(hass)
    assert await _refused_message(hass, remote) == "mqtt_disconnected"

    freezer.tick(outage)
    _broker(mqtt_client_mock, connected=True)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_UNAVAILABLE  # nothing heard yet
    agent.retained()
    await hass.async_block_till_done()
    assert (hass.states.get(sensor).state == before) is back_with_retained
    assert _board_unavailable(hass) is not back_with_retained
    agent.state()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE
    assert caplog.text.count(f"Board {BOARD_ID} is unavailable") == 1
    assert caplog.text.count(f"Board {BOARD_ID} is back") == 1


async def test_group_availability_follows_the_state(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """A gas error in a state makes the gas sensors unavailable, and only them."""
    registry = er.async_get(hass)
    gas = registry.async_get_entity_id("sensor", DOMAIN, f"{BOARD_ID}_oxidising")
    assert gas is not None
    agent.state(replace(agent.snapshot, gas=GroupResult(value=None, error="ADS1015: no answer")))
    await hass.async_block_till_done()
    assert hass.states.get(gas).state == STATE_UNAVAILABLE
    assert hass.states.get(_temperature_id(hass, remote)).state != STATE_UNAVAILABLE


# -- untrusted payloads ---------------------------------------------------------------


def _nan_state(agent: Agent) -> bytes:
    data = json.loads(wire.encode_state(agent.seq + 1, agent.snapshot, agent.health))
    text = json.dumps(data).replace(json.dumps(agent.snapshot.climate.value.temperature), "NaN", 1)
    return text.encode()


@pytest.mark.parametrize(
    "message",
    [
        (wire.STATE, b"{oops"),
        (wire.STATE, b""),
        (wire.STATE, b"[" * 100_000),
        (wire.STATE, json.dumps({"schema": "1.0", "seq": "x"}).encode()),
        (wire.STATE, "NAN"),
        (wire.STATUS, b"maybe"),
        (wire.ANNOUNCE, b"{}"),
        (wire.PREVIEW, b"GIF89a"),
        (wire.TAP, b"{}"),
    ],
    ids=["malformed", "empty", "huge", "wrong_type", "nan", "status", "announce", "preview", "tap"],
)
async def test_bad_payloads_are_dropped_and_logged_once(
    hass: HomeAssistant,
    remote: MockConfigEntry,
    agent: Agent,
    caplog: pytest.LogCaptureFixture,
    message: tuple[str, bytes | str],
) -> None:
    """A bad message changes nothing and is logged once, however often it comes."""
    kind, payload = message
    sensor = _temperature_id(hass, remote)
    before = hass.states.get(sensor).state
    if payload == "NAN":
        payload = _nan_state(agent)
    for _ in range(5):
        agent.send(kind, payload)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == before
    assert remote.state is ConfigEntryState.LOADED
    dropped = [r for r in caplog.records if "Dropped a message" in r.getMessage()]
    assert len(dropped) == 1
    assert dropped[0].levelno == logging.WARNING
    # The board carries on with the next good state.
    agent.state()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE


async def test_unknown_major_version_raises_a_repair(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """A newer agent's format is refused with a repair that says what to update."""
    sensor = _temperature_id(hass, remote)
    before = hass.states.get(sensor).state
    data = json.loads(wire.encode_state(agent.seq + 1, agent.snapshot, agent.health))
    data["schema"] = "2.0"
    data["groups"] = "whatever a future version holds"
    agent.send(wire.STATE, json.dumps(data).encode())
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"{remote.entry_id}_unsupported_schema")
    assert issue is not None
    assert issue.translation_placeholders == {
        "board": BOARD_ID,
        "version": "2.0",
        "supported": wire.SCHEMA,
    }
    assert hass.states.get(sensor).state == before
    agent.state()
    await hass.async_block_till_done()
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, f"{remote.entry_id}_unsupported_schema") is None
    )


async def test_repeated_state_is_derived_once(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """The same retained state again (MQTT resubscribed) does not feed the baseline twice."""
    coordinator = remote.runtime_data
    assert isinstance(coordinator, RemoteCoordinator)
    learned = len(coordinator.baseline.samples)
    payload = wire.encode_state(agent.seq, agent.snapshot, agent.health, backlight=True)
    for _ in range(5):
        agent.status(True)  # redelivered retained messages: the status, then the state
        agent.send(wire.STATE, payload)
    await hass.async_block_till_done()
    assert len(coordinator.baseline.samples) == learned
    agent.state()
    await hass.async_block_till_done()
    assert len(coordinator.baseline.samples) == learned + 1


async def test_agent_restart_resets_the_sequence(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """After an agent restart (online again), a lower sequence is accepted."""
    sensor = _temperature_id(hass, remote)
    agent.state()
    agent.state()
    agent.seq = 0
    agent.state()
    await hass.async_block_till_done()
    coordinator = remote.runtime_data
    assert isinstance(coordinator, RemoteCoordinator)
    assert coordinator.dropped == 1  # older than the last one, without a restart
    agent.status(True)
    agent.state()
    await hass.async_block_till_done()
    assert coordinator.dropped == 1
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE


def _warmer(agent: Agent, temperature: float) -> Any:
    """Return the agent's snapshot with another raw temperature (seen on the sensor)."""
    climate = agent.snapshot.climate
    return replace(
        agent.snapshot,
        climate=replace(climate, value=replace(climate.value, temperature=temperature)),
    )


async def test_state_far_ahead_is_dropped(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, cycle: tuple[Any, Any, Any]
) -> None:
    """A seq further ahead than the time since the last state allows is forged: dropped.

    Used, it would make every real state after it look old: the agent's next is used.
    """
    agent = Agent(hass, cycle, instance=KITCHEN)
    entry = await async_setup_remote(hass, agent)
    sensor = _temperature_id(hass, entry)
    before = hass.states.get(sensor).state
    forged = wire.encode_state(
        agent.seq + 1000, _warmer(agent, 45.0), agent.health, instance=KITCHEN
    )
    agent.send(wire.STATE, forged)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == before
    agent.state(_warmer(agent, 46.0))
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state not in (before, STATE_UNAVAILABLE)


@pytest.mark.parametrize(
    ("gap", "lost"), [(0.0, 3), (10 * CYCLE, 30)], ids=["a_few", "many_over_time"]
)
async def test_states_the_broker_lost_are_not_forgery(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    cycle: tuple[Any, Any, Any],
    gap: float,
    *,
    lost: int,
) -> None:
    """A seq ahead by a few, or by as many cycles as the time passed allows, is used."""
    agent = Agent(hass, cycle, instance=KITCHEN)
    entry = await async_setup_remote(hass, agent)
    sensor = _temperature_id(hass, entry)
    before = hass.states.get(sensor).state
    freezer.tick(gap)
    agent.seq += lost
    agent.state(_warmer(agent, 45.0))
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state not in (before, STATE_UNAVAILABLE)


# -- agent instances: restarts and duplicate board ids -------------------------------------


def _duplicate_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_duplicate_board_id")


async def _cycle(hass: HomeAssistant, freezer: FrozenDateTimeFactory, *agents: Agent) -> None:
    """Let one cycle pass, in which each agent given sends a state."""
    freezer.tick(CYCLE)
    async_fire_time_changed(hass)
    for agent in agents:
        agent.state()
    await hass.async_block_till_done()


async def test_two_agents_with_one_board_id(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mqtt_mock: MqttMockHAClient,
    cycle: tuple[Any, Any, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two agents under one board id take turns: a repair names both hosts.

    While both report, the "offline" each one's turn ends with is ignored; once only
    one has reported for the watchdog's window, the repair goes away by itself and
    "offline" counts again.
    """
    kitchen = Agent(hass, cycle, instance=KITCHEN, hostname="kitchen-pi")
    garage = Agent(hass, cycle, instance=GARAGE, hostname="garage-pi")
    entry = await async_setup_remote(hass, kitchen)
    sensor = _temperature_id(hass, entry)
    garage.hello()  # a restarted agent, as far as anyone can tell yet
    await hass.async_block_till_done()
    assert _duplicate_issue(hass, entry) is None

    kitchen.hello()  # the first one again: two agents
    await hass.async_block_till_done()
    issue = _duplicate_issue(hass, entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["board"] == BOARD_ID
    hosts = {issue.translation_placeholders[key] for key in ("host", "other_host")}
    assert hosts == {"kitchen-pi", "garage-pi"}
    for agent in (garage, kitchen, garage):
        agent.status(False)  # the broker publishes the will of the one it disconnects
        agent.hello()
    await hass.async_block_till_done()
    kitchen.status(False)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE
    assert caplog.text.count("two agents publish under its id") == 1

    kitchen.status(True)  # the garage agent is stopped; the kitchen one carries on
    for _ in range(MISSED_CYCLES):
        await _cycle(hass, freezer, kitchen)
    assert _duplicate_issue(hass, entry) is not None
    await _cycle(hass, freezer, kitchen)
    assert _duplicate_issue(hass, entry) is None
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE
    kitchen.status(False)
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_UNAVAILABLE


def _without_gas(cycle: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
    """Return a cycle of the same board whose agent found no gas sensor (another config)."""
    from custom_components.qiot_enviro.enviro.models import Chip

    detection, snapshot, health = cycle
    chips = detection.chips - {Chip.ADS1015, Chip.ADS1115}
    return replace(detection, chips=chips), replace(snapshot, gas=None), health


async def _until_reloaded(
    hass: HomeAssistant, entry: MockConfigEntry, agent: Agent, before: RemoteCoordinator
) -> None:
    """Let a reload run, with the agent's retained messages reaching its subscription."""
    for step in range(3000):
        await asyncio.sleep(0)
        if entry.state is ConfigEntryState.LOADED and entry.runtime_data is not before:
            break
        if step % 20 == 0:
            agent.hello()
    await hass.async_block_till_done()


@pytest.fixture
def quick_announce(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a reload nobody sends the retained messages for fail at once, not wait 10 s.

    These tests do not freeze the clock: a frozen clock would make such a reload hang.
    """
    monkeypatch.setattr("custom_components.qiot_enviro.remote.ANNOUNCE_TIMEOUT", 0.5)


def _later(hass: HomeAssistant, seconds: float) -> None:
    """Run the timers due within ``seconds`` (the clock itself is not frozen here)."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))


@pytest.mark.usefixtures("quick_announce")
async def test_restarted_agent_with_other_sensors_is_followed(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, cycle: tuple[Any, Any, Any]
) -> None:
    """A new agent instance with other sensor groups: the entry reloads after RESTART_CONFIRM.

    Until then its states are not used (its entities do not exist yet), and the previous
    instance may still come back.
    """
    old = Agent(hass, cycle, instance=KITCHEN)
    entry = await async_setup_remote(hass, old)
    before = entry.runtime_data
    sensor = _temperature_id(hass, entry)
    gas = _entity(hass, "sensor", "oxidising")
    restarted = Agent(hass, _without_gas(cycle), instance=GARAGE)
    old.status(False)  # stopped: its last will
    restarted.hello()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_UNAVAILABLE
    _later(hass, RESTART_CONFIRM - 1)
    restarted.state()
    await hass.async_block_till_done()
    assert entry.runtime_data is before
    assert hass.states.get(sensor).state == STATE_UNAVAILABLE

    _later(hass, RESTART_CONFIRM + 1)
    await _until_reloaded(hass, entry, restarted, before)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not before
    assert hass.states.get(sensor).state != STATE_UNAVAILABLE
    assert hass.states.get(gas).state == STATE_UNAVAILABLE
    assert _duplicate_issue(hass, entry) is None


@pytest.mark.usefixtures("quick_announce")
async def test_forged_announcements_change_nothing(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, cycle: tuple[Any, Any, Any]
) -> None:
    """Announcements of other sensors from instances that never send a state are not followed.

    However many there are (only MAX_INSTANCES are kept), the board keeps its entities
    and its agent's values; no reload, no repair.
    """
    agent = Agent(hass, cycle, instance=KITCHEN)
    entry = await async_setup_remote(hass, agent)
    before = entry.runtime_data
    pm = _entity(hass, "sensor", "pm10")
    intruder = replace(agent.detection, variant=Variant.ENVIRO)
    for number in range(MAX_INSTANCES + 2):
        forger = Agent(hass, (intruder, None, {}), instance=f"forged{number}", hostname="evil")
        forger.announce()
    await hass.async_block_till_done()
    _later(hass, 2 * RESTART_CONFIRM)
    agent.state()
    await hass.async_block_till_done()
    assert entry.runtime_data is before
    assert hass.states.get(pm).state != STATE_UNAVAILABLE
    assert not ir.async_get(hass).issues
    assert before.announcement is not None
    assert before.announcement.instance == KITCHEN


# -- the LCD --------------------------------------------------------------------------


def _entity(hass: HomeAssistant, domain: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(domain, DOMAIN, f"{BOARD_ID}_{key}")
    assert entity_id is not None
    return entity_id


async def test_notify_sends_the_message_to_the_agent(
    hass: HomeAssistant, remote: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """notify.send_message and notify.qiot_lcd publish a show command the agent reads."""
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": _entity(hass, "notify", "lcd"), "message": "Dinner is ready", "title": "Hi"},
        blocking=True,
    )
    await hass.services.async_call("notify", "qiot_lcd", {"message": "Second"}, blocking=True)
    await hass.async_block_till_done()
    shows = [wire.decode_command(wire.CMD_SHOW, p) for p in _published(mqtt_mock, wire.CMD_SHOW)]
    assert [(s.text, s.title) for s in shows] == [("Dinner is ready", "Hi"), ("Second", None)]
    displays = _published(mqtt_mock, wire.CMD_DISPLAY)
    assert wire.decode_command(wire.CMD_DISPLAY, displays[0]) == wire.DisplaySettings(
        idle_screen="readings", startup_message=True, tap_threshold=1500
    )
    readings = _published(mqtt_mock, wire.CMD_READINGS)
    assert readings


async def test_backlight_switch_and_dismiss(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    remote: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    agent: Agent,
) -> None:
    """The switch publishes a backlight command and follows what the board reports."""
    switch = _entity(hass, "switch", "lcd_backlight")
    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    await hass.async_block_till_done()
    assert [
        wire.decode_command(wire.CMD_BACKLIGHT, p)
        for p in _published(mqtt_mock, wire.CMD_BACKLIGHT)
    ] == [False]
    assert hass.states.get(switch).state == "off"
    agent.state(backlight=True)  # read before the agent got the command
    await hass.async_block_till_done()
    assert hass.states.get(switch).state == "off"
    freezer.tick(timedelta(seconds=CYCLE))
    agent.state(backlight=True)  # someone switched it on at the board's side
    await hass.async_block_till_done()
    assert hass.states.get(switch).state == "on"
    await hass.services.async_call(
        DOMAIN, "dismiss_message", {"config_entry_id": remote.entry_id}, blocking=True
    )
    await hass.async_block_till_done()
    assert len(_published(mqtt_mock, wire.CMD_DISMISS)) == 1


async def test_preview_and_tap(hass: HomeAssistant, remote: MockConfigEntry, agent: Agent) -> None:
    """The board's preview reaches the image entity; its tap fires the event entity."""
    image = _entity(hass, "image", "lcd_preview")
    event = _entity(hass, "event", "tap")
    png = wire.PNG_SIGNATURE + b"picture"
    agent.send(wire.PREVIEW, png)
    agent.send(wire.TAP, wire.encode_tap(datetime.now(UTC)))
    await hass.async_block_till_done()
    coordinator = remote.runtime_data
    assert coordinator.lcd is not None
    assert coordinator.lcd.preview == png
    assert hass.states.get(image).state != STATE_UNAVAILABLE
    assert hass.states.get(event).state not in (STATE_UNAVAILABLE, "unknown")


async def test_lcd_readings_go_to_the_agent_once_a_minute(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    remote: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    agent: Agent,
) -> None:
    """A new temperature every cycle reaches the board's LCD at most once a minute."""
    await hass.async_block_till_done()
    sent = len(_published(mqtt_mock, wire.CMD_READINGS))
    assert sent >= 1
    assert agent.snapshot.climate is not None
    climate = agent.snapshot.climate.value

    def state_at(temperature: float) -> None:
        reading = replace(climate, temperature=temperature)
        snapshot = replace(agent.snapshot, climate=replace(agent.snapshot.climate, value=reading))
        agent.state(snapshot)

    for step in range(5):  # five cycles within the minute, each a degree warmer
        freezer.tick(CYCLE)
        state_at(30.0 + step)
        await hass.async_block_till_done()
    assert len(_published(mqtt_mock, wire.CMD_READINGS)) == sent
    freezer.tick(timedelta(seconds=15))
    state_at(40.0)
    await hass.async_block_till_done()
    readings = _published(mqtt_mock, wire.CMD_READINGS)
    assert len(readings) == sent + 1
    latest = wire.decode_command(wire.CMD_READINGS, readings[-1])
    assert isinstance(latest, wire.DisplayReadings)
    shown = hass.states.get(_temperature_id(hass, remote))
    assert shown is not None
    assert latest.temperature == pytest.approx(float(shown.state), abs=0.05)


async def test_message_to_an_offline_board_is_refused(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """A message for a board whose agent is gone says so instead of vanishing."""
    agent.status(False)
    await hass.async_block_till_done()
    assert await _refused_message(hass, remote) == "remote_offline"


async def test_unload_keeps_the_remote_board_running(
    hass: HomeAssistant, remote: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """Unloading unsubscribes; nothing is sent that would blank the remote screen."""
    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_unload(remote.entry_id)
    await hass.async_block_till_done()
    assert remote.state is ConfigEntryState.NOT_LOADED
    assert not mqtt_mock.async_publish.call_args_list


# -- diagnostics and repairs ----------------------------------------------------------


async def test_diagnostics_of_a_remote_board(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """Diagnostics show what the agent reported, with the board id redacted."""
    from homeassistant.components.diagnostics import REDACTED

    from custom_components.qiot_enviro.diagnostics import async_get_config_entry_diagnostics

    diagnostics = await async_get_config_entry_diagnostics(hass, remote)
    assert diagnostics["detection"]["identity"] == REDACTED
    assert diagnostics["entry"]["data"][CONF_BOARD_ID] == REDACTED
    assert set(diagnostics["health"]) == {group.value for group in agent.health}
    assert diagnostics["cycles"]["update_interval_s"] is None
    assert BOARD_ID not in json.dumps(diagnostics, default=str)


async def test_serial_console_repair_follows_the_announcement(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """A remote Pi with a login shell on its UART gets the local repair, and it clears."""
    agent.announce(replace(agent.detection, serial_console=True))
    await hass.async_block_till_done()
    issue_id = f"{remote.entry_id}_serial_console"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    agent.announce()
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_board_that_loses_a_sensor_is_reloaded(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """An announcement with other sensor groups reloads the entry with those groups."""
    from custom_components.qiot_enviro.enviro.models import Chip, SensorGroup

    coordinator = remote.runtime_data
    agent.detection = replace(
        agent.detection, chips=agent.detection.chips - {Chip.ADS1015, Chip.ADS1115}
    )
    agent.snapshot = replace(agent.snapshot, gas=None)
    for step in range(3000):
        await asyncio.sleep(0)
        if remote.state is ConfigEntryState.LOADED and remote.runtime_data is not coordinator:
            break
        if step % 20 == 0:
            agent.hello()
    await hass.async_block_till_done()
    assert remote.state is ConfigEntryState.LOADED
    assert remote.runtime_data is not coordinator
    assert remote.runtime_data.detection is not None
    assert SensorGroup.GAS not in remote.runtime_data.detection.groups


# -- every error a remote board's user can meet ---------------------------------------


async def test_remote_errors_render_without_placeholders(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mqtt_client_mock: MqttMockPahoClient,
    agent: Agent,
    caplog: pytest.LogCaptureFixture,
    *,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No announcement, no state, offline, no broker, no MQTT: each a translated sentence."""
    from homeassistant.helpers.translation import async_get_exception_message

    from custom_components.qiot_enviro import remote as remote_module

    from .test_exceptions import REMOTE_EXCEPTIONS, Seen, ours, record

    monkeypatch.setattr(remote_module, "ANNOUNCE_TIMEOUT", 0.2)
    monkeypatch.setattr(remote_module, "STATE_TIMEOUT", 0.2)
    # Home Assistant waits up to 50 s for an unloaded MQTT entry's client to appear.
    monkeypatch.setattr(mqtt_util, "AVAILABILITY_TIMEOUT", 0.5)
    seen: Seen = {}

    async def failed(announce: bool) -> None:
        entry = remote_entry()
        entry.add_to_hass(hass)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="homeassistant.config_entries"):
            task = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
            while not task.done():
                if announce:
                    agent.announce()
                await asyncio.sleep(0.01)
            await task
        assert entry.state is ConfigEntryState.SETUP_RETRY
        errors = [e for r in caplog.records if r.exc_info and (e := ours(r.exc_info[1]))]
        record(seen, errors[-1])
        await hass.config_entries.async_remove(entry.entry_id)

    await failed(announce=False)
    await failed(announce=True)
    entry = await async_setup_remote(hass, agent)
    agent.status(False)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "dismiss_message", {"config_entry_id": entry.entry_id}, blocking=True
        )
    record(seen, err.value)
    _broker(mqtt_client_mock, connected=False)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "dismiss_message", {"config_entry_id": entry.entry_id}, blocking=True
        )
    record(seen, err.value)
    _broker(mqtt_client_mock, connected=True)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(hass.config_entries.async_entries("mqtt")[0].entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await remote_module.async_announced_boards(hass, 0)
    record(seen, err.value)

    assert sorted(seen) == sorted(REMOTE_EXCEPTIONS)
    for key, placeholders in seen.items():
        message = async_get_exception_message(DOMAIN, key, placeholders)
        assert message != key, f"{key}: not translated"
        assert "{" not in message, f"{key}: {message}"


async def test_fault_select_of_a_simulated_remote_board(
    hass: HomeAssistant, remote: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """The simulated agent's fault select publishes the fault command ("none" clears)."""
    select = _entity(hass, "select", "simulated_fault")
    for option in ("particulates_silent", "none"):
        await hass.services.async_call(
            "select", "select_option", {"entity_id": select, "option": option}, blocking=True
        )
    await hass.async_block_till_done()
    faults = [wire.decode_command(wire.CMD_FAULT, p) for p in _published(mqtt_mock, wire.CMD_FAULT)]
    assert faults == ["particulates_silent", "none"]
    assert hass.states.get(select).state == "none"


async def test_foreign_messages_on_the_boards_topics_change_nothing(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    """Another board's announcement on this topic, or a command echo, is not a state."""
    sensor = _temperature_id(hass, remote)
    before = hass.states.get(sensor).state
    impostor = wire.encode_announcement(
        "10000000deadbeef",
        replace(agent.detection, identity="10000000deadbeef"),
        agent_version="0.3.0",
        cycle=CYCLE,
    )
    agent.send(wire.ANNOUNCE, impostor)
    agent.send(wire.CMD_SHOW, wire.encode_show(wire.ShowCommand(text="echo")))
    await hass.async_block_till_done()
    coordinator = remote.runtime_data
    assert isinstance(coordinator, RemoteCoordinator)
    assert coordinator.detection is not None
    assert coordinator.detection.identity == BOARD_ID
    assert coordinator.dropped == 1
    assert "board_id differs from its topic" in caplog.text
    assert hass.states.get(sensor).state == before


async def test_plain_enviro_has_no_lcd_entities(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, cycle: tuple[Any, Any, Any]
) -> None:
    """A remote plain Enviro without a working LCD gets sensors only, and no LCD commands."""
    from custom_components.qiot_enviro.enviro.models import BusDevice, DeviceStatus

    detection, snapshot, health = cycle
    devices = dict(detection.devices)
    devices[BusDevice.SPI] = replace(devices[BusDevice.SPI], status=DeviceStatus.NOT_PRESENT)
    no_lcd = replace(detection, devices=devices)
    agent = Agent(hass, (no_lcd, replace(snapshot), health))
    if no_lcd.groups != detection.groups:
        agent.snapshot = replace(snapshot, particulates=None)
    entry = await async_setup_remote(hass, agent)
    assert entry.state is ConfigEntryState.LOADED
    domains = {
        e.domain for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    assert "sensor" in domains
    assert not domains & {"notify", "switch", "image", "event"}
    agent.state()
    await hass.async_block_till_done()
    assert not _published(mqtt_mock, wire.CMD_READINGS)
    assert not _published(mqtt_mock, wire.CMD_DISPLAY)


async def test_sampling_mode_is_sent_to_the_agent(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, agent: Agent
) -> None:
    """The particulate sampling option reaches the agent, retained, when the board loads."""
    from custom_components.qiot_enviro.const import CONF_PARTICULATE_SAMPLING

    await async_setup_remote(hass, agent, {CONF_PARTICULATE_SAMPLING: "15"})
    topic = wire.topic(BOARD_ID, wire.CMD_SAMPLING)
    calls = [c for c in mqtt_mock.async_publish.call_args_list if c.args[0] == topic]
    assert len(calls) == 1
    assert wire.decode_command(wire.CMD_SAMPLING, calls[0].args[1]) == wire.SamplingCommand(
        interval=900
    )
    assert calls[0].args[3] is True  # retained


async def test_fan_running_time_comes_from_the_agent(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """The agent counts the fan's hours; Home Assistant shows its figure."""
    from custom_components.qiot_enviro.enviro.models import SensorGroup

    particulates = agent.health[SensorGroup.PARTICULATES]
    agent.health = {
        **agent.health,
        SensorGroup.PARTICULATES: replace(
            particulates, extra={**particulates.extra, "fan_seconds": 9000}
        ),
    }
    agent.state()
    await hass.async_block_till_done()
    state = hass.states.get(_entity(hass, "sensor", "pms_fan_hours"))
    assert state is not None
    assert float(state.state) == 2.5


async def test_announced_text_reaches_a_repair_as_plain_text(
    hass: HomeAssistant, remote: MockConfigEntry, agent: Agent
) -> None:
    """A path in an announcement cannot put a link or a picture into a repair."""
    from custom_components.qiot_enviro.enviro.models import BusDevice

    devices = dict(agent.detection.devices)
    devices[BusDevice.UART] = replace(
        devices[BusDevice.UART], path="/dev/[click](//evil.example)<img src=x>"
    )
    agent.announce(replace(agent.detection, devices=devices, serial_console=True))
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"{remote.entry_id}_serial_console")
    assert issue is not None
    assert issue.translation_placeholders is not None
    path = issue.translation_placeholders["path"]
    assert not set(path) & set("[]<>")
    assert "evil.example" in path  # shown, as text
