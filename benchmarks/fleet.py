"""A fleet of remote boards on one broker, ours against the MQTT-discovery bridges' way.

Run from the repository root: ``.venv/bin/python -m benchmarks.fleet [--sizes 1,10,100]
[--cycle 5] [--duration 45] [--kinds ours,generic] [--generic-topics] [--profile N]``.

Each fleet size and kind is one phase, in a process of its own (so that its memory is
its own), with a fresh ``/usr/sbin/mosquitto`` on a free loopback port (``tests/broker.py``,
stopped by its pid), a Home Assistant core built the way ``benchmarks/remote.py`` builds
it (``async_test_home_assistant``, ``http``, the real MQTT integration and paho client
through ``tests/fleet.py``), and the boards in one more process
(``benchmarks/fleet_boards.py``: N of the agent's own ``Agent`` on one asyncio loop, each
with its own MQTT connection and last will, started spread over one cycle), stopped by
its pid. The kinds:

- ``ours``: the agent as it is, and one remote config entry per board, set up together
  as Home Assistant sets up an integration's entries at start;
- ``generic``: the same simulated boards read by the same agent code, published as the
  discovery bridges do (retained discovery configs for generic MQTT sensors with value
  templates, availability topic, device info, one retained JSON state per board; with
  ``--generic-topics`` one topic per value, as JeffLuckett/ha-enviro-plus and
  dulangaj/enviroplus-homeassistant actually publish), which Home Assistant's MQTT
  discovery turns into entities by itself.

The cycle is the same for both kinds: 5 s by default, twice as often as the agent's
default (10 s) and far more often than the bridges' (dulangaj publishes every 300 s),
so that a 45 s window holds nine cycles per board and the load per minute is the
heaviest a user would configure; it is also the LCD's page rotation, so our boards send
about one preview per state, as a real Enviro+ does at that cycle.

A phase: Home Assistant with MQTT connected and no board (the quiet rates: process CPU,
loop busy time, loop lag; the resident memory), the fleet starts, its entities are set up
and available, two cycles of warm-up (then the memory again), ``--duration`` seconds
measured, optionally ``--profile`` seconds under cProfile (for the largest size), then
Home Assistant is stopped and a new instance is started on the same configuration folder
with the entity and device registries the first one had (the fleet and the broker's
retained messages stay) and timed until every entity that was available is available
again. Measures:

- read to state: from the end of the board's read (``read_at + duration`` in our state;
  the bridge's ``last_update`` value for the generic ones) to the moment every entity
  of the board has its new state: for ours a coordinator listener added after the
  entities' own, for the generic ones the loop iteration after the board's
  ``last_update`` entity was written (wall clock on both sides, one machine);
- Home Assistant's process CPU per board-cycle (``time.process_time``, all threads),
  minus the quiet rate, over the board states that arrived in the window; the loop's
  busy time likewise (``benchmarks.remote.LoopMeter``);
- loop lag: a ``call_later(0.05)`` chain on Home Assistant's loop, each run's delay past
  its due time (p50, p99, max over the window);
- memory per board: the resident set after the warm-up minus before the fleet, over N
  (both kinds' modules are imported before the first reading);
- start-up: from the new instance's MQTT set-up to every entity available again.
"""

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import bootstrap, loader
from homeassistant.components.mqtt import client as mqtt_client
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import category_registry as cr
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import floor_registry as fr
from homeassistant.helpers import frame
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers import label_registry as lr
from homeassistant.helpers import restore_state as rs
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.json import json_bytes
from homeassistant.setup import async_setup_component
from homeassistant.util.json import json_loads
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    StoreWithoutWriteLoad,
    async_test_home_assistant,
)

