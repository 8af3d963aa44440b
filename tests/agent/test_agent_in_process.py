"""The agent in this process (so coverage sees every handler), against a real Mosquitto.

The subprocess tests in test_agent.py prove the agent as users run it; this one drives
every command through the broker to an agent running on the test's own event loop and
checks what the board then publishes.
"""

import asyncio
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import pytest_socket
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image, ImageChops

from custom_components.qiot_enviro.agent import wire
from custom_components.qiot_enviro.agent.runner import Agent
from custom_components.qiot_enviro.agent.settings import Settings, parse_broker_url
from custom_components.qiot_enviro.display import controller as display_controller
from custom_components.qiot_enviro.display.screens import Readings, render_readings
from custom_components.qiot_enviro.enviro.models import SensorGroup
from tests.broker import Broker

BOARD = "sim-in-process"
RGB565_LUT = (
    [v & 0xF8 for v in range(256)] + [v & 0xFC for v in range(256)] + [v & 0xF8 for v in range(256)]
)


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """Home Assistant's test plugin blocks sockets; this test talks to a real broker."""


@pytest.fixture
def broker() -> Iterator[Broker]:
    pytest_socket.enable_socket()
    with Broker({"agent": "agent-pw", "ha": "ha-pw"}) as running:
        yield running


class Peer:
    """Home Assistant's side of the broker, as a plain paho client."""

    def __init__(self, broker: Broker) -> None:
        """Connect and listen to the board's topics."""
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.username_pw_set("ha", "ha-pw")
        self.client.on_message = self._message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"{wire.TOPIC_ROOT}/{BOARD}/#", 1)
        self.client.loop_start()

    def _message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def of(self, kind: str) -> list[bytes]:
        """Return the payloads received on one of the board's topics."""
        with self.lock:
            return [p for t, p in self.messages if t == wire.topic(BOARD, kind)]

    def send(self, kind: str, payload: bytes | str) -> None:
        """Publish on one of the board's topics."""
        self.client.publish(wire.topic(BOARD, kind), payload, 1)

    async def wait(self, predicate: Callable[[], object], seconds: float = 15.0) -> None:
        """Wait until predicate holds; fail after ``seconds``."""
        for _ in range(int(seconds / 0.05)):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("timed out")

    def states(self) -> list[wire.State]:
        """Return the states received, decoded."""
        return [wire.decode_state(p) for p in self.of(wire.STATE)]

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


async def test_every_command_reaches_the_board(broker: Broker, tmp_path: Path) -> None:
    settings = Settings(
        broker=parse_broker_url(broker.url("agent")),
        simulated="enviro_plus",
        board_id=BOARD,
        cycle=0.3,
        state_file=tmp_path / "state.json",
        birth_delay=0.0,
        simulated_frame_interval=0.05,
    )
    agent = Agent(settings)
    peer = Peer(broker)
    run = asyncio.create_task(agent.run())
    try:
        await peer.wait(lambda: peer.of(wire.ANNOUNCE) and len(peer.of(wire.STATE)) >= 2)
        assert wire.decode_announcement(peer.of(wire.ANNOUNCE)[-1]).board_id == BOARD
        previews = len(peer.of(wire.PREVIEW))

        show = wire.ShowCommand(text="Hello from the test", duration=0.5)
        peer.send(wire.CMD_SHOW, wire.encode_show(show))
        await peer.wait(lambda: len(peer.of(wire.PREVIEW)) > previews)
        peer.send(wire.CMD_DISMISS, wire.encode_dismiss())
        peer.send(wire.CMD_BACKLIGHT, wire.encode_backlight(False))
        await peer.wait(lambda: peer.states()[-1].backlight is False)
        settings_cmd = wire.DisplaySettings(
            idle_screen="clock", startup_message=False, tap_threshold=900
        )
        peer.send(wire.CMD_DISPLAY, wire.encode_display(settings_cmd))
        readings = wire.DisplayReadings(
            temperature=21.0, humidity=40.0, pm2_5=3.0, aqi=12, aqi_category="good"
        )
        peer.send(wire.CMD_READINGS, wire.encode_readings(readings))
        peer.send(
            wire.CMD_DISPLAY,
            wire.encode_display(
                wire.DisplaySettings(
                    idle_screen="readings", startup_message=True, tap_threshold=900
                )
            ),
        )

        # A simulated fault shows in the next states, and clears again.
        peer.send(wire.CMD_FAULT, wire.encode_fault("i2c_bus_error"))
        await peer.wait(lambda: (s := peer.states()[-1].snapshot.climate) is not None and not s.ok)
        peer.send(wire.CMD_FAULT, wire.encode_fault("none"))
        await peer.wait(lambda: (s := peer.states()[-1].snapshot.climate) is not None and s.ok)

        # Bad input: dropped, the agent carries on.
        for payload in (b"{", b'{"schema": "9.0"}', b'{"schema": "1.0", "text": ""}'):
            peer.send(wire.CMD_SHOW, payload)
        peer.send(wire.CMD_FAULT, wire.encode_fault("no_such_fault"))
        # Home Assistant's birth: the board announces itself again.
        announcements = len(peer.of(wire.ANNOUNCE))
        peer.client.publish(wire.HA_STATUS_TOPIC, wire.ONLINE, 1)
        await peer.wait(lambda: len(peer.of(wire.ANNOUNCE)) > announcements)
        seq = peer.states()[-1].seq
        await peer.wait(lambda: peer.states()[-1].seq >= seq + 2)
    finally:
        agent.stop()
        code = await asyncio.wait_for(run, 20)
        peer.close()
    assert code == 0
    assert peer.of(wire.STATUS)[-1] == b"offline"
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["backlight"] is False
    assert saved["display"]["idle_screen"] == "readings"


