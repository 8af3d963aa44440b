"""Boards on another Pi: the MQTT adapter between a board's agent and Home Assistant.

This is the one integration file that knows topics and payloads, and it knows them
only through the board side's ``agent.wire`` (the format the agent speaks). Home
Assistant's own MQTT integration carries the messages; it is an after-dependency, so
nothing here imports it until a remote board is set up with MQTT loaded.

Every payload is untrusted (any client on the broker may publish): each is decoded
strictly before anything touches it, and a bad one is dropped with one log line per
cause. No state is ever built from a half-valid message.

A remote board's coordinator has no update interval: the agent pushes one state per
cycle and the coordinator derives the same values from it as from a local board's
read, so entities, options, the gas baseline and repairs work the same.

A board is unavailable when its agent's last will says offline, when no state came for
MISSED_CYCLES cycles (the watchdog), and at once when Home Assistant itself loses the
broker, as Home Assistant's own MQTT entities are.
"""

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, override

from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from .agent import wire
from .const import (
    CONF_BOARD_ID,
    CONF_IDLE_SCREEN,
    CONF_PARTICULATE_SAMPLING,
    CONF_STARTUP_MESSAGE,
    CONF_TAP_THRESHOLD,
    DEFAULT_IDLE_SCREEN,
    DEFAULT_PARTICULATE_SAMPLING,
    DEFAULT_STARTUP_MESSAGE,
    DEFAULT_TAP_THRESHOLD,
    DOMAIN,
    LOGGER,
    sampling_interval,
)
from .coordinator import EnviroCoordinator, QiotEnviroConfigEntry, QiotEnviroData
from .display.controller import add_listener
from .enviro.emulator.scenarios import CLEAR
from .enviro.models import GroupHealth, SensorGroup

if TYPE_CHECKING:
    from homeassistant.components.mqtt.models import ReceiveMessage

    from .lcd import Message

# How long setup waits for the retained announcement and the first state.
ANNOUNCE_TIMEOUT = 10.0
STATE_TIMEOUT = 10.0
# A board that sends no state for this many cycles is unavailable.
MISSED_CYCLES = 3
# Slack on top of those cycles: a read may take a while, and the broker adds latency.
WATCHDOG_SLACK = 5.0
# Distinct causes of dropped messages warned about, per board, before debug level.
MAX_WARNED_CAUSES = 20
# A preview that follows something a user did within this many seconds shows at once;
# the idle screens' own refreshes reach the image entity at most every 5 minutes.
URGENT_WINDOW = 10.0
PREVIEW_IDLE_INTERVAL = timedelta(minutes=5)
# Changed values for the LCD's idle readings pages go to the agent at most this often
# (a command per board and cycle was a fifth of Home Assistant's time for a fleet).
READINGS_INTERVAL = timedelta(minutes=1)
# After a backlight command, states read before the agent applied it are not followed.
BACKLIGHT_SETTLE = 3.0
# Agent instances (schema 1.2) whose announcement is kept: the current one, a restarted
# one, another agent under the same board id, and what other clients claim.
MAX_INSTANCES = 8
# A restarted agent with other sensors or display gets its entities rebuilt (a reload)
# once it has reported for this long without the previous instance coming back.
RESTART_CONFIRM = 5.0


def mqtt_module(hass: HomeAssistant) -> ModuleType | None:
    """Return Home Assistant's MQTT integration when it is loaded, else None.

    Imported only once MQTT is loaded (its module is then already imported), so a
    Home Assistant without MQTT never imports paho for a local board.
    """
    if "mqtt" not in hass.config.components:
        return None
    from homeassistant.components import mqtt  # noqa: PLC0415 - see the docstring

    return mqtt


type Announcement = wire.Announcement


def announced_board(topic: str, payload: bytes | bytearray | str) -> Announcement | None:
    """Return the valid announcement on a board's announce topic, None for anything else.

    The board id must be the one of its topic: a board cannot be announced on another's.
    """
    parsed = wire.parse_topic(topic)
    try:
        announcement = wire.decode_announcement(payload)
    except wire.WireError as err:
        LOGGER.debug("Ignoring announcement on %s: %s", topic[:120], err)
        return None
    if parsed is None or parsed != (announcement.board_id, wire.ANNOUNCE):
        LOGGER.debug("Ignoring announcement on %s: not its board's topic", topic[:120])
        return None
    return announcement