from benchmarks.fleet_boards import BROKER_ENV, LAST_UPDATE, board_ids, generic_keys
from benchmarks.remote import LoopMeter, agent_cpu, p99, stop_agent, wait_for
from custom_components.qiot_enviro.agent import wire
from custom_components.qiot_enviro.const import (
    BOARD_REMOTE,
    CONF_BOARD,
    CONF_BOARD_ID,
    CONF_LEGACY_NOTIFY_NAME,
    DOMAIN,
)
from custom_components.qiot_enviro.coordinator import EnviroCoordinator
from custom_components.qiot_enviro.enviro.models import SensorGroup
from tests.broker import Broker, _free_port
from tests.fleet import async_setup_real_mqtt

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
USERS = {"agent": "agent-pw", "ha": "ha-pw"}
KINDS = ("ours", "generic")
SETTLE_SECONDS = 5.0
QUIET_SECONDS = 10.0
WARMUP_CYCLES = 2
LAG_INTERVAL = 0.05
SETUP_TIMEOUT = 120.0
PAGE = os.sysconf("SC_PAGE_SIZE")
# What the profile's own time is grouped by, first match wins (path fragments).
PROFILE_GROUPS = (
    ("qiot_enviro (ours)", "custom_components/qiot_enviro"),
    ("MQTT integration", "homeassistant/components/mqtt/"),
    ("sensor platform", "homeassistant/components/sensor/"),
    ("templates", "homeassistant/helpers/template"),
    ("jinja2", "jinja2/"),
    ("paho", "paho/"),
    ("state machine, events", "homeassistant/core.py"),
    ("entity helpers", "homeassistant/helpers/entity"),
    ("other helpers", "homeassistant/helpers/"),
    ("asyncio", "asyncio/"),
    ("json", "json"),
)


# -- measuring ------------------------------------------------------------------------------


class LagSampler:
    """How late a ``call_later(LAG_INTERVAL)`` chain runs on an event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start sampling at once; ``samples`` holds each run's lateness in seconds."""
        self.loop = loop
        self.samples: list[float] = []
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._schedule()

    def _schedule(self) -> None:
        self._handle = self.loop.call_later(LAG_INTERVAL, self._tick)
        self._due = self._handle.when()

    def _tick(self) -> None:
        self.samples.append(self.loop.time() - self._due)
        self._schedule()

    def stop(self) -> None:
        """Stop sampling."""
        if self._handle is not None:
            self._handle.cancel()


class Tracker:
    """The boards' states as they reach Home Assistant's entities."""

    def __init__(self) -> None:
        """Start counting; ``measuring`` decides what goes into the window."""
        self.per_board: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.handling: list[float] = []
        # When Home Assistant's MQTT client began dispatching each board's latest state.
        self.received: dict[str, float] = {}
        self.measuring = False

    def record(self, board: str, read_end: float) -> None:
        """Count one board-cycle whose read ended at ``read_end`` (epoch seconds)."""
        now = time.time()
        self.per_board[board] += 1
        if self.measuring:
            self.latencies.append(now - read_end)
            if (received := self.received.get(board)) is not None:
                self.handling.append(now - received)

    def warmed_up(self, boards: list[str], cycles: int) -> bool:
        """Tell whether every board delivered ``cycles`` states."""
        return all(self.per_board[board] >= cycles for board in boards)


def rss() -> int:
    """Return this process's resident set in bytes, after a full collection."""
    gc.collect()
    pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    return pages * PAGE


async def settled_rss() -> int:
    """Return ``rss()``, then let the loop turn before a window starts.

    The collection blocks the loop: the sleep lets the loop meter and the lag sampler
    account for it before a window starts, not in it.
    """
    size = rss()
    await asyncio.sleep(3 * LAG_INTERVAL)
    return size


def count_messages(counter: Counter[str], tracker: Tracker) -> Callable[[], None]:
    """Count each MQTT message Home Assistant's client dispatches, by the topic's last level.

    A board's state (ours, or the generic JSON state or last value) also stamps when its
    dispatch began, for the time Home Assistant takes from message to entities.
    """
    original = mqtt_client.MQTT._async_mqtt_on_message

    def counted(self: mqtt_client.MQTT, client: Any, userdata: Any, msg: Any) -> None:
        topic = msg.topic
        kind = topic.rsplit("/", 1)[-1]
        counter[kind] += 1
        if kind in ("state", LAST_UPDATE):
            tracker.received[topic.split("/", 2)[1]] = time.time()
        original(self, client, userdata, msg)

    mqtt_client.MQTT._async_mqtt_on_message = counted  # type: ignore[method-assign,assignment]

    def restore() -> None:
        mqtt_client.MQTT._async_mqtt_on_message = original  # type: ignore[method-assign]

    return restore


