"""The board side of ``benchmarks/fleet.py``: N simulated boards in one process.

Run by ``benchmarks/fleet.py`` (``python -m benchmarks.fleet_boards --kind ours|generic
--count N --cycle S --folder DIR``, the broker's URL with its password in the environment
variable ``QIOT_FLEET_BROKER``, not on the command line); no Home Assistant in here. Each board
is the agent's own :class:`~custom_components.qiot_enviro.agent.runner.Agent` (a
simulated Enviro+, its board thread, its LCD, its own paho client and last will, its
state file): ``Agent.run`` keeps all of its state on the instance, so N of them share
one asyncio loop. The boards start spread evenly over one cycle, as boards switched on
at different times would be, not all reading in the same instant.

- ``ours``: the agent unchanged (``wire.encode_state`` on ``qiot_enviro/<id>/state``,
  announcement, status, LCD previews);
- ``generic``: the same agent reading the same simulated board in the same thread, but
  publishing what the MQTT-discovery bridges publish (JeffLuckett/ha-enviro-plus,
  dulangaj/enviroplus-homeassistant): retained Home Assistant discovery configs
  ``homeassistant/sensor/<id>/<key>/config`` for generic MQTT sensors (unique id,
  ``value_template``, availability topic, device info, unit, device and state class),
  a retained ``online`` on the availability topic (last will ``offline``) and, each
  cycle, the readings as one retained JSON state per board; ``--generic-topics``
  publishes one topic per value instead, as both bridges actually do. No LCD preview,
  no health counters, no announcement: the bridges have none.

SIGTERM stops every board (each publishes ``offline`` and closes its connection).
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, override

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.qiot_enviro.agent import runner, wire
from custom_components.qiot_enviro.agent.runner import Agent
from custom_components.qiot_enviro.agent.settings import Settings, parse_broker_url
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard, create_simulated
from custom_components.qiot_enviro.enviro.models import BusDevice, SensorGroup, Snapshot

KINDS = ("ours", "generic")
BROKER_ENV = "QIOT_FLEET_BROKER"
GENERIC_ROOT = "enviro"
DISCOVERY_PREFIX = "homeassistant"
# (name, unit, device class) of the values as the bridges name them; a value of a
# group added later (the state's fields come from ``wire``) gets its key as its name.
GENERIC_META: dict[str, tuple[str, str | None, str | None]] = {
    "temperature": ("Temperature", "°C", "temperature"),
    "pressure": ("Pressure", "hPa", "atmospheric_pressure"),
    "humidity": ("Humidity", "%", "humidity"),
    "lux": ("Illuminance", "lx", "illuminance"),
    "proximity": ("Proximity", None, None),
    "oxidising": ("Gas oxidising", "kΩ", None),
    "reducing": ("Gas reducing", "kΩ", None),
    "nh3": ("Gas NH3", "kΩ", None),
    "pm1": ("PM1", "µg/m³", "pm1"),
    "pm2_5": ("PM2.5", "µg/m³", "pm25"),
    "pm10": ("PM10", "µg/m³", "pm10"),
    "cpu_temperature": ("CPU temperature", "°C", "temperature"),
}
# JeffLuckett's "meta/last_update": a text sensor with the time of the reading. Here it
# is the end of the read in epoch seconds (as ``read_at + duration`` for ours), so that
# the benchmark can time each state; it is the last config, so usually the last entity
# a state message updates.
LAST_UPDATE = "last_update"


def generic_keys(groups: Iterable[SensorGroup]) -> list[str]:
    """Return the values a generic board publishes: what our state carries, per group."""
    keys = [
        key
        for group in SensorGroup
        if group in groups
        for key in wire._READINGS[group][1]  # the state's fields, as the agent sends them
    ]
    return [*keys, "cpu_temperature", LAST_UPDATE]


def generic_topic(board_id: str, kind: str) -> str:
    """Return a generic board's topic: ``status``, ``state`` or a value's key."""
    return f"{GENERIC_ROOT}/{board_id}/{kind}"


def generic_discovery(
    board_id: str, keys: list[str], *, per_value: bool
) -> list[tuple[str, bytes]]:
    """Return the retained discovery configs (topic, payload) of a generic board."""
    device = {
        "identifiers": [board_id],
        "name": f"Enviro+ {board_id}",
        "manufacturer": "Pimoroni",
        "model": "Enviro+",
        "sw_version": "bridge 1.0",
    }
    configs = []
    for key in keys:
        name, unit, device_class = GENERIC_META.get(key, (key, None, None))
        config: dict[str, Any] = {
            "name": name,
            "unique_id": f"{board_id}_{key}",
            "availability_topic": generic_topic(board_id, "status"),
            "device": device,
        }
        if per_value:
            config["state_topic"] = generic_topic(board_id, key)
        else:
            config["state_topic"] = generic_topic(board_id, "state")
            config["value_template"] = f"{{{{ value_json.{key} }}}}"
        if key != LAST_UPDATE:
            config["state_class"] = "measurement"
        if unit is not None:
            config["unit_of_measurement"] = unit
        if device_class is not None:
            config["device_class"] = device_class
        topic = f"{DISCOVERY_PREFIX}/sensor/{board_id}/{key}/config"
        configs.append((topic, json.dumps(config).encode()))
    return configs


def generic_values(snapshot: Snapshot, keys: list[str]) -> dict[str, Any]:
    """Return one cycle's values as the bridges send them (None for a missing one)."""
    values: dict[str, Any] = dict.fromkeys(keys)
    for group in SensorGroup:
        result = getattr(snapshot, group.value, None)
        if result is None or result.value is None:
            continue
        for key in wire._READINGS[group][1]:
            value = getattr(result.value, key)
            # The bridges send the gas resistances in kΩ, rounded as they round.
            values[key] = round(value / 1000, 2) if group is SensorGroup.GAS else round(value, 2)
    if snapshot.cpu_temperature is not None:
        values["cpu_temperature"] = round(snapshot.cpu_temperature, 1)
    values[LAST_UPDATE] = str(snapshot.read_at.timestamp() + snapshot.duration)
    return values