async def async_announced_boards(hass: HomeAssistant, wait: float) -> dict[str, Announcement]:
    """Return the boards whose valid announcement is retained on the broker.

    Raises HomeAssistantError (translated) when MQTT is not set up.
    """
    mqtt = mqtt_module(hass)
    if mqtt is None or not await mqtt.async_wait_for_mqtt_client(hass):
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="mqtt_not_set_up")
    found: dict[str, Announcement] = {}

    @callback
    def received(message: ReceiveMessage) -> None:
        if (announcement := announced_board(message.topic, message.payload)) is not None:
            found[announcement.board_id] = announcement

    unsubscribe = await mqtt.async_subscribe(
        hass, wire.ANNOUNCE_FILTER, received, qos=1, encoding=None
    )
    try:
        await asyncio.sleep(wait)  # retained messages arrive right after subscribing
    finally:
        unsubscribe()
    return found


class RemoteCoordinator(EnviroCoordinator):
    """A board whose agent publishes over MQTT; no polling, one state per cycle."""

    def __init__(
        self, hass: HomeAssistant, entry: QiotEnviroConfigEntry, version: str | None = None
    ) -> None:
        """Prepare the subscriptions of a remote board; nothing is subscribed yet."""
        super().__init__(hass, entry, version, update_interval=None)
        self.board_id: str = entry.data[CONF_BOARD_ID]
        self.announcement: wire.Announcement | None = None
        self.online: bool | None = None
        self.remote_health: dict[SensorGroup, GroupHealth] = {}
        self.backlight: bool | None = None
        self.dropped = 0
        self._mqtt: ModuleType | None = None
        self._announced = asyncio.Event()
        self._has_state = asyncio.Event()
        self._pending_state: bytes | None = None
        self._latest: QiotEnviroData | None = None
        # (instance, seq, read time) of the last state used; a restarted agent may count again.
        self._last_state: tuple[str, int, datetime] | None = None
        self._restart_seen = False
        self._last_state_at = 0.0
        # Each agent instance's announcement (schema 1.2; "" for older agents), and when
        # each last sent a valid state: two that take turns are two agents with one id.
        self._announcements: dict[str, wire.Announcement] = {}
        self._seen: dict[str, float] = {}
        self._last_instance: str | None = None
        self.duplicate: tuple[wire.Announcement, wire.Announcement] | None = None
        self._restart_timer: CALLBACK_TYPE | None = None
        self._setup_done = False
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._unsubscribe_connection: CALLBACK_TYPE | None = None
        # Home Assistant's own link to the broker (its MQTT client): while it is down
        # nothing the board says can arrive.
        self.broker_connected = True
        self._broker_lost = False
        self._watchdog: CALLBACK_TYPE | None = None
        self._warned: set[str] = set()
        self._schema_issue = False
        self._readings_sent: wire.DisplayReadings | None = None
        self._readings_sent_at: datetime | None = None

    # -- setup -----------------------------------------------------------------------

    @override
    async def _async_setup(self) -> None:
        """Restore the gas baseline, subscribe, and wait for the retained announcement."""
        await self._async_load_baseline()
        mqtt = mqtt_module(self.hass)
        if mqtt is None or not await mqtt.async_wait_for_mqtt_client(self.hass):
            raise UpdateFailed(translation_domain=DOMAIN, translation_key="mqtt_not_set_up")
        self._mqtt = mqtt
        self._unsubscribe_connection = mqtt.async_subscribe_connection_status(
            self.hass, self._connection_changed
        )
        self._unsubscribe = await mqtt.async_subscribe(
            self.hass,
            f"{wire.TOPIC_ROOT}/{self.board_id}/+",
            self._received,
            qos=1,
            encoding=None,
        )
        try:
            async with asyncio.timeout(ANNOUNCE_TIMEOUT):
                await self._announced.wait()
        except TimeoutError:
            self._release()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="remote_not_announced",
                translation_placeholders={"board": self.board_id},
            ) from None
        self.opened_at = dt_util.utcnow()

    @override
    async def _async_update_data(self) -> QiotEnviroData:
        """Return the newest state (the first refresh waits briefly for it).

        Afterwards states arrive by themselves; this runs again only on a manual
        refresh request, which changes nothing.
        """
        if not self.broker_connected:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="mqtt_disconnected",
                translation_placeholders={"board": self.board_id},
            )
        if self.online is False:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="remote_offline",
                translation_placeholders={"board": self.board_id},
            )
        try:
            async with asyncio.timeout(STATE_TIMEOUT):
                await self._has_state.wait()
        except TimeoutError:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="remote_no_state",
                translation_placeholders={"board": self.board_id},
            ) from None
        assert self._latest is not None
        return self._latest

    @callback
    def async_setup_done(self) -> None:
        """Start pushing states to the entities (after the first refresh).

        An Enviro+ is also told its particulate sampling mode (retained, so an agent
        that starts later gets it too).
        """
        self._setup_done = True
        self._arm_watchdog()
        if self.detection is not None and SensorGroup.PARTICULATES in self.detection.groups:
            interval = sampling_interval(
                self.config_entry.options.get(
                    CONF_PARTICULATE_SAMPLING, DEFAULT_PARTICULATE_SAMPLING
                )
            )
            self.hass.async_create_background_task(
                self.async_publish(
                    wire.CMD_SAMPLING,
                    wire.encode_sampling(wire.SamplingCommand(interval=interval)),
                    retain=True,
                ),
                f"{DOMAIN} sampling {self.board_id}",
            )

    @override
    async def async_close(self) -> None:
        """Save a changed baseline and unsubscribe; the remote board runs on."""
        if self.closed:
            return
        await super().async_close()
        self._release()

    def _release(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unsubscribe_connection is not None:
            self._unsubscribe_connection()
            self._unsubscribe_connection = None
        self._cancel_watchdog()
        self._cancel_restart()

    # -- what the board says ---------------------------------------------------------

    @override
    def health(self) -> dict[SensorGroup, GroupHealth]:
        """Return each sensor group's health counters, as the agent last reported them."""
        return dict(self.remote_health)

    @property
    def cycle(self) -> float:
        """Return the seconds between the agent's states."""
        return self.announcement.cycle if self.announcement is not None else 10.0

    @callback
    def _received(self, message: ReceiveMessage) -> None:
        """Route one message of this board (the MQTT integration's callback)."""
        if self.closed:
            return
        parsed = wire.parse_topic(message.topic)
        if parsed is None or parsed[0] != self.board_id:
            return
        kind = parsed[1]
        payload = message.payload
        if isinstance(payload, str):  # encoding=None gives bytes; be strict anyway
            payload = payload.encode()
        handler = self._handler(kind)
        if handler is None:
            return  # our own commands come back to us: nothing to do
        try:
            handler(bytes(payload))
        except wire.UnsupportedSchemaError as err:
            self._unsupported_schema(err)
            self._drop(kind, err)
        except wire.WireError as err:
            self._drop(kind, err)

    def _on_announce(self, payload: bytes) -> None:
        announcement = wire.decode_announcement(payload)
        if announcement.board_id != self.board_id:
            raise wire.WireError("announcement: board_id differs from its topic")
        self._valid_message()
        self._announcements.pop(announcement.instance, None)
        self._announcements[announcement.instance] = announcement
        current = self.announcement
        if len(self._announcements) > MAX_INSTANCES:
            oldest = next(
                key for key in self._announcements if current is None or key != current.instance
            )
            del self._announcements[oldest]
        # Another instance's announcement is followed once its states come: a restarted
        # agent's at once; one that sends none (another client's) changes nothing.
        if current is None or announcement.instance == current.instance:
            self._adopt(announcement)
        if self._pending_state is not None:
            pending, self._pending_state = self._pending_state, None
            try:
                self._on_state(pending)
            except wire.WireError as err:
                self._drop(wire.STATE, err)

    def _adopt(self, announcement: wire.Announcement) -> None:
        """Follow what an agent instance says about the board (reloading on other sensors)."""
        previous = self.announcement
        self.announcement = announcement
        detection = announcement.detection
        if previous is not None and self._setup_done and not _same_sensors(previous, announcement):
            LOGGER.info("Board %s now has other sensors or display: reloading", self.board_id)
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        self.detection = detection
        # Their path and detail go into repairs, which are rendered as Markdown.
        self.probes = {
            device: replace(probe, path=_plain(probe.path), detail=_plain(probe.detail))
            for device, probe in detection.devices.items()
        }
        self.serial_console = detection.serial_console
        self._update_bus_issues()
        self._announced.set()

    def _on_status(self, payload: bytes) -> None:
        online = wire.decode_status(payload)
        if not online and self.duplicate is not None:
            # Two agents take turns: the broker sends one's last will as the other connects.
            LOGGER.debug("Board %s: offline ignored while two agents use its id", self.board_id)
            return
        self.online = online
        if online:
            # The agent (re)started: its sequence may start again lower.
            self._restart_seen = True
            return
        self._cancel_watchdog()
        self._set_unavailable("offline")

    def _on_state(self, payload: bytes) -> None:
        state = wire.decode_state(payload)
        announcement = self._announcements.get(state.instance)
        if announcement is None or self.announcement is None:
            # Retained messages come in any order, and a restarted agent's announcement
            # may follow its state: keep the newest until its agent is announced. A
            # state no announcement of its instance follows is never used.
            self._pending_state = payload
            return
        wire.check_groups(state, frozenset(announcement.detection.groups))
        self._valid_message()
        self._follow_instance(state.instance)
        if state.instance != self.announcement.instance and not self._switch(announcement):
            return
        if (state.instance, state.seq, state.snapshot.read_at) == self._last_state:
            # The retained state again (Home Assistant's MQTT client resubscribed, with
            # the retained status before it): its readings were used already.
            self._resume()
            return
        self._check_seq(state)
        self._last_state = (state.instance, state.seq, state.snapshot.read_at)
        self._last_state_at = time.monotonic()
        self._restart_seen = False
        self._broker_lost = False
        self.remote_health = state.health
        self.cycle_durations.append(state.snapshot.duration)
        self._log_transitions(state.snapshot)
        data = self._derive(state.snapshot)
        particulates = state.health.get(SensorGroup.PARTICULATES)
        if particulates is not None and "fan_seconds" in particulates.extra:
            # The agent counts and keeps the fan's running time on its Pi.
            data = replace(data, fan_hours=round(particulates.extra["fan_seconds"] / 3600, 2))
        self._update_particulate_issue(state.snapshot)
        self._latest = data
        self._has_state.set()
        self.backlight = state.backlight
        if isinstance(self.lcd, RemoteLcd) and state.backlight is not None:
            self.lcd.reported_backlight(state.backlight)
        if not self._setup_done:
            return
        self._arm_watchdog()
        self._publish_readings(data)
        if not self.last_update_success:
            LOGGER.info("Board %s is back", self.board_id)
        self.async_set_updated_data(data)

    def _on_preview(self, payload: bytes) -> None:
        png = wire.decode_preview(payload)
        if isinstance(self.lcd, RemoteLcd):
            self.lcd.remote_preview(png)

    def _on_tap(self, payload: bytes) -> None:
        wire.decode_tap(payload)
        self._valid_message()
        if isinstance(self.lcd, RemoteLcd):
            self.lcd.remote_tap()

    def _check_seq(self, state: wire.State) -> None:
        """Refuse a state that is not the next of its agent instance.

        Within one instance the seq grows by one per cycle: a lower or repeated one is
        an old or replayed state, and one further ahead than the time since the last
        allows is forged (it would make every real state after it look old). A new
        instance, and an agent without instances (schema < 1.2) after it came online,
        starts a new count.
        """
        last = self._last_state
        if last is None or last[0] != state.instance or (self._restart_seen and not last[0]):
            return
        if state.seq <= last[1]:
            raise wire.WireError(f"state: seq {state.seq} is not newer than {last[1]}")
        elapsed = time.monotonic() - self._last_state_at
        if state.seq - last[1] > 4 + 3 * elapsed / self.cycle:
            raise wire.WireError(
                f"state: seq {state.seq} is further ahead of {last[1]} than its cycle allows"
            )

    # -- agent instances ---------------------------------------------------------------

    def _duplicate_window(self) -> float:
        """Return how long an instance counts as reporting after its last state."""
        cycles = [a.cycle for a in self._announcements.values()] or [self.cycle]
        return MISSED_CYCLES * max(cycles) + WATCHDOG_SLACK

    def _follow_instance(self, instance: str) -> None:
        """Note a valid state of an agent instance; find and clear duplicate board ids.

        A restarted agent is a new instance that stays. An instance that sends again
        after another one did, while it still counts as reporting, is a second agent
        with this board id (the broker lets the two connect by turns).
        """
        now = time.monotonic()
        window = self._duplicate_window()
        last = self._last_instance
        if (
            last is not None
            and instance != last
            and now - self._seen.get(instance, -math.inf) < window
        ):
            self._raise_duplicate(instance, last)
        self._last_instance = instance
        self._seen[instance] = now
        for other, seen in list(self._seen.items()):
            if now - seen >= window:
                del self._seen[other]
        if self.duplicate is not None and len(self._seen) == 1:
            self._clear_duplicate()

    def _switch(self, announcement: wire.Announcement) -> bool:
        """Follow another agent instance; False while its states cannot be used yet.

        With the same sensors and display its states are used at once. With others the
        entities must be rebuilt: after RESTART_CONFIRM without the previous instance
        (a restarted agent), never while two agents take turns.
        """
        if _same_sensors(self.announcement, announcement):
            self._cancel_restart()
            self._adopt(announcement)
            self._restart_seen = True  # its seq counts anew
            return True
        if self.duplicate is None and self._restart_timer is None:
            instance = announcement.instance

            @callback
            def confirmed(_now: datetime) -> None:
                self._restart_timer = None
                if self.duplicate is None and self._last_instance == instance:
                    self._adopt(announcement)

            self._restart_timer = async_call_later(
                self.hass, RESTART_CONFIRM, HassJob(confirmed, cancel_on_shutdown=True)
            )
        return False

    def _cancel_restart(self) -> None:
        if self._restart_timer is not None:
            self._restart_timer()
            self._restart_timer = None

    def _raise_duplicate(self, instance: str, other: str) -> None:
        first, second = self._announcements.get(instance), self._announcements.get(other)
        if first is None or second is None or self.duplicate is not None:
            return
        self.duplicate = (first, second)
        self._cancel_restart()
        LOGGER.warning(
            "Board %s: two agents publish under its id (on %s and on %s); see the repair",
            self.board_id,
            first.hostname or "an unknown host",
            second.hostname or "an unknown host",
        )
        self._set_issue(
            "duplicate_board_id",
            "duplicate_board_id",
            {
                "board": self.board_id,
                "host": first.hostname or "?",
                "other_host": second.hostname or "?",
            },
            ir.IssueSeverity.ERROR,
        )

    def _clear_duplicate(self) -> None:
        self.duplicate = None
        LOGGER.info("Board %s: one agent publishes under its id again", self.board_id)
        self._set_issue("duplicate_board_id", "duplicate_board_id", None)

    def _handler(self, kind: str) -> Callable[[bytes], None] | None:
        """Return what handles one kind of message from the board (commands: None)."""
        return {
            wire.ANNOUNCE: self._on_announce,
            wire.STATUS: self._on_status,
            wire.STATE: self._on_state,
            wire.PREVIEW: self._on_preview,
            wire.TAP: self._on_tap,
        }.get(kind)

    # -- availability ----------------------------------------------------------------

    def _set_unavailable(self, reason: str) -> None:
        """Make every entity of the board unavailable; logged once."""
        if not self._setup_done or not self.last_update_success:
            return
        LOGGER.warning("Board %s is unavailable: %s", self.board_id, reason)
        self.last_update_success = False
        self.async_update_listeners()

    @callback
    def _connection_changed(self, connected: bool) -> None:
        """Follow Home Assistant's connection to the broker.

        Lost: every entity is unavailable at once (logged once), as Home Assistant's own
        MQTT entities are, except while Home Assistant stops. Found again: nothing is
        claimed until the board is heard from; see :meth:`_resume`.
        """
        if self.closed:
            return
        self.broker_connected = connected
        if connected:
            LOGGER.debug("Board %s: Home Assistant reached the MQTT broker again", self.board_id)
            return
        if self.hass.is_stopping:
            return
        self._broker_lost = True
        self._cancel_watchdog()
        self._set_unavailable("Home Assistant lost the MQTT broker")

    def _resume(self) -> None:
        """Make the board available again with its last state, redelivered after an outage.

        Home Assistant's MQTT client resubscribes when it finds the broker again, and the
        broker sends the retained status and state once more. When that state is the one
        already used, the board is back only if it is still as recent as the watchdog
        allows (received less than MISSED_CYCLES cycles plus the slack ago, on Home
        Assistant's clock): had the broker stayed, the entities would show those very
        values now. An older one is not claimed: the board is back with the next state
        the agent sends. A state the agent sent during the outage is newer, and is used
        as any other. A retained "offline" (the agent's last will, sent meanwhile) keeps
        the board unavailable, or makes it so again when the broker sends it after the
        state (retained messages come in no set order).
        """
        if not (self._broker_lost and self.broker_connected and self._setup_done):
            return
        if self.online is False or self.last_update_success or self._latest is None:
            return
        remaining = MISSED_CYCLES * self.cycle + WATCHDOG_SLACK
        remaining -= time.monotonic() - self._last_state_at
        if remaining <= 0:
            return
        self._broker_lost = False
        self._arm_watchdog(remaining)
        LOGGER.info("Board %s is back", self.board_id)
        self.async_set_updated_data(self._latest)

    def _arm_watchdog(self, delay: float | None = None) -> None:
        self._cancel_watchdog()
        if delay is None:
            delay = MISSED_CYCLES * self.cycle + WATCHDOG_SLACK
        self._watchdog = async_call_later(
            self.hass, delay, HassJob(self._silent, cancel_on_shutdown=True)
        )

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog()
            self._watchdog = None

    @callback
    def _silent(self, _now: datetime) -> None:
        self._watchdog = None
        self._set_unavailable(f"no state for {MISSED_CYCLES} cycles")

    # -- bad input -------------------------------------------------------------------

    def _drop(self, kind: str, err: Exception) -> None:
        """Drop a bad message: one warning per cause, a bounded number of causes."""
        self.dropped += 1
        cause = f"{kind}: {err}"
        key = "".join(c for c in cause if not c.isdigit())
        if key in self._warned or len(self._warned) > MAX_WARNED_CAUSES:
            LOGGER.debug("Dropped again from board %s: %s", self.board_id, cause)
            return
        self._warned.add(key)
        if len(self._warned) > MAX_WARNED_CAUSES:
            LOGGER.warning(
                "Board %s: many kinds of bad messages; further ones at debug level", self.board_id
            )
            return
        LOGGER.warning(
            "Dropped a message of board %s: %s (further ones like it at debug level)",
            self.board_id,
            cause[:200],
        )

    def _unsupported_schema(self, err: wire.UnsupportedSchemaError) -> None:
        self._schema_issue = True
        self._set_issue(
            "unsupported_schema",
            "unsupported_schema",
            {"board": self.board_id, "version": err.version[:12], "supported": wire.SCHEMA},
            ir.IssueSeverity.ERROR,
        )

    def _valid_message(self) -> None:
        if self._schema_issue:
            self._schema_issue = False
            self._set_issue("unsupported_schema", "unsupported_schema", None)

    # -- commands --------------------------------------------------------------------

    async def async_publish(self, kind: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish one command to the board; a translated error when MQTT cannot."""
        mqtt = self._mqtt
        if mqtt is None:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="mqtt_not_set_up")
        await mqtt.async_publish(
            self.hass,
            wire.topic(self.board_id, kind),
            payload,
            qos=1,
            retain=retain,
            encoding=None,
        )

    @override
    async def async_set_fault(self, scenario: str) -> None:
        """Ask the simulated remote board to inject ``scenario`` (``CLEAR`` clears)."""
        await self.async_publish(
            wire.CMD_FAULT, wire.encode_fault(wire.NO_FAULT if scenario == CLEAR else scenario)
        )

    def _publish_readings(self, data: QiotEnviroData) -> None:
        """Send the idle readings pages their values when they changed, once a minute at most.

        Unsent changes stay pending: the first cycle after the interval sends them.
        """
        if not isinstance(self.lcd, RemoteLcd):
            return
        shown = data.readings()
        readings = wire.DisplayReadings(
            temperature=_rounded(shown.temperature),
            humidity=_rounded(shown.humidity),
            pm2_5=None if shown.pm2_5 is None else float(shown.pm2_5),
            aqi=shown.aqi,
            aqi_category=shown.aqi_category,
        )
        now = dt_util.utcnow()
        if readings == self._readings_sent or (
            self._readings_sent_at is not None and now - self._readings_sent_at < READINGS_INTERVAL
        ):
            return
        self._readings_sent = readings
        self._readings_sent_at = now
        self.hass.async_create_background_task(
            self.async_publish(wire.CMD_READINGS, wire.encode_readings(readings)),
            f"{DOMAIN} readings {self.board_id}",
        )

    @property
    def reachable(self) -> bool:
        """Tell whether the board is online and its states are fresh."""
        return (
            self._setup_done
            and self.broker_connected
            and self.online is not False
            and self.last_update_success
        )

    def unreachable_error(self) -> HomeAssistantError:
        """Return the translated error of a command the board cannot be sent now."""
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="remote_offline" if self.broker_connected else "mqtt_disconnected",
            translation_placeholders={"board": self.board_id},
        )

    def current(self) -> QiotEnviroData | None:
        """Return the newest derived data, also before the entities get it."""
        return self._latest


_MARKUP = str.maketrans(
    {
        "[": "(",
        "]": ")",
        "<": "(",
        ">": ")",
        "`": "'",
        "*": " ",
        "!": " ",
        "|": " ",
        "\\": "/",
        "#": " ",
    }
)


def _plain(text: str) -> str:
    """Return payload text that a Markdown renderer shows as it is (no link, no image)."""
    return "".join(c if c.isprintable() else " " for c in text).translate(_MARKUP)


def _same_sensors(first: wire.Announcement | None, second: wire.Announcement) -> bool:
    """Tell whether two announcements give a board the same entities."""
    return first is not None and (
        first.detection.groups == second.detection.groups
        and first.detection.has_display == second.detection.has_display
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class RemoteLcd:
    """The LCD of a remote board: the agent runs the screens, this sends it commands.

    It has the public face of the local :class:`~.lcd.LcdController`, so the notify,
    switch, image and event entities and the actions work the same.
    """

    def __init__(self, hass: HomeAssistant, coordinator: RemoteCoordinator) -> None:
        """Prepare; the display settings are sent by :meth:`async_start`."""
        self.hass = hass
        self.coordinator = coordinator
        options = coordinator.config_entry.options
        self.settings = wire.DisplaySettings(
            idle_screen=str(options.get(CONF_IDLE_SCREEN, DEFAULT_IDLE_SCREEN)),
            startup_message=bool(options.get(CONF_STARTUP_MESSAGE, DEFAULT_STARTUP_MESSAGE)),
            tap_threshold=int(options.get(CONF_TAP_THRESHOLD, DEFAULT_TAP_THRESHOLD)),
        )
        self.backlight = coordinator.backlight if coordinator.backlight is not None else True
        self.stopped = False
        self.preview: bytes | None = None
        self.preview_updated: datetime | None = None
        self._urgent_until = 0.0
        self._backlight_sent_until = 0.0
        self._preview_listeners: list[Callable[[], None]] = []
        self._tap_listeners: list[Callable[[], None]] = []
        self._backlight_listeners: list[Callable[[], None]] = []

    async def async_start(self) -> None:
        """Send the idle-screen settings (retained: the agent gets them when it starts)."""
        await self.coordinator.async_publish(
            wire.CMD_DISPLAY, wire.encode_display(self.settings), retain=True
        )
        if (data := self.coordinator.current()) is not None:
            self.coordinator._publish_readings(data)  # noqa: SLF001 - same module

    async def async_stop(self) -> None:
        """Stop sending; the remote screen carries on with its idle screen."""
        self.stopped = True

    @property
    def available(self) -> bool:
        """Tell whether the remote board takes commands (online, states arriving)."""
        return not self.stopped and self.coordinator.reachable

    # -- actions ---------------------------------------------------------------------

    def _send(self, kind: str, payload: bytes) -> None:
        if self.stopped:
            return
        if not self.coordinator.reachable:
            raise self.coordinator.unreachable_error()
        self._urgent_until = time.monotonic() + URGENT_WINDOW
        self.hass.async_create_background_task(
            self.coordinator.async_publish(kind, payload),
            f"{DOMAIN} {kind} {self.coordinator.board_id}",
        )

    @callback
    def show(self, message: Message) -> None:
        """Show a message on the remote LCD (the agent switches the backlight on)."""
        self._send(
            wire.CMD_SHOW,
            wire.encode_show(
                wire.ShowCommand(
                    text=message.text,
                    title=message.title,
                    duration=message.duration,
                    color=message.color,
                    background=message.background,
                    size=message.size,
                )
            ),
        )
        self.remote_backlight(True)
        self._backlight_sent_until = time.monotonic() + BACKLIGHT_SETTLE

    @callback
    def dismiss(self) -> None:
        """End the message on the remote LCD."""
        self._send(wire.CMD_DISMISS, wire.encode_dismiss())

    @callback
    def set_backlight(self, on: bool) -> None:
        """Switch the remote backlight."""
        if self.stopped:
            return
        if self.coordinator.reachable:
            self._send(wire.CMD_BACKLIGHT, wire.encode_backlight(on))
            self._backlight_sent_until = time.monotonic() + BACKLIGHT_SETTLE
        self.remote_backlight(on)

    # -- what the agent reports ------------------------------------------------------

    @callback
    def reported_backlight(self, on: bool) -> None:
        """Follow the backlight a state reports, unless a command of ours is on its way.

        A state read before the agent got our command still carries the old level;
        following it would flip the switch back for a cycle.
        """
        if time.monotonic() >= self._backlight_sent_until:
            self.remote_backlight(on)

    @callback
    def remote_backlight(self, on: bool) -> None:
        """Follow the backlight the board reports (or was just told)."""
        if on == self.backlight:
            return
        self.backlight = on
        for listener in list(self._backlight_listeners):
            listener()

    @callback
    def remote_tap(self) -> None:
        """Tell the listeners about a tap on the board."""
        if self.stopped:
            return
        self._urgent_until = time.monotonic() + URGENT_WINDOW
        for listener in list(self._tap_listeners):
            listener()

    @callback
    def remote_preview(self, png: bytes) -> None:
        """Keep the newest picture; tell the image entity now or within minutes."""
        if png == self.preview:
            return
        self.preview = png
        now = dt_util.utcnow()
        last = self.preview_updated
        urgent = time.monotonic() < self._urgent_until
        if not urgent and last is not None and now - last < PREVIEW_IDLE_INTERVAL:
            return
        self.preview_updated = now
        for listener in list(self._preview_listeners):
            listener()

    # -- listeners -------------------------------------------------------------------

    @callback
    def add_preview_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener when the picture on the LCD changes."""
        return add_listener(self._preview_listeners, listener)

    @callback
    def add_tap_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener on each tap."""
        return add_listener(self._tap_listeners, listener)

    @callback
    def add_backlight_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener when the backlight is switched."""
        return add_listener(self._backlight_listeners, listener)
