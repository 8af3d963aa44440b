"""The agent: reads the board every cycle and talks to Home Assistant over MQTT.

An asyncio loop in the main thread owns all state. Board reads run in one worker
thread (hardware access stays serialized); paho-mqtt runs its network loop in its own
thread and every callback is handed to the asyncio loop with ``call_soon_threadsafe``.
The LCD is driven by :class:`~..display.controller.DisplayController`, the same state
machine Home Assistant runs for a local board (startup screen, messages, rotating
readings pages, clock, off, taps, backlight), here on the asyncio loop's clock; each new
picture is published as the retained preview, each tap on the tap topic.
"""

import asyncio
import contextlib
import logging
import math
import random
import secrets
import signal
import socket
import ssl
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..display import controller as display_controller
from ..display.controller import DisplayController, LoopScheduler, Message
from ..display.layout import MAX_SIZE, MIN_SIZE
from ..display.screens import Readings
from ..enviro.board import Board
from ..enviro.emulator.board import EmulatedBoard, create_simulated
from ..enviro.emulator.scenarios import CLEAR, apply_scenario
from ..enviro.errors import BoardError
from ..enviro.models import Detection, SensorGroup, Variant
from . import __version__
from .settings import Settings
from .state import AgentState, load_state, save_state
from .wire import (
    ANNOUNCE,
    CMD_BACKLIGHT,
    CMD_DISMISS,
    CMD_DISPLAY,
    CMD_FAULT,
    CMD_READINGS,
    CMD_SAMPLING,
    CMD_SHOW,
    HA_STATUS_TOPIC,
    NO_FAULT,
    OFFLINE,
    ONLINE,
    PREVIEW,
    STATE,
    STATUS,
    TAP,
    TOPIC_ROOT,
    DisplayReadings,
    DisplaySettings,
    SamplingCommand,
    ShowCommand,
    WireError,
    decode_announcement,
    decode_command,
    encode_announcement,
    encode_state,
    encode_tap,
    parse_topic,
    topic,
)

_LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BOARD = 2
EXIT_AUTH = 3
# CONNACK reasons that retrying cannot fix (MQTT 5 codes; paho maps 3.1.1's 4 and 5).
AUTH_REASONS = {134: "bad user name or password", 135: "not authorized"}
# Distinct malformed-command causes warned about before the rest go to debug level.
MAX_WARNED_CAUSES = 20
# The seq is saved at most this often; a restart skips ahead past anything unsaved.
SAVE_INTERVAL = 60.0
# Something else on our announce topic is answered with our announcement at most this often.
REANNOUNCE_INTERVAL = 5.0
NOT_OURS = "Not our announcement on our announce topic; announcing again"
# After another agent with our board id was seen, disconnects are logged at debug level
# for this long (the broker closes one connection each time the other one connects).
DUPLICATE_QUIET = 600.0