class GcPauses:
    """The garbage collector's pauses (every thread's: it stops them all)."""

    def __init__(self) -> None:
        """Start listening to ``gc.callbacks``."""
        self.pauses: list[float] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._start)

    def close(self) -> None:
        """Stop listening."""
        gc.callbacks.remove(self._callback)


# -- Home Assistant ------------------------------------------------------------------------


async def load_registries(hass: HomeAssistant, saved: dict[str, Any]) -> None:
    """Load the registries as ``async_test_home_assistant`` does, with ``saved``'s data.

    ``saved`` maps storage keys (``core.entity_registry``...) to what a registry had;
    the others start empty and nothing is written.
    """

    class SavedStore(StoreWithoutWriteLoad[dict[str, Any]]):  # type: ignore[misc]
        async def async_load(self) -> dict[str, Any] | None:
            return saved.get(self.key)

    dr.async_setup(hass)
    helpers = "homeassistant.helpers"
    with (
        patch(f"{helpers}.area_registry.AreaRegistryStore", SavedStore),
        patch(f"{helpers}.device_registry.DeviceRegistryStore", SavedStore),
        patch(f"{helpers}.entity_registry.EntityRegistryStore", SavedStore),
        patch(f"{helpers}.storage.Store", SavedStore),
        patch(f"{helpers}.issue_registry.IssueRegistryStore", SavedStore),
        patch(f"{helpers}.restore_state.RestoreStateData.async_setup_dump", return_value=None),
        patch(f"{helpers}.restore_state.start.async_at_start"),
    ):
        for registry in (ar, cr, dr, er, fr, ir, lr, rs):
            await registry.async_load(hass)
    hass.data[bootstrap.DATA_REGISTRIES_LOADED] = None


def saved_registries(hass: HomeAssistant) -> dict[str, Any]:
    """Return what the entity and device registries would write to disk now."""
    return {
        er.STORAGE_KEY: json_loads(json_bytes(er.async_get(hass)._data_to_save())),
        dr.STORAGE_KEY: json_loads(json_bytes(dr.async_get(hass)._data_to_save())),
    }


@asynccontextmanager
async def home_assistant(
    config_dir: Path, broker: Broker, registries: dict[str, Any] | None = None
) -> AsyncIterator[HomeAssistant]:
    """Yield a Home Assistant with ``http`` and MQTT connected; stop it at the end."""
    async with async_test_home_assistant(
        config_dir=str(config_dir), load_registries=registries is None
    ) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # enable_custom_integrations
        frame.async_setup(hass)
        if registries is not None:
            await load_registries(hass, registries)
        http = {"server_host": ["127.0.0.1"], "server_port": _free_port()}
        if not await async_setup_component(hass, "http", {"http": http}):
            raise RuntimeError("http did not set up")
        await async_setup_real_mqtt(hass, broker, "ha")
        try:
            yield hass
        finally:
            await hass.async_stop(force=True)


def import_platforms() -> None:
    """Import both kinds' platforms, so that no phase counts code as memory per board."""
    from homeassistant.components.mqtt import sensor as _mqtt_sensor  # noqa: PLC0415, F401

    from custom_components.qiot_enviro import (  # noqa: PLC0415, F401
        button,
        diagnostics,
        event,
        image,
        notify,
        select,
        sensor,
        switch,
    )


def remote_entries(boards: list[str]) -> list[MockConfigEntry]:
    """Return one remote config entry per board (stable entry ids, as on disk)."""
    return [
        MockConfigEntry(
            domain=DOMAIN,
            title=f"Enviro+ {board}",
            data={
                CONF_BOARD: BOARD_REMOTE,
                CONF_BOARD_ID: board,
                CONF_LEGACY_NOTIFY_NAME: f"qiot_lcd_{index}",
            },
            unique_id=board,
            entry_id=f"entry{index:04d}",
            version=1,
            minor_version=2,
        )
        for index, board in enumerate(boards)
    ]


