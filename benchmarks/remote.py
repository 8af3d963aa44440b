"""A remote board (agent over a real Mosquitto) against a local simulated board, same run.

Run from the repository root: ``.venv/bin/python -m benchmarks.remote [--cycles N]
[--cycle SECONDS]``. It starts ``/usr/sbin/mosquitto`` on a free loopback port (through
``tests/broker.py``, stopped by its pid), a Home Assistant core in this process the way
pytest-homeassistant-custom-component builds one (``async_test_home_assistant``, custom
integrations enabled, ``http`` on a free loopback port, the real MQTT integration with
its real paho client pointed at the broker), and the agent as a process of its own
(``python -m custom_components.qiot_enviro.agent run --config <toml, mode 600>``,
simulated Enviro+), stopped by its pid. Phases, one after the other:

1. quiet: Home Assistant with MQTT connected and no board, to learn the idle rates of
   the event loop's busy time and of the process's CPU time;
2. local: a simulated Enviro+ entry (the existing coordinator: ``Board.read`` in the
   executor, then derivation and entity writes on the loop), refreshed every ``--cycle``
   seconds by ``coordinator.async_refresh()`` (its own timer rounds to whole seconds);
3. remote: the agent with ``cycle = --cycle`` and a remote entry
   ``{"board": "remote", "board_id": ..., "legacy_notify_name": "qiot_lcd"}``;
4. after Home Assistant stopped: the same agent command with a 3600 s cycle (one read,
   then only its idle work: MQTT keep-alive, LCD screens, the emulated PMS5003), to
   subtract the agent's idle CPU.

The first 20 updates of each board are not counted. Measures:

- read to state: from the end of ``Board.read`` (the snapshot's ``read_at`` + its
  ``duration``: ``read_at`` is taken as the read starts) to a coordinator listener added
  after the entities' own, so it runs once every entity has written its state; wall
  clock on both sides (the agent's clock is this machine's);
- delivering loop iteration: the event loop's busy time in the one iteration in which
  that listener ran (for the remote board: the MQTT client's socket read, paho's
  parsing, Home Assistant's dispatch, our callback, entity writes; for the local board:
  the coordinator task resuming after the executor, derivation, entity writes). Busy
  time is accounted by wrapping the loop selector's ``select``: what is not spent
  waiting in it is busy;
- loop busy per update: all busy time of the loop over the measured updates, minus the
  quiet rate over the same wall time, divided by the updates (everything an update
  costs the loop: timers, executor hand-off, LCD previews and readings commands);
- our code per update: perf_counter around ``RemoteCoordinator._received`` for state
  messages (decode, checks, derivation, entity writes); for the local board around
  ``_log_transitions`` + ``_derive`` + ``_update_particulate_issue`` +
  ``async_update_listeners`` (derivation and entity writes);
- Home Assistant's process CPU per update (``time.process_time``, minus the quiet
  rate): the local board's includes its read in the executor and its LCD rendering;
- board-side CPU per cycle: the agent process's utime + stime from ``/proc/<pid>/stat``
  (10 ms ticks) over the measured cycles, minus its idle rate, against the local
  board's ``_read_cycle`` in the executor (``time.thread_time``). Both include the
  emulator's CPU, which stands in for the I2C bus a real board waits on.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import frame
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.qiot_enviro import remote as remote_module
from custom_components.qiot_enviro.const import (
    BOARD_REMOTE,
    BOARD_SIMULATED,
    CONF_BOARD,
    CONF_BOARD_ID,
    CONF_LEGACY_NOTIFY_NAME,
    CONF_UART_PATH,
    DOMAIN,
)
from custom_components.qiot_enviro.coordinator import EnviroCoordinator
from custom_components.qiot_enviro.enviro.bus import DEFAULT_UART
from tests.broker import Broker, _free_port
from tests.fleet import async_setup_real_mqtt

ROOT = Path(__file__).resolve().parents[1]
BOARD_ID = "bench-remote"
IDLE_BOARD_ID = "bench-idle"
WARMUP = 20
QUIET_SECONDS = 3.0
IDLE_AGENT_SECONDS = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PYTHON = Path(sys.executable)  # the repository's .venv when run as documented


# -- measuring ----------------------------------------------------------------------------


class LoopMeter:
    """Busy time of an event loop: wall time not spent blocked in the selector's select."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wrap the selector of ``loop`` (a selector event loop)."""
        selector = loop._selector  # type: ignore[attr-defined]
        self._select = selector.select
        selector.select = self._timed_select
        self.busy = 0.0
        self._woke = time.perf_counter()
        self.marked = False
        self.marked_iterations: list[float] = []

    def _timed_select(self, timeout: float | None = None) -> Any:
        now = time.perf_counter()
        busy = now - self._woke
        self.busy += busy
        if self.marked:
            self.marked = False
            self.marked_iterations.append(busy)
        events = self._select(timeout)
        self._woke = time.perf_counter()
        return events

    def mark(self) -> None:
        """Attribute the current loop iteration to an update."""
        self.marked = True