class Agent:
    """One board, one broker connection.

    ``await Agent(settings).run()`` returns the exit code: 0 after ``stop()`` (or
    SIGTERM/SIGINT), 2 when no board is found, 3 when the broker refuses the credentials.
    """

    def __init__(self, settings: Settings) -> None:
        """Prepare; nothing is opened until :meth:`run`."""
        self.settings = settings
        self.emulated: EmulatedBoard | None = None
        self.board: Board | None = None
        self.board_id = ""
        self.detection: Detection | None = None
        self.state = AgentState()
        self.connected = False
        self.exit_code = EXIT_OK
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qiot-board")
        self._client: mqtt.Client | None = None
        self._announced: Detection | None = None
        self._latest_state: bytes | None = None
        self._display: DisplayController | None = None
        # When the last preview went out (monotonic s), for the idle throttle.
        self._preview_at: float | None = None
        self._birth_timer: asyncio.TimerHandle | None = None
        self._warned: set[str] = set()
        self._dropped = 0
        self._saved_at = 0.0
        self._unreachable_logged = False
        # This process's id in the announcement and the state (wire schema 1.2).
        self.instance = secrets.token_hex(8)
        self._connections = 0
        self._sent_announcements: deque[bytes] = deque(maxlen=4)
        self._announced_at = 0.0
        self._reannounce_timer: asyncio.TimerHandle | None = None
        self._others: set[str] = set()
        self._duplicate_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def display(self) -> DisplayController | None:
        """Return the LCD's controller once the board's display is running."""
        return self._display

    def stop(self) -> None:
        """Ask the agent to shut down (from the event loop's thread)."""
        if self._stop is not None:
            self._stop.set()

    async def run(self) -> int:
        """Open the board, connect, publish every cycle until stopped; return the exit code."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self._loop.add_signal_handler(sig, self.stop)
        self.state = load_state(self.settings.state_file)
        # Anything published after the last save had a seq at most this much higher.
        self.state.seq += math.ceil(SAVE_INTERVAL / self.settings.cycle) + 1
        try:
            if not await self._open_board():
                return self.exit_code
            self._start_display()
            self._start_mqtt()
            await self._cycle_loop()
        finally:
            await self._shutdown()
        return self.exit_code

    async def _open_board(self) -> bool:
        settings = self.settings
        if settings.simulated is not None:
            self.emulated = create_simulated(
                Variant(settings.simulated),
                frame_interval=settings.simulated_frame_interval,
                pms_speed=settings.simulated_pms_speed,
            )
            provider: Any = self.emulated.provider
            if settings.simulated_frame_interval is None:
                self.board = Board(provider, **self._particulate_options())
            else:  # a fast simulated PMS5003 (tests): a warm-up of one frame, not 30 s
                # (not none: the first read, before the first frame, would be an error)
                self.board = Board(
                    provider,
                    particulate_warmup=settings.simulated_frame_interval,
                    **self._particulate_options(),
                )
        else:
            from ..enviro.linux import LinuxBusProvider  # noqa: PLC0415 - only on a Pi

            self.board = Board(LinuxBusProvider(), **self._particulate_options())
        try:
            detection = await self._in_board_thread(self.board.open)
        except BoardError as err:
            _LOGGER.error("No Enviro board found: %s", err)  # noqa: TRY400 - one clear line
            self.exit_code = EXIT_BOARD
            return False
        self.board_id = settings.board_id or detection.identity
        self.detection = self._identified(detection)
        _LOGGER.info(
            "Board %s (%s) opened; groups: %s",
            self.board_id,
            detection.variant.value if detection.variant else "unknown",
            ", ".join(sorted(g.value for g in detection.groups)),
        )
        return True

    def _particulate_options(self) -> dict[str, Any]:
        """Return the persisted sampling mode and fan running time for the board."""
        return {
            "particulate_sampling": self.state.sampling,
            "particulate_fan_seconds": self.state.fan_seconds,
        }

    def _identified(self, detection: Detection) -> Detection:
        return replace(detection, identity=self.board_id)

    async def _in_board_thread(self, func: Any, *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._executor, func, *args)

    async def _shutdown(self) -> None:
        if self._birth_timer is not None:
            self._birth_timer.cancel()
        if self._reannounce_timer is not None:
            self._reannounce_timer.cancel()
        client = self._client
        if client is not None:
            if self.connected:
                info = client.publish(topic(self.board_id, STATUS), OFFLINE, qos=1, retain=True)
                with contextlib.suppress(RuntimeError, ValueError):
                    await asyncio.to_thread(info.wait_for_publish, 2.0)
            client.disconnect()
            client.loop_stop()
            if self.connected:
                _LOGGER.info("Disconnected from %s (shutting down)", self.settings.broker.redacted)
            self.connected = False
        if self._display is not None:
            self._display.stop()
            await asyncio.to_thread(self._display.close, 2.0)
        if self.board is not None:
            await self._in_board_thread(self.board.close)
        self._executor.shutdown(wait=True)
        if self.board_id:
            self._save()

    def _save(self) -> None:
        self._saved_at = time.monotonic()
        if self.board is not None:
            self.state.fan_seconds = self.board.particulate_fan_seconds()
        try:
            save_state(self.settings.state_file, self.state)
        except OSError as err:
            _LOGGER.warning("Cannot write state file %s: %s", self.settings.state_file, err)

    # -- cycle -----------------------------------------------------------------------

    async def _cycle_loop(self) -> None:
        assert self._stop is not None
        assert self.board is not None
        cycle = self.settings.cycle
        next_at = time.monotonic()
        while not self._stop.is_set():
            await self._read_and_publish()
            if time.monotonic() - self._saved_at > SAVE_INTERVAL:
                self._save()
            next_at += cycle
            next_at = max(next_at, time.monotonic())  # a slow read does not cause a burst
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), next_at - time.monotonic())

    async def _read_and_publish(self) -> None:
        board = self.board
        assert board is not None
        try:
            snapshot = await self._in_board_thread(board.read)
            health = await self._in_board_thread(board.health)
        except BoardError as err:
            _LOGGER.warning("Board read failed: %s", err)
            return
        if (current := board.detection) is not None:
            self.detection = self._identified(current)
        self.state.seq += 1
        self._latest_state = encode_state(
            self.state.seq,
            snapshot,
            health,
            backlight=self._backlight_field(),
            instance=self.instance,
        )
        if self.connected:
            if self.detection != self._announced:
                self._publish_announcement()
            self._publish(STATE, self._latest_state, qos=0)

    def _backlight_field(self) -> bool | None:
        return self.state.backlight if self._display is not None else None

    # -- MQTT ------------------------------------------------------------------------

    def _start_mqtt(self) -> None:
        settings = self.settings
        broker = settings.broker
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"qiot-enviro-agent-{self.board_id}",
        )
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        logging.getLogger(f"{__name__}.paho").setLevel(logging.ERROR)
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.will_set(topic(self.board_id, STATUS), OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        _LOGGER.info("Connecting to %s as board %s", broker.redacted, self.board_id)
        client.connect_async(broker.host, broker.port, keepalive=30)
        client.loop_start()

    def _call(self, func: Any, *args: Any) -> None:
        """Hand a paho callback to the event loop (from paho's thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(func, *args)

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._call(self._connect_refused, int(reason.value), str(reason))
            return
        client.subscribe(
            [
                (f"{TOPIC_ROOT}/{self.board_id}/cmd/#", 1),
                (HA_STATUS_TOPIC, 1),
                # Our own announcement comes back; another agent's tells of a duplicate id.
                (topic(self.board_id, ANNOUNCE), 1),
            ]
        )
        self._call(self._connected)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        self._call(self._unreachable)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._call(self._disconnected, str(reason))

    def _on_message(self, client: mqtt.Client, userdata: object, message: Any) -> None:
        self._call(self._message, str(message.topic), bytes(message.payload), bool(message.retain))

    def _connected(self) -> None:
        self.connected = True
        self._connections += 1
        self._unreachable_logged = False
        _LOGGER.info("Connected to %s", self.settings.broker.redacted)
        self._publish(STATUS, ONLINE.encode(), qos=1)
        self._publish_announcement()
        if self._latest_state is not None:
            self._publish(STATE, self._latest_state, qos=0)
        if self._display is not None and self._display.preview is not None:
            self._publish(PREVIEW, self._display.preview, qos=1)

    def _unreachable(self) -> None:
        if not self._unreachable_logged:
            self._unreachable_logged = True
            _LOGGER.warning(
                "Broker %s unreachable; retrying with backoff", self.settings.broker.redacted
            )

    def _disconnected(self, reason: str) -> None:
        if self.connected and self._duplicate_recently():
            # The broker closed this connection for the other agent's: said already.
            _LOGGER.debug(
                "Disconnected (%s); another agent uses board id %s", reason, self.board_id
            )
        elif self.connected:
            _LOGGER.warning(
                "Disconnected from %s (%s); reconnecting", self.settings.broker.redacted, reason
            )
        self.connected = False

    def _connect_refused(self, code: int, reason: str) -> None:
        broker = self.settings.broker.redacted
        if code in AUTH_REASONS:
            _LOGGER.error(
                "Broker %s refused the credentials of user %r: %s",
                broker,
                self.settings.broker.username,
                AUTH_REASONS[code],
            )
            self.exit_code = EXIT_AUTH
            self.stop()
            return
        if not self._unreachable_logged:
            self._unreachable_logged = True
            _LOGGER.warning("Broker %s refused the connection (%s); retrying", broker, reason)

    def _publish(self, kind: str, payload: bytes, *, qos: int, retain: bool = True) -> None:
        """Publish one message of ours (retained unless told); dropped while disconnected."""
        client = self._client
        if client is None or not self.connected:
            return
        client.publish(topic(self.board_id, kind), payload, qos=qos, retain=retain)

    def _publish_announcement(self) -> None:
        if self.detection is None:
            return
        self._announced = self.detection
        payload = encode_announcement(
            self.board_id,
            self.detection,
            agent_version=__version__,
            cycle=max(1.0, self.settings.cycle),
            hostname=socket.gethostname()[:64],
            instance=self.instance,
        )
        if self.connected:
            self._sent_announcements.append(payload)
            self._announced_at = time.monotonic()
        self._publish(ANNOUNCE, payload, qos=1)

    # -- our announce topic ----------------------------------------------------------

    def _announcement_seen(self, payload: bytes, retained: bool) -> None:
        """Tell our own announcement from anything else on our announce topic.

        Another agent instance's announcement means that two agents use this board id:
        logged as an error once per instance. The retained one found at this process's
        first connection is most likely its own previous run's, and ours replaces it.
        Whatever else is there (another instance's, garbage, an empty payload) is
        answered with our announcement, at most every ``REANNOUNCE_INTERVAL``, so that
        Home Assistant finds ours retained.
        """
        if payload in self._sent_announcements:
            return
        if retained and self._connections <= 1:
            return
        try:
            other = decode_announcement(payload)
        except WireError as err:
            self._drop(f"{err}", NOT_OURS)
        else:
            if other.board_id == self.board_id and other.instance != self.instance:
                self._another_agent(other.hostname, other.instance)
            else:
                self._drop("an announcement with this agent's instance it did not send", NOT_OURS)
        self._reannounce()

    def _another_agent(self, hostname: str, instance: str) -> None:
        self._duplicate_at = time.monotonic()
        if instance in self._others:
            return
        self._others.add(instance)
        _LOGGER.error(
            "Another agent uses board id %s (host %s, instance %s; this one: host %s, "
            "instance %s). The broker keeps one connection per board id, so the two take "
            "turns and Home Assistant shows a repair: stop one of them (on one Pi: the "
            "service or a manual run), or give a simulated board its own board_id",
            self.board_id,
            hostname or "unknown",
            instance or "none (an older agent)",
            socket.gethostname()[:64],
            self.instance,
        )

    def _duplicate_recently(self) -> bool:
        return (
            self._duplicate_at is not None
            and time.monotonic() - self._duplicate_at < DUPLICATE_QUIET
        )

    def _reannounce(self) -> None:
        """Publish our announcement again soon (once, however much else arrives)."""
        if self._reannounce_timer is not None or self._loop is None:
            return
        delay = max(0.0, self._announced_at + REANNOUNCE_INTERVAL - time.monotonic())
        self._reannounce_timer = self._loop.call_later(delay, self._reannounce_now)

    def _reannounce_now(self) -> None:
        self._reannounce_timer = None
        if self.connected:
            self._publish_announcement()

    def _birth(self) -> None:
        self._birth_timer = None
        if self.connected:
            _LOGGER.info("Home Assistant came online; announcing again")
            self._publish_announcement()
            if self._latest_state is not None:
                self._publish(STATE, self._latest_state, qos=0)

    # -- commands --------------------------------------------------------------------

    def _message(self, name: str, payload: bytes, retained: bool = False) -> None:
        try:
            if name == topic(self.board_id, ANNOUNCE):
                self._announcement_seen(payload, retained)
                return
            self._handle(name, payload)
        except Exception:  # the boundary: a command never stops the agent
            _LOGGER.exception("Command on %s failed", name)

    def _handle(self, name: str, payload: bytes) -> None:
        assert self._loop is not None
        if name == HA_STATUS_TOPIC:
            if payload == ONLINE.encode() and self._birth_timer is None:
                delay = random.uniform(0, self.settings.birth_delay)
                self._birth_timer = self._loop.call_later(delay, self._birth)
            return
        parsed = parse_topic(name)
        if parsed is None or parsed[0] != self.board_id:
            self._drop(f"unknown topic {name[:80]!r}")
            return
        kind = parsed[1]
        try:
            command = decode_command(kind, payload)
        except WireError as err:
            self._drop(f"{kind}: {err}")
            return
        if kind == CMD_FAULT:
            assert isinstance(command, str)
            self._fault(command)
            return
        if kind == CMD_SAMPLING:
            assert isinstance(command, SamplingCommand)
            self._sampling(command.interval)
            return
        if self._display is None:
            self._drop(f"{kind}: this board has no LCD")
            return
        if kind == CMD_SHOW:
            assert isinstance(command, ShowCommand)
            self._display.show(_message(command))
        elif kind == CMD_DISMISS:
            self._display.dismiss()
        elif kind == CMD_BACKLIGHT:
            assert isinstance(command, bool)
            self.state.backlight = command
            self._display.set_backlight(command)
            self._save()
        elif kind == CMD_DISPLAY:
            assert isinstance(command, DisplaySettings)
            if command != self.state.display:
                self.state.display = command
                self._save()
                self._display.configure(
                    idle_screen=command.idle_screen,
                    startup_message=command.startup_message,
                    tap_threshold=command.tap_threshold,
                )
        elif kind == CMD_READINGS:
            assert isinstance(command, DisplayReadings)
            self._display.set_readings(
                Readings(
                    temperature=command.temperature,
                    humidity=command.humidity,
                    pm2_5=command.pm2_5,
                    aqi=command.aqi,
                    aqi_category=command.aqi_category,
                )
            )

    def _drop(self, cause: str, what: str = "Command dropped") -> None:
        """Drop a bad message: one warning per cause, a bounded number of causes."""
        self._dropped += 1
        key = what + "".join(c for c in cause if not c.isdigit())
        if key in self._warned or len(self._warned) > MAX_WARNED_CAUSES:
            _LOGGER.debug("%s again: %s", what, cause)
            return
        self._warned.add(key)
        if len(self._warned) > MAX_WARNED_CAUSES:
            _LOGGER.warning("Many kinds of bad messages; further ones are logged at debug level")
            return
        _LOGGER.warning("%s: %s (further ones like it at debug level)", what, cause)

    def _sampling(self, interval: int | None) -> None:
        """Apply and persist the particulate sampling mode (retained: also at connect)."""
        board = self.board
        if board is None:
            return
        changed = interval != self.state.sampling
        self.state.sampling = interval

        async def run() -> None:
            await self._in_board_thread(board.set_particulate_sampling, interval)
            if changed:
                self._save()
                _LOGGER.info(
                    "Particulate sampling: %s",
                    "continuous" if interval is None else f"every {interval} s",
                )

        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda _: None)

    def _fault(self, scenario: str) -> None:
        if self.emulated is None:
            _LOGGER.warning("Fault injection refused: this is real hardware")
            return
        faults = self.emulated.faults
        name = CLEAR if scenario == NO_FAULT else scenario

        def apply() -> None:
            apply_scenario(faults, name)

        async def run() -> None:
            try:
                await self._in_board_thread(apply)
            except KeyError:
                self._drop(f"fault: unknown scenario {scenario!r}")
                return
            _LOGGER.info("Simulated fault: %s", scenario)

        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda _: None)

    # -- LCD -------------------------------------------------------------------------

    def _start_display(self) -> None:
        board = self.board
        detection = self.detection
        if board is None or detection is None or not detection.has_display:
            return
        assert self._loop is not None
        display = self.state.display
        self._display = DisplayController(
            board.show_image,
            board.set_backlight,
            LoopScheduler(self._loop),
            # Taps need the light and proximity sensor.
            read_proximity=board.read_proximity if SensorGroup.LIGHT in detection.groups else None,
            # A simulated board's preview is what its emulated panel rebuilt from the SPI bytes.
            panel_picture=self.emulated.lcd.picture if self.emulated is not None else None,
            idle_screen=display.idle_screen,
            startup_message=display.startup_message,
            tap_threshold=display.tap_threshold,
            version=__version__,
            backlight=self.state.backlight,
        )
        self._display.add_frame_listener(self._publish_preview)
        self._display.add_tap_listener(self._publish_tap)
        self._display.add_backlight_listener(self._backlight_changed)
        self._display.start()

    def _publish_preview(self, png: bytes, urgent: bool) -> None:
        """Publish a new picture (retained): at once when a user caused it, else throttled.

        Idle refreshes (the readings pages turning, the clock) go out at most once per
        ``PREVIEW_IDLE_INTERVAL``, as Home Assistant would keep them for a local board:
        a picture every few seconds from every board would be most of the broker's and
        Home Assistant's traffic for an image nobody watches.
        """
        now = time.monotonic()
        interval = display_controller.PREVIEW_IDLE_INTERVAL.total_seconds()
        if not urgent and self._preview_at is not None and now - self._preview_at < interval:
            return
        self._preview_at = now
        self._publish(PREVIEW, png, qos=1)

    def _publish_tap(self) -> None:
        """Tell Home Assistant about a tap (not retained: an event, not a state)."""
        self._publish(TAP, encode_tap(datetime.now(UTC)), qos=1, retain=False)

    def _backlight_changed(self) -> None:
        """Follow a message or the "off" idle screen switching the backlight.

        The next state carries it; the periodic save keeps it, without a write per message.
        """
        if self._display is not None:
            self.state.backlight = self._display.backlight


def _message(command: ShowCommand) -> Message:
    """Return the message a show command asks for (the size clamped to what fits)."""
    size = None if command.size is None else min(MAX_SIZE, max(MIN_SIZE, command.size))
    return Message(
        text=command.text,
        title=command.title,
        duration=command.duration,
        color=command.color,
        background=command.background,
        size=size,
    )