async def setup_ours(hass: HomeAssistant, boards: list[str]) -> list[MockConfigEntry]:
    """Add one entry per board and set the integration up (all entries at once)."""
    entries = remote_entries(boards)
    for entry in entries:
        entry.add_to_hass(hass)
    if not await async_setup_component(hass, DOMAIN, {}):
        raise RuntimeError("qiot_enviro did not set up")
    await hass.async_block_till_done()
    not_loaded = [entry.title for entry in entries if entry.state is not ConfigEntryState.LOADED]
    if not_loaded:
        raise RuntimeError(f"{len(not_loaded)} entries not loaded, e.g. {not_loaded[0]}")
    return entries


async def wait_announced(hass: HomeAssistant, boards: list[str]) -> None:
    """Wait until every board's announcement is on the broker."""
    from homeassistant.components import mqtt  # noqa: PLC0415 - loaded by now

    seen: set[str] = set()
    done = asyncio.Event()

    @callback
    def announced(message: Any) -> None:
        parsed = wire.parse_topic(message.topic)
        if parsed is not None:
            seen.add(parsed[0])
        if seen >= set(boards):
            done.set()

    unsubscribe = await mqtt.async_subscribe(
        hass, wire.ANNOUNCE_FILTER, announced, qos=1, encoding=None
    )
    try:
        await wait_for(done, SETUP_TIMEOUT, "every board's announcement")
    finally:
        unsubscribe()


def board_entities(hass: HomeAssistant, kind: str, boards: list[str]) -> dict[str, list[str]]:
    """Return each board's enabled entity ids."""
    registry = er.async_get(hass)
    platform = DOMAIN if kind == "ours" else "mqtt"
    found: dict[str, list[str]] = {board: [] for board in boards}
    length = len(boards[0])  # board ids are all as long (board_ids)
    for entry in registry.entities.values():
        if entry.platform != platform or entry.disabled_by is not None:
            continue
        if (board := entry.unique_id[:length]) in found and entry.unique_id[length] == "_":
            found[board].append(entry.entity_id)
    return found


def available(hass: HomeAssistant, entity_ids: list[str]) -> bool:
    """Tell whether every entity has a state that is not unavailable."""
    for entity_id in entity_ids:
        state = hass.states.get(entity_id)
        if state is None or state.state == STATE_UNAVAILABLE:
            return False
    return True


async def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``check`` every 50 ms; fail saying what did not happen."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def track_ours(hass: HomeAssistant, tracker: Tracker) -> None:
    """Stamp each new state of our coordinators once its entities have written it."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        coordinator: EnviroCoordinator = entry.runtime_data
        board = entry.data[CONF_BOARD_ID]

        def updated(coordinator: EnviroCoordinator = coordinator, board: str = board) -> None:
            snapshot = coordinator.data.snapshot
            if snapshot.read_at == getattr(coordinator, "_bench_read_at", None):
                return
            coordinator._bench_read_at = snapshot.read_at  # type: ignore[attr-defined]
            tracker.record(board, snapshot.read_at.timestamp() + snapshot.duration)

        # Added after the entities' listeners: it runs once all of them wrote the state.
        entry.async_on_unload(coordinator.async_add_listener(updated))


def track_generic(hass: HomeAssistant, tracker: Tracker, boards: list[str]) -> None:
    """Stamp each board's new state in the loop iteration after its last_update entity."""
    registry = er.async_get(hass)
    by_entity: dict[str, str] = {}
    for board in boards:
        entity_id = registry.async_get_entity_id("sensor", "mqtt", f"{board}_{LAST_UPDATE}")
        if entity_id is None:
            raise RuntimeError(f"no last_update entity for {board}")
        by_entity[entity_id] = board

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if state is None:
            return
        try:
            read_end = float(state.state)
        except ValueError:
            return
        hass.loop.call_soon(tracker.record, by_entity[state.entity_id], read_end)

    async_track_state_change_event(hass, list(by_entity), changed)