def agent_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system, every thread) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def p99(values: list[float]) -> float:
    """Return the 99th percentile."""
    return statistics.quantiles(values, n=100, method="inclusive")[98]


class Window:
    """Counters read at the first and the last counted update."""

    def __init__(self) -> None:
        """Start empty."""
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}

    def delta(self, key: str) -> float:
        """Return how much ``key`` grew over the window."""
        return self.end[key] - self.start[key]


class Board:
    """One board's updates as Home Assistant sees them."""

    def __init__(self, meter: LoopMeter, cycles: int) -> None:
        """Count ``WARMUP`` updates, then ``cycles`` measured ones."""
        self.meter = meter
        self.cycles = cycles
        self.count = 0
        self.latencies: list[float] = []
        self.delivering: list[float] = []
        self.handler: list[float] = []
        self._handler_now = 0.0
        self.window = Window()
        self.started = asyncio.Event()
        self.done = asyncio.Event()
        self.seq = 0
        self._last_read: Any = None

    def add_handler_time(self, seconds: float) -> None:
        """Add time spent in our code for the update under way."""
        self._handler_now += seconds

    def listener(self, coordinator: EnviroCoordinator) -> Callable[[], None]:
        """Return the coordinator listener that stamps each new state."""

        def updated() -> None:
            now = time.time()
            data = coordinator.data
            if data is None or data.snapshot.read_at == self._last_read:
                return
            self._last_read = data.snapshot.read_at
            snapshot = data.snapshot
            handler, self._handler_now = self._handler_now, 0.0
            self.count += 1
            if self.count == WARMUP:
                self.window.start = self.counters()
                self.started.set()
            elif WARMUP < self.count <= WARMUP + self.cycles:
                self.latencies.append(now - (snapshot.read_at.timestamp() + snapshot.duration))
                self.handler.append(handler)
                self.meter.mark()
                if self.count == WARMUP + self.cycles:
                    self.window.end = self.counters()
                    self.done.set()

        return updated

    def counters(self) -> dict[str, float]:
        """Read the counters of the window (cheap: no file reads on the loop)."""
        return {
            "wall": time.perf_counter(),
            "busy": self.meter.busy,
            "cpu": time.process_time(),
        }

    def collect(self) -> None:
        """Take the delivering iterations measured since the window started."""
        self.delivering = self.meter.marked_iterations[-self.cycles :]