def shows(png: bytes, expected: Image.Image) -> bool:
    """Tell whether a preview is the expected render (RGB565 rounding allowed)."""
    shown = Image.open(io.BytesIO(png)).convert("RGB").point(RGB565_LUT)
    difference = ImageChops.difference(shown, expected.convert("RGB").point(RGB565_LUT))
    return max(high for _low, high in difference.getextrema()) <= 8


async def test_remote_lcd_rotates_pages_and_publishes_taps(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote board's LCD turns the readings pages; a hand over it is a tap on the tap topic."""
    # Home Assistant's screen timings, sped up.
    monkeypatch.setattr(display_controller, "STARTUP_SECONDS", 0.2)
    monkeypatch.setattr(display_controller, "IDLE_ROTATE_SECONDS", 0.3)
    # Every idle page reaches the preview (the throttle has its own test).
    monkeypatch.setattr(display_controller, "PREVIEW_IDLE_INTERVAL", timedelta(0))
    settings = Settings(
        broker=parse_broker_url(broker.url("agent")),
        simulated="enviro_plus",
        board_id=BOARD,
        cycle=0.3,
        state_file=tmp_path / "state.json",
        birth_delay=0.0,
        simulated_frame_interval=0.05,
    )
    agent = Agent(settings)
    peer = Peer(broker)
    run = asyncio.create_task(agent.run())
    try:
        await peer.wait(lambda: peer.of(wire.ANNOUNCE))
        assert agent.emulated is not None
        room = agent.emulated.env
        room.set(proximity=10)  # nobody passes by until the test says so
        sent = wire.DisplayReadings(
            temperature=19.5, humidity=52.0, pm2_5=4.0, aqi=17, aqi_category="good"
        )
        peer.send(wire.CMD_READINGS, wire.encode_readings(sent))
        readings = Readings(temperature=19.5, humidity=52.0, pm2_5=4.0, aqi=17, aqi_category="good")
        pages = [render_readings(page, readings) for page in range(3)]
        await peer.wait(
            lambda: all(any(shows(png, page) for png in peer.of(wire.PREVIEW)) for page in pages)
        )

        room.set(proximity=1900)
        await peer.wait(lambda: peer.of(wire.TAP))
        room.set(proximity=10)
        assert wire.decode_tap(peer.of(wire.TAP)[0]).tzinfo is not None
    finally:
        agent.stop()
        code = await asyncio.wait_for(run, 20)
        peer.close()
    assert code == 0


async def test_idle_previews_are_throttled_a_message_is_not(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turning readings pages reach the broker at most once per interval; a message at once.

    Every board publishing a PNG every few seconds for an image nobody watches was most
    of a fleet's MQTT traffic (benchmarks/fleet.py).
    """
    monkeypatch.setattr(display_controller, "STARTUP_SECONDS", 0.1)
    monkeypatch.setattr(display_controller, "IDLE_ROTATE_SECONDS", 0.1)
    settings = Settings(
        broker=parse_broker_url(broker.url("agent")),
        simulated="enviro_plus",
        board_id=BOARD,
        cycle=0.3,
        state_file=tmp_path / "state.json",
        birth_delay=0.0,
        simulated_frame_interval=0.05,
    )
    agent = Agent(settings)
    frames: list[bool] = []
    peer = Peer(broker)
    run = asyncio.create_task(agent.run())
    try:
        await peer.wait(lambda: agent.display is not None)
        assert agent.display is not None
        agent.display.add_frame_listener(lambda _png, urgent: frames.append(urgent))
        # Let the pages turn: many idle frames on the panel.
        await peer.wait(lambda: frames.count(False) >= 6)
        idle_previews = len(peer.of(wire.PREVIEW))
        assert idle_previews <= 2  # the startup screen and the first idle page at most

        show = wire.ShowCommand(text="Fire drill at 11", duration=0.5)
        peer.send(wire.CMD_SHOW, wire.encode_show(show))
        await peer.wait(lambda: len(peer.of(wire.PREVIEW)) > idle_previews)
    finally:
        agent.stop()
        code = await asyncio.wait_for(run, 20)
        peer.close()
    assert code == 0


async def test_fast_simulated_board_starts_warming_up_not_failing(
    broker: Broker, tmp_path: Path
) -> None:
    """With the fast simulated PMS5003 the first states read "warming up", never an error.

    The first read starts the sensor, before its first frame: an error there made Home
    Assistant log "The particulates sensors are unavailable: no valid frame yet" at every
    start of the agent (seen in scripts/e2e.py's remote run).
    """
    settings = Settings(
        broker=parse_broker_url(broker.url("agent")),
        simulated="enviro_plus",
        board_id=BOARD,
        cycle=0.3,
        state_file=tmp_path / "state.json",
        birth_delay=0.0,
        simulated_frame_interval=0.05,
    )
    agent = Agent(settings)
    peer = Peer(broker)
    run = asyncio.create_task(agent.run())

    def particulates() -> list[object]:
        return [s.snapshot.particulates for s in peer.states()]

    try:
        await peer.wait(lambda: any(p is not None and p.value is not None for p in particulates()))
    finally:
        agent.stop()
        code = await asyncio.wait_for(run, 20)
        peer.close()
    assert code == 0
    assert [getattr(p, "error", None) for p in particulates()] == [None] * len(particulates())


async def test_sampling_command_duty_cycles_the_particulate_sensor(
    broker: Broker, tmp_path: Path
) -> None:
    """The retained cmd/sampling puts the sensor to sleep between samples.

    The simulated PMS5003 runs the manual's timings (2.3 s frames, 30 s warm-up) 100
    times faster: a sample every 300 s takes 3 s. Between samples the state keeps the
    last sample, its time and ``sleeping``; the fan time and the mode are persisted.
    """
    settings = Settings(
        broker=parse_broker_url(broker.url("agent")),
        simulated="enviro_plus",
        board_id=BOARD,
        cycle=0.2,
        state_file=tmp_path / "state.json",
        birth_delay=0.0,
        simulated_pms_speed=100.0,
    )
    agent = Agent(settings)
    peer = Peer(broker)
    run = asyncio.create_task(agent.run())

    def particulates() -> list[Any]:
        return [s.snapshot.particulates for s in peer.states()]

    try:
        await peer.wait(lambda: peer.of(wire.ANNOUNCE) and peer.of(wire.STATE))
        peer.client.publish(
            wire.topic(BOARD, wire.CMD_SAMPLING),
            wire.encode_sampling(wire.SamplingCommand(interval=300)),
            1,
            retain=True,
        )
        await peer.wait(lambda: (p := particulates()[-1]) is not None and p.sleeping)
        assert agent.emulated is not None
        await peer.wait(lambda: not agent.emulated.pms.powered)
        count = len(peer.states())
        await peer.wait(lambda: len(peer.states()) >= count + 3)
        held = particulates()[count:]
        health = peer.states()[-1].health
    finally:
        agent.stop()
        code = await asyncio.wait_for(run, 20)
        peer.client.publish(wire.topic(BOARD, wire.CMD_SAMPLING), b"", 1, retain=True)
        peer.close()
    assert code == 0
    assert all(p.sleeping and p.value is not None for p in held)
    assert len({(p.value, p.read_at) for p in held}) == 1
    assert health[SensorGroup.PARTICULATES].extra["fan_seconds"] >= 30
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["sampling"] == 300
    assert saved["fan_seconds"] >= 30