def profile_summary(profile: cProfile.Profile, updates: int) -> dict[str, Any]:
    """Return where the loop thread's time went: by group, and the top functions."""
    stats = pstats.Stats(profile)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = {
        key: entry
        for key, entry in stats.stats.items()  # type: ignore[attr-defined]
        if "epoll" not in key[2]  # the loop waiting for work: not Home Assistant's time
    }
    total = sum(entry[2] for entry in raw.values())
    groups: dict[str, float] = {}
    for (path, _line, _name), entry in raw.items():
        group = next((name for name, part in PROFILE_GROUPS if part in path), "other")
        groups[group] = groups.get(group, 0.0) + entry[2]

    def label(key: tuple[str, int, str]) -> str:
        path, line, name = key
        short = path.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        return f"{short}:{line}({name})"

    by_own = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:15]
    by_cumulative = sorted(raw.items(), key=lambda item: item[1][3], reverse=True)
    interesting = [
        item
        for item in by_cumulative
        if not any(skip in item[0][0] for skip in ("asyncio/", "selectors", "benchmarks/remote.py"))
        and item[0][0] != "~"
    ][:20]
    return {
        "updates": updates,
        "total": total,
        "groups": sorted(groups.items(), key=lambda item: item[1], reverse=True),
        "own": [(label(key), entry[1], entry[2]) for key, entry in by_own],
        "cumulative": [(label(key), entry[1], entry[3]) for key, entry in interesting],
    }


# -- one phase -------------------------------------------------------------------------------


def start_fleet(args: argparse.Namespace, folder: Path, broker: Broker) -> subprocess.Popen[bytes]:
    """Start the boards' process (the broker's URL goes in its environment)."""
    command = [str(PYTHON), "-m", "benchmarks.fleet_boards", "--kind", args.phase]
    command += ["--count", str(args.size), "--cycle", str(args.cycle), "--folder", str(folder)]
    if args.generic_topics:
        command.append("--generic-topics")
    environment = {**os.environ, BROKER_ENV: broker.url("agent")}
    with (folder / "fleet.log").open("ab") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )


async def run_phase(args: argparse.Namespace, folder: Path, broker: Broker) -> dict[str, Any]:
    """Measure one kind at one fleet size; return the numbers."""
    kind, size, cycle = args.phase, args.size, args.cycle
    boards = board_ids(kind, size)
    config_dir = folder / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text("", encoding="utf-8")  # MQTT reads it
    results: dict[str, Any] = {"kind": kind, "size": size, "cycle": cycle}
    messages: Counter[str] = Counter()
    tracker = Tracker()
    restore = count_messages(messages, tracker)
    pauses = GcPauses()
    fleet: subprocess.Popen[bytes] | None = None
    try:
        async with home_assistant(config_dir, broker) as hass:
            loop = asyncio.get_running_loop()
            meter = LoopMeter(loop)
            lag = LagSampler(loop)
            import_platforms()
            await asyncio.sleep(SETTLE_SECONDS)  # MQTT's own start-up work
            rss_before = await settled_rss()
            start = (time.perf_counter(), meter.busy, time.process_time(), time.thread_time())
            lag.samples.clear()
            await asyncio.sleep(QUIET_SECONDS)
            elapsed = time.perf_counter() - start[0]
            results["quiet"] = {
                "cpu": (time.process_time() - start[2]) / elapsed,
                "busy": (meter.busy - start[1]) / elapsed,
                "thread": (time.thread_time() - start[3]) / elapsed,
                "lag": lag.samples[:],
            }

            fleet = start_fleet(args, folder, broker)
            started = time.perf_counter()
            if kind == "ours":
                await wait_announced(hass, boards)
                await setup_ours(hass, boards)
                track_ours(hass, tracker)
            else:
                # A fleet board is a simulated Enviro+ without its microphone.
                keys = len(generic_keys(set(SensorGroup) - {SensorGroup.NOISE}))
                await wait_until(
                    lambda: all(
                        len(e) == keys for e in board_entities(hass, kind, boards).values()
                    ),
                    SETUP_TIMEOUT,
                    "the generic entities",
                )
                track_generic(hass, tracker, boards)
            entities = board_entities(hass, kind, boards)
            await wait_until(
                lambda: all(available(hass, ids) for ids in entities.values()),
                SETUP_TIMEOUT,
                "every board's entities available",
            )
            results["setup_seconds"] = time.perf_counter() - started
            await wait_until(
                lambda: tracker.warmed_up(boards, WARMUP_CYCLES),
                SETUP_TIMEOUT + WARMUP_CYCLES * cycle * 3,
                "the warm-up states",
            )
            results["rss_per_board"] = (await settled_rss() - rss_before) / size
            results["entities_per_board"] = statistics.mean(len(e) for e in entities.values())

            changes = [0]

            @callback
            def state_changed(_event: Event[EventStateChangedData]) -> None:
                changes[0] += 1

            hass.bus.async_listen(EVENT_STATE_CHANGED, state_changed)
            # The measured window.
            messages.clear()
            lag.samples.clear()
            pauses.pauses.clear()
            tracker.measuring = True
            fleet_cpu = agent_cpu(fleet.pid)
            start = (time.perf_counter(), meter.busy, time.process_time(), time.thread_time())
            await asyncio.sleep(args.duration)
            elapsed = time.perf_counter() - start[0]
            cpu, busy = time.process_time() - start[2], meter.busy - start[1]
            thread = time.thread_time() - start[3]
            changed = changes[0]
            fleet_cpu = agent_cpu(fleet.pid) - fleet_cpu
            tracker.measuring = False
            updates = len(tracker.latencies)
            results["window"] = {
                "wall": elapsed,
                "updates": updates,
                "cpu": cpu,
                "busy": busy,
                "thread": thread,
                "fleet_cpu": fleet_cpu,
                "latencies": tracker.latencies,
                "handling": tracker.handling,
                "gc": pauses.pauses[:],
                "state_changes": changed,
                "lag": lag.samples[:],
                "messages": dict(messages),
            }
            if args.profile:
                profile = cProfile.Profile()
                before = sum(tracker.per_board.values())
                profile.enable()
                await asyncio.sleep(args.profile)
                profile.disable()
                results["profile"] = profile_summary(
                    profile, sum(tracker.per_board.values()) - before
                )

            expected = [
                entity_id
                for ids in board_entities(hass, kind, boards).values()
                for entity_id in ids
                if (state := hass.states.get(entity_id)) is not None
                and state.state != STATE_UNAVAILABLE
            ]
            registries = saved_registries(hass)
            lag.stop()

        # Home Assistant restarts; the boards and the broker's retained messages stay.
        started = time.perf_counter()
        async with home_assistant(config_dir, broker, registries) as hass:
            connected = time.perf_counter() - started
            if kind == "ours":
                for entry in remote_entries(boards):
                    entry.add_to_hass(hass)
                if not await async_setup_component(hass, DOMAIN, {}):
                    raise RuntimeError("qiot_enviro did not set up after the restart")
            await wait_until(
                lambda: available(hass, expected),
                SETUP_TIMEOUT,
                "every entity available after the restart",
            )
            results["restart"] = {
                "seconds": time.perf_counter() - started,
                "mqtt_connected": connected,
                "entities": len(expected),
            }
    finally:
        restore()
        pauses.close()
        if fleet is not None:
            results["fleet_exit"] = stop_agent(fleet)
    return results