class GenericBoard(Agent):
    """The agent's board and cycle, published the way the discovery bridges do."""

    per_value = False

    @override
    def _start_display(self) -> None:
        """Drive no LCD preview over MQTT: the bridges have none."""

    @override
    def _start_mqtt(self) -> None:
        broker = self.settings.broker
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bridge-{self.board_id}")
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        client.will_set(generic_topic(self.board_id, "status"), "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        client.connect_async(broker.host, broker.port, keepalive=30)
        client.loop_start()

    @override
    def _connected(self) -> None:
        self.connected = True
        client = self._client
        assert client is not None
        client.publish(generic_topic(self.board_id, "status"), "online", qos=1, retain=True)
        for topic, payload in generic_discovery(
            self.board_id, self._keys(), per_value=self.per_value
        ):
            client.publish(topic, payload, qos=1, retain=True)
        if self._latest_state is not None:
            self._publish_generic(self._latest_state)

    @override
    def _birth(self) -> None:
        """Ignore Home Assistant's birth, as the bridges do: their configs are retained."""
        self._birth_timer = None

    @override
    async def _read_and_publish(self) -> None:
        board = self.board
        assert board is not None
        snapshot = await self._in_board_thread(board.read)
        self.state.seq += 1
        self._latest_state = json.dumps(generic_values(snapshot, self._keys())).encode()
        if self.connected:
            self._publish_generic(self._latest_state)

    def _keys(self) -> list[str]:
        assert self.detection is not None  # the board is open before MQTT starts
        return generic_keys(self.detection.groups)

    def _publish_generic(self, payload: bytes) -> None:
        client = self._client
        assert client is not None
        if not self.per_value:
            client.publish(generic_topic(self.board_id, "state"), payload, qos=1, retain=True)
            return
        for key, value in json.loads(payload).items():
            text = "None" if value is None else str(value)
            client.publish(generic_topic(self.board_id, key), text, qos=1, retain=True)

    @override
    async def _shutdown(self) -> None:
        client = self._client
        if client is not None and self.connected:
            info = client.publish(generic_topic(self.board_id, "status"), "offline", 1, True)
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            self.connected = False  # the agent's own offline goes to our topics
        await super()._shutdown()


def without_microphone(*args: Any, **kwargs: Any) -> EmulatedBoard:
    """Build a simulated board whose microphone is absent (no noise group).

    An emulated microphone is 48 kHz of audio made and A-weighted in real time: a hundred
    of them would take this process's whole core, which on a small machine is Home
    Assistant's too, and the boards would fall behind. Both kinds lose the same values.
    """
    board = create_simulated(*args, **kwargs)
    board.faults.missing_device(BusDevice.AUDIO)
    return board


def board_ids(kind: str, count: int) -> list[str]:
    """Return the board ids of a fleet (distinct per kind: both may share a broker)."""
    return [f"fleet-{kind}-{index:03d}" for index in range(count)]


async def run_fleet(args: argparse.Namespace) -> int:
    """Start the boards spread over one cycle; run until SIGTERM; return the worst exit code."""
    broker = parse_broker_url(os.environ[BROKER_ENV])
    folder = Path(args.folder)
    agents: list[Agent] = []
    tasks: list[asyncio.Task[int]] = []
    ids = board_ids(args.kind, args.count)
    runner.create_simulated = without_microphone  # type: ignore[attr-defined]
    for board_id in ids:
        settings = Settings(
            broker=broker,
            simulated="enviro_plus",
            board_id=board_id,
            cycle=args.cycle,
            state_file=folder / f"{board_id}.json",
            log_level="WARNING",
        )
        agent: Agent
        if args.kind == "ours":
            agent = Agent(settings)
        else:
            agent = generic = GenericBoard(settings)
            generic.per_value = args.generic_topics
        agents.append(agent)
        tasks.append(asyncio.create_task(agent.run()))
        await asyncio.sleep(args.cycle / args.count)
    # Each Agent.run took SIGTERM for itself; one handler stops them all.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"started {len(agents)}", flush=True)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for agent in agents:
        agent.stop()
    codes = await asyncio.gather(*tasks)
    waiter.cancel()
    return max(codes, default=0)


def main() -> None:
    """Parse the arguments and run the fleet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--cycle", type=float, required=True)
    parser.add_argument("--folder", required=True, help="for the boards' state files")
    parser.add_argument("--generic-topics", action="store_true", help="one topic per value")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(asyncio.run(run_fleet(args)))


if __name__ == "__main__":
    main()