def timed(add: Callable[[float], None], func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``func`` so that its duration goes to ``add``."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            add(time.perf_counter() - start)

    return wrapper


# -- the agent ------------------------------------------------------------------------------


def start_agent(
    folder: Path, broker: Broker, board_id: str, cycle: float
) -> tuple[subprocess.Popen[bytes], list[str]]:
    """Start the agent as users run it; return the process and its command."""
    config = folder / f"{board_id}.toml"
    config.touch(mode=0o600)
    config.chmod(0o600)
    config.write_text(
        f'broker = "{broker.url("agent")}"\n'
        'simulated = "enviro_plus"\n'
        f'board_id = "{board_id}"\n'
        f"cycle = {cycle}\n"
        f'state_file = "{folder / board_id}.json"\n'
        'log_level = "WARNING"\n'
        "birth_delay = 0.5\n",
        encoding="utf-8",
    )
    command = [str(PYTHON), "-m", "custom_components.qiot_enviro.agent", "run"]
    command += ["--config", str(config)]
    with (folder / f"{board_id}.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    return process, command


def stop_agent(process: subprocess.Popen[bytes]) -> int:
    """Stop the agent by its pid (SIGTERM, then SIGKILL); return its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


def agent_idle_rate(folder: Path, broker: Broker) -> tuple[float, int]:
    """Return the agent's CPU seconds per second when it reads once an hour, and its exit code."""
    process, _ = start_agent(folder, broker, IDLE_BOARD_ID, 3600.0)
    try:
        # Start-up (imports, opening the board, the first read, the startup screen).
        time.sleep(6.0)
        cpu0, wall0 = agent_cpu(process.pid), time.perf_counter()
        time.sleep(IDLE_AGENT_SECONDS)
        cpu1, wall1 = agent_cpu(process.pid), time.perf_counter()
    finally:
        code = stop_agent(process)
    return (cpu1 - cpu0) / (wall1 - wall0), code


# -- Home Assistant ------------------------------------------------------------------------


async def wait_for(event: asyncio.Event, seconds: float, what: str) -> None:
    """Wait for ``event``; fail saying what did not happen."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


async def quiet_rates(meter: LoopMeter) -> tuple[float, float]:
    """Return the loop's busy fraction and the process's CPU rate with no board."""
    await asyncio.sleep(1.0)
    wall, busy, cpu = time.perf_counter(), meter.busy, time.process_time()
    await asyncio.sleep(QUIET_SECONDS)
    elapsed = time.perf_counter() - wall
    return (meter.busy - busy) / elapsed, (time.process_time() - cpu) / elapsed


async def measure_local(
    hass: HomeAssistant, meter: LoopMeter, cycles: int, cycle: float
) -> tuple[Board, list[float]]:
    """Refresh a simulated local board every ``cycle`` seconds; return its updates."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+ (simulated)",
        data={
            CONF_BOARD: BOARD_SIMULATED,
            CONF_UART_PATH: DEFAULT_UART,
            CONF_LEGACY_NOTIFY_NAME: "qiot_lcd",
        },
        unique_id="sim-0000000000000001",
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError("the local simulated board did not set up")
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    # Refreshed by this script at the agent's cycle; the coordinator's own timer rounds
    # to whole seconds (int(loop.time()) + offset + interval).
    coordinator.update_interval = None
    coordinator._async_unsub_refresh()
    board = Board(meter, cycles)
    read_cpu: list[float] = []
    read_cycle = coordinator._read_cycle

    def read_in_executor(probe: bool) -> Any:
        start = time.thread_time()
        try:
            return read_cycle(probe)
        finally:
            read_cpu.append(time.thread_time() - start)

    coordinator._read_cycle = read_in_executor
    for name in ("_log_transitions", "_derive", "_update_particulate_issue"):
        setattr(coordinator, name, timed(board.add_handler_time, getattr(coordinator, name)))
    coordinator.async_update_listeners = timed(
        board.add_handler_time, coordinator.async_update_listeners
    )
    unsubscribe = coordinator.async_add_listener(board.listener(coordinator))
    next_at = time.monotonic()
    reads_before = 0
    while not board.done.is_set():
        if board.count == WARMUP and not reads_before:
            reads_before = len(read_cpu)
        await coordinator.async_refresh()
        next_at = max(next_at + cycle, time.monotonic())
        await asyncio.sleep(next_at - time.monotonic())
    board.collect()
    unsubscribe()
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    return board, read_cpu[reads_before : reads_before + cycles]


async def measure_remote(
    hass: HomeAssistant,
    meter: LoopMeter,
    folder: Path,
    broker: Broker,
    *,
    cycles: int,
    cycle: float,
) -> tuple[Board, dict[str, Any]]:
    """Run the agent and a remote entry; return its updates and the agent's CPU and cycles."""
    board = Board(meter, cycles)
    received = remote_module.RemoteCoordinator._received

    @callback  # Home Assistant runs a subscription callback without it in the executor
    def timed_received(self: Any, message: Any) -> None:
        start = time.perf_counter()
        received(self, message)
        if message.topic.endswith("/state"):
            board.add_handler_time(time.perf_counter() - start)

    remote_module.RemoteCoordinator._received = timed_received  # type: ignore[method-assign]
    from homeassistant.components import mqtt  # noqa: PLC0415 - loaded by now

    announced = asyncio.Event()
    unsubscribe_announce = await mqtt.async_subscribe(
        hass,
        remote_module.wire.topic(BOARD_ID, remote_module.wire.ANNOUNCE),
        callback(lambda _message: announced.set()),
        qos=1,
        encoding=None,
    )
    process, command = start_agent(folder, broker, BOARD_ID, cycle)
    try:
        # The agent's imports and start take a few seconds; then it announces.
        await wait_for(announced, 60, "the agent's announcement")
        unsubscribe_announce()
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Enviro+ (simulated) on bench",
            data={
                CONF_BOARD: BOARD_REMOTE,
                CONF_BOARD_ID: BOARD_ID,
                CONF_LEGACY_NOTIFY_NAME: "qiot_lcd",
            },
            unique_id=BOARD_ID,
            version=1,
            minor_version=2,
        )
        entry.add_to_hass(hass)
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise RuntimeError("the remote board did not set up")
        await hass.async_block_till_done()
        coordinator = entry.runtime_data

        seq = [0]
        decode = remote_module.wire.decode_state

        def decode_state(payload: bytes, *args: Any) -> Any:
            state = decode(payload, *args)
            seq[0] = state.seq
            return state

        remote_module.wire.decode_state = decode_state  # type: ignore[assignment]
        unsubscribe = coordinator.async_add_listener(board.listener(coordinator))
        await wait_for(board.started, 30 + WARMUP * cycle * 3, "the remote warm-up states")
        # Read outside the listener (a file read); the seq says how many cycles passed.
        cpu_start, seq_start = agent_cpu(process.pid), seq[0]
        wall_start = time.perf_counter()
        await wait_for(board.done, 30 + cycles * cycle * 3, "the remote states")
        cpu_end, seq_end = agent_cpu(process.pid), seq[0]
        wall_end = time.perf_counter()
        remote_module.wire.decode_state = decode
        board.collect()
        unsubscribe()
        if coordinator.dropped:
            print(f"WARNING: {coordinator.dropped} remote messages dropped", file=sys.stderr)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        remote_module.RemoteCoordinator._received = received  # type: ignore[method-assign]
        code = stop_agent(process)
    if code != 0:
        raise RuntimeError(f"the agent exited with {code}")
    agent = {
        "cpu": cpu_end - cpu_start,
        "wall": wall_end - wall_start,
        "cycles": seq_end - seq_start,
        "command": [*command[:-1], "<toml>"],
    }
    return board, agent


async def run(args: argparse.Namespace, folder: Path, broker: Broker) -> dict[str, Any]:
    """Set Home Assistant up and measure both boards."""
    config_dir = folder / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text("", encoding="utf-8")  # MQTT reads it
    async with async_test_home_assistant(config_dir=str(config_dir)) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # enable_custom_integrations
        frame.async_setup(hass)
        meter = LoopMeter(asyncio.get_running_loop())
        http = {"server_host": ["127.0.0.1"], "server_port": _free_port()}
        if not await async_setup_component(hass, "http", {"http": http}):
            raise RuntimeError("http did not set up")
        await async_setup_real_mqtt(hass, broker, "ha")
        quiet_busy, quiet_cpu = await quiet_rates(meter)
        local, read_cpu = await measure_local(hass, meter, args.cycles, args.cycle)
        remote, agent = await measure_remote(
            hass, meter, folder, broker, cycles=args.cycles, cycle=args.cycle
        )
        for entry in hass.config_entries.async_entries():
            if entry.state.recoverable:
                await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_stop(force=True)
    return {
        "quiet_busy": quiet_busy,
        "quiet_cpu": quiet_cpu,
        "local": local,
        "read_cpu": read_cpu,
        "remote": remote,
        "agent": agent,
    }


# -- the table -----------------------------------------------------------------------------


def per_update(board: Board, quiet: float, key: str) -> float:
    """Return ``key``'s growth per measured update, minus the quiet rate over the window."""
    wall = board.window.delta("wall")
    return (board.window.delta(key) - quiet * wall) / board.cycles


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    """Run the phases and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300, help="measured updates per board")
    parser.add_argument("--cycle", type=float, default=0.1, help="seconds per cycle (>= 0.1)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qiot-bench-remote-"))
    started = time.monotonic()
    try:
        with Broker({"agent": "agent-pw", "ha": "ha-pw"}, persistence=False) as broker:
            results = asyncio.run(run(args, folder, broker))
            idle_rate, idle_code = agent_idle_rate(folder, broker)
            mosquitto = broker.pid
    except BaseException:
        for log in sorted(folder.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        for log in sorted(folder.glob("*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if " WARNING " in line or " ERROR " in line:
                    print(f"{log.stem}: {line}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
    if idle_code != 0:
        raise RuntimeError(f"the idle agent exited with {idle_code}")
    local: Board = results["local"]
    remote: Board = results["remote"]
    agent = results["agent"]
    agent_cycles = agent["cycles"]
    agent_per_cycle = (agent["cpu"] - idle_rate * agent["wall"]) / agent_cycles
    agent_raw = agent["cpu"] / agent_cycles
    read_cpu = statistics.mean(results["read_cpu"])

    rows: list[tuple[str, float, float]] = [
        (
            "read to state in Home Assistant, median",
            statistics.median(local.latencies),
            statistics.median(remote.latencies),
        ),
        ("read to state in Home Assistant, p99", p99(local.latencies), p99(remote.latencies)),
        (
            "loop iteration that delivers the update, median",
            statistics.median(local.delivering),
            statistics.median(remote.delivering),
        ),
        (
            "loop busy time per update, minus idle (mean)",
            per_update(local, results["quiet_busy"], "busy"),
            per_update(remote, results["quiet_busy"], "busy"),
        ),
        (
            "our code on the loop per update, median",
            statistics.median(local.handler),
            statistics.median(remote.handler),
        ),
        (
            "Home Assistant process CPU per update, minus idle (mean)",
            per_update(local, results["quiet_cpu"], "cpu"),
            per_update(remote, results["quiet_cpu"], "cpu"),
        ),
        ("board-side CPU per cycle, minus idle (mean)", read_cpu, agent_per_cycle),
    ]
    command = " ".join(agent["command"])
    print(
        f"command: .venv/bin/python -m benchmarks.remote --cycles {args.cycles} "
        f"--cycle {args.cycle:g}  (agent: {command.replace(str(ROOT) + '/', '')})"
    )
    print()
    print(
        f"Simulated Enviro+, cycle {args.cycle:g} s, {args.cycles} measured updates per board "
        f"after {WARMUP}; Mosquitto (pid {mosquitto}) on loopback; "
        f"{time.monotonic() - started:.0f} s in all."
    )
    print()
    print("| measure | local board | remote board | remote / local |")
    print("|---|---:|---:|---:|")
    for name, here, there in rows:
        print(f"| {name} | {ms(here)} | {ms(there)} | {there / here:.2f} |")
    print()
    print(
        f"Board side: local = Board.read in Home Assistant's executor (thread CPU); remote = "
        f"the agent process over {agent_cycles} cycles: {ms(agent_raw)} per cycle with its "
        f"idle work, idle {idle_rate * 100:.2f} % of a core. Loop idle with MQTT connected: "
        f"{results['quiet_busy'] * 100:.2f} % busy."
    )


if __name__ == "__main__":
    main()