def run_phase_process(args: argparse.Namespace) -> None:
    """One phase in this process: a broker of its own, Home Assistant, the fleet."""
    folder = Path(tempfile.mkdtemp(prefix=f"qiot-bench-fleet-{args.phase}-{args.size}-"))
    try:
        with Broker(USERS, persistence=False) as broker:
            results = asyncio.run(run_phase(args, folder, broker))
        Path(args.out).write_text(json.dumps(results), encoding="utf-8")
    except BaseException:
        log = folder / "fleet.log"
        if log.exists():
            print(f"--- fleet.log\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the table -------------------------------------------------------------------------------


def summary(results: dict[str, Any]) -> dict[str, float]:
    """Return one phase's measures (seconds, bytes, counts)."""
    window = results["window"]
    quiet = results["quiet"]
    updates = window["updates"]
    wall = window["wall"]
    latencies = window["latencies"]
    lag = window["lag"]
    return {
        "latency_p50": statistics.median(latencies),
        "latency_p99": p99(latencies) if len(latencies) > 1 else latencies[0],
        "handling_p50": statistics.median(window["handling"]),
        "handling_p99": p99(window["handling"]),
        "cpu": (window["cpu"] - quiet["cpu"] * wall) / updates,
        "thread": (window["thread"] - quiet["thread"] * wall) / updates,
        "busy": (window["busy"] - quiet["busy"] * wall) / updates,
        "lag_p50": statistics.median(lag),
        "lag_p99": p99(lag),
        "lag_max": max(lag),
        "gc_max": max(window["gc"], default=0.0),
        "rss": results["rss_per_board"],
        "restart": results["restart"]["seconds"],
        "setup": results["setup_seconds"],
        "entities": results["entities_per_board"],
        "messages": sum(window["messages"].values()) / updates,
        "state_changes": window["state_changes"] / updates,
        "fleet_cpu": window["fleet_cpu"] / updates,
        "updates": updates,
        "utilisation": window["busy"] / wall,
    }


ROWS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("read to state in Home Assistant, p50", "latency_p50", lambda v: f"{v * 1000:.1f} ms"),
    ("read to state in Home Assistant, p99", "latency_p99", lambda v: f"{v * 1000:.1f} ms"),
    (
        "HA side: message in to entities written, p50",
        "handling_p50",
        lambda v: f"{v * 1000:.2f} ms",
    ),
    (
        "HA side: message in to entities written, p99",
        "handling_p99",
        lambda v: f"{v * 1000:.2f} ms",
    ),
    ("HA process CPU per board-cycle, minus idle", "cpu", lambda v: f"{v * 1000:.2f} ms"),
    ("HA loop thread CPU per board-cycle, minus idle", "thread", lambda v: f"{v * 1000:.2f} ms"),
    ("HA loop busy per board-cycle, minus idle", "busy", lambda v: f"{v * 1000:.2f} ms"),
    ("HA loop busy, all (fraction of the window)", "utilisation", lambda v: f"{v * 100:.1f} %"),
    ("loop lag p50", "lag_p50", lambda v: f"{v * 1000:.2f} ms"),
    ("loop lag p99", "lag_p99", lambda v: f"{v * 1000:.2f} ms"),
    ("loop lag max", "lag_max", lambda v: f"{v * 1000:.1f} ms"),
    ("longest garbage collection in the window", "gc_max", lambda v: f"{v * 1000:.1f} ms"),
    ("HA memory per board (RSS)", "rss", lambda v: f"{v / 1024:.0f} KiB"),
    ("start-up until all available, after a restart", "restart", lambda v: f"{v:.2f} s"),
    ("MQTT messages into HA per board-cycle", "messages", lambda v: f"{v:.2f}"),
    ("entities per board (enabled)", "entities", lambda v: f"{v:.0f}"),
    ("state changes per board-cycle (recorder rows)", "state_changes", lambda v: f"{v:.1f}"),
    ("board-cycles measured", "updates", lambda v: f"{v:.0f}"),
    ("fleet process CPU per board-cycle", "fleet_cpu", lambda v: f"{v * 1000:.2f} ms"),
)


def print_table(args: argparse.Namespace, phases: dict[tuple[int, str], dict[str, Any]]) -> None:
    """Print both kinds side by side per fleet size, and the ratio."""
    kinds = args.kinds
    header = " | ".join(kinds)
    ratio = len(kinds) == 2
    print(f"| boards | measure | {header} |{' ours / generic |' if ratio else ''}")
    print(f"|---:|---|{'---:|' * len(kinds)}{'---:|' if ratio else ''}")
    for size in args.sizes:
        measures = {kind: summary(phases[size, kind]) for kind in kinds}
        for name, key, fmt in ROWS:
            cells = " | ".join(fmt(measures[kind][key]) for kind in kinds)
            line = f"| {size} | {name} | {cells} |"
            if ratio:
                ours, generic = measures[kinds[0]][key], measures[kinds[1]][key]
                line += f" {ours / generic:.2f} |" if generic else " - |"
            print(line)


def print_profiles(phases: dict[tuple[int, str], dict[str, Any]]) -> None:
    """Print where Home Assistant's loop thread spent its time, per profiled phase."""
    for (size, kind), results in sorted(phases.items()):
        profile = results.get("profile")
        if profile is None:
            continue
        updates = max(1, profile["updates"])
        print()
        print(
            f"Profile, {kind}, {size} boards: {profile['total']:.2f} s of loop-thread time "
            f"(cProfile, with its overhead) over {profile['updates']} board-cycles, "
            f"{profile['total'] / updates * 1000:.2f} ms each"
        )
        print()
        print("| where (own time) | share | per board-cycle |")
        print("|---|---:|---:|")
        for group, seconds in profile["groups"]:
            print(
                f"| {group} | {seconds / profile['total'] * 100:.1f} % "
                f"| {seconds / updates * 1000:.3f} ms |"
            )
        print()
        print("| top functions, cumulative | calls | per board-cycle |")
        print("|---|---:|---:|")
        for label, calls, seconds in profile["cumulative"]:
            print(f"| `{label}` | {calls} | {seconds / updates * 1000:.3f} ms |")
        print()
        print("| top functions, own time | calls | per board-cycle |")
        print("|---|---:|---:|")
        for label, calls, seconds in profile["own"]:
            print(f"| `{label}` | {calls} | {seconds / updates * 1000:.3f} ms |")


def print_prediction(
    args: argparse.Namespace, phases: dict[tuple[int, str], dict[str, Any]]
) -> None:
    """Extrapolate the largest size to 1,000 boards."""
    size = max(args.sizes)
    print()
    print(f"Extrapolated to 1,000 boards at a {args.cycle:g} s cycle, from {size} boards:")
    for kind in args.kinds:
        measures = summary(phases[size, kind])
        rate = 1000 / args.cycle
        print(
            f"- {kind}: loop {measures['busy'] * rate * 100:.0f} % busy and "
            f"{measures['cpu'] * rate * 100:.0f} % of a core (process CPU) for the boards, "
            f"{measures['rss'] * 1000 / 2**20:.0f} MiB, "
            f"{measures['messages'] * rate:.0f} MQTT messages/s into Home Assistant"
        )


def main() -> None:
    """Run every phase in a process of its own and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="fleet sizes, comma-separated")
    parser.add_argument("--cycle", type=float, default=5.0, help="seconds per board cycle")
    parser.add_argument("--duration", type=float, default=45.0, help="measured seconds")
    parser.add_argument("--kinds", default="ours,generic", help="ours and/or generic")
    parser.add_argument("--generic-topics", action="store_true", help="one topic per value")
    parser.add_argument(
        "--profile", type=float, default=0.0, help="seconds of cProfile at the largest size"
    )
    parser.add_argument("--phase", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        run_phase_process(args)
        return
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.kinds = [kind for kind in KINDS if kind in args.kinds.split(",")]
    started = time.monotonic()
    phases: dict[tuple[int, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="qiot-bench-fleet-") as folder:
        for size in args.sizes:
            for kind in args.kinds:
                out = Path(folder) / f"{kind}-{size}.json"
                command = [str(PYTHON), "-m", "benchmarks.fleet", "--phase", kind]
                command += ["--size", str(size), "--cycle", str(args.cycle)]
                command += ["--duration", str(args.duration), "--out", str(out)]
                if args.generic_topics:
                    command.append("--generic-topics")
                if args.profile and size == max(args.sizes):
                    command += ["--profile", str(args.profile)]
                print(f"phase: {kind}, {size} boards", file=sys.stderr, flush=True)
                subprocess.run(command, cwd=ROOT, check=True, stdin=subprocess.DEVNULL)
                phases[size, kind] = json.loads(out.read_text(encoding="utf-8"))
    options = f"--sizes {','.join(map(str, args.sizes))} --cycle {args.cycle:g} "
    options += f"--duration {args.duration:g} --kinds {','.join(args.kinds)}"
    if args.generic_topics:
        options += " --generic-topics"
    if args.profile:
        options += f" --profile {args.profile:g}"
    print(f"command: .venv/bin/python -m benchmarks.fleet {options}")
    print()
    print(
        f"Simulated Enviro+ boards, cycle {args.cycle:g} s, {args.duration:g} s measured per "
        f"phase after {WARMUP_CYCLES} cycles of warm-up; one Mosquitto on loopback per phase; "
        f"{time.monotonic() - started:.0f} s in all."
    )
    print()
    print_table(args, phases)
    print_prediction(args, phases)
    print_profiles(phases)


if __name__ == "__main__":
    main()
