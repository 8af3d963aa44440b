"""The MQTT wire format between a remote board's agent and Home Assistant.

Both sides use this module and nothing else to build or read topics and payloads, so
the format is defined once. It imports nothing of Home Assistant nor of MQTT clients.

Topics, all under ``qiot_enviro/<board id>/`` (the board id is the board's identity,
the Pi's serial number, as for a local board)::

    announce          retained  JSON  identity, variant, chips, groups, LCD, agent version
    status            retained  text  "online"; the last will is "offline"
    state             retained  JSON  one per cycle: every group's value or error, health
    preview           retained  PNG   the LCD's picture, whenever it changes
    tap               -         JSON  a proximity tap on the board
    cmd/show          -         JSON  show a message on the LCD
    cmd/dismiss       -         JSON  end the message
    cmd/backlight     -         JSON  switch the backlight
    cmd/display       retained  JSON  idle screen, startup message, tap threshold
    cmd/readings      -         JSON  the derived values the idle readings page shows
    cmd/fault         -         JSON  a simulated board's fault injection
    cmd/sampling      retained  JSON  the particulate sampling interval (since 1.1)

Schema 1.1 added ``cmd/sampling`` and, in the state, each group's ``sleeping`` flag
(a duty-cycled particulate sensor holding its last sample; absent from 1.0, read as
false) and the particulate health counter ``fan_seconds``.

Schema 1.2 added ``instance`` to the announcement and the state: a random id the agent
draws each time it starts, so that Home Assistant tells a restarted agent (a new
instance that stays) from two agents publishing under one board id (instances that
alternate). A 1.0 or 1.1 message has none and reads as instance "".
Schema 1.2 also added the microphone: the ``audio`` device in the announcement (an
older announcement has none, and so no ``noise`` group) and the ``noise`` group in the
state (LAeq and LAFmax in dB(A)). Device, group and chip names a newer minor version
adds are skipped, as its new fields are.

Every payload is untrusted: any client on the broker may publish anything on these
topics. Decoding is strict: a payload over its size limit, malformed JSON, a missing or
mistyped field, a non-finite or implausible number, or an unknown field of a schema
version we know is refused with :class:`WireError` naming the first problem, and no
partial result is returned. A newer minor version may add fields (they are ignored); a
different major version raises :class:`UnsupportedSchemaError`.
"""

import json
import math
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from ..enviro.models import (
    BusDevice,
    Chip,
    ClimateReading,
    Detection,
    DeviceProbe,
    DeviceStatus,
    GasReading,
    GroupHealth,
    GroupResult,
    LightReading,
    NoiseReading,
    ParticulateReading,
    SensorGroup,
    Snapshot,
    Variant,
)

SCHEMA_MAJOR: Final = 1
SCHEMA_MINOR: Final = 2
SCHEMA: Final = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"

TOPIC_ROOT: Final = "qiot_enviro"
ANNOUNCE: Final = "announce"
STATUS: Final = "status"
STATE: Final = "state"
PREVIEW: Final = "preview"
TAP: Final = "tap"
CMD_SHOW: Final = "cmd/show"
CMD_DISMISS: Final = "cmd/dismiss"
CMD_BACKLIGHT: Final = "cmd/backlight"
CMD_DISPLAY: Final = "cmd/display"
CMD_READINGS: Final = "cmd/readings"
CMD_FAULT: Final = "cmd/fault"
CMD_SAMPLING: Final = "cmd/sampling"
COMMANDS: Final = (
    CMD_SHOW, CMD_DISMISS, CMD_BACKLIGHT, CMD_DISPLAY, CMD_READINGS, CMD_FAULT, CMD_SAMPLING,
)  # fmt: skip
# The filter a manifest's "mqtt" discovery (and the user step) listens on.
ANNOUNCE_FILTER: Final = f"{TOPIC_ROOT}/+/{ANNOUNCE}"
# Home Assistant's birth and last-will topic: on "online" agents announce again.
HA_STATUS_TOPIC: Final = "homeassistant/status"
ONLINE: Final = "online"
OFFLINE: Final = "offline"

# Size limits: a real message is a fraction of these (a state is about 1.5 kB, an
# LCD preview PNG of 160x80 at most about 40 kB).
MAX_JSON_BYTES: Final = 16 * 1024
MAX_PREVIEW_BYTES: Final = 128 * 1024
MAX_MESSAGE_LENGTH: Final = 1000
MAX_TITLE_LENGTH: Final = 200
MAX_TEXT_FIELD: Final = 200
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# A board id is one topic level and part of unique ids: no wildcards, no separators.
BOARD_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The host name and agent version are shown in Home Assistant's confirmation form, whose
# description is Markdown: no character that could make a link, an image or HTML.
HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9.-]{0,64}")
AGENT_VERSION_RE: Final = re.compile(r"[A-Za-z0-9.+!_-]{0,32}")
# An agent's per-process id (schema 1.2); "" for a message without one.
INSTANCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{0,32}")
IDLE_SCREENS: Final = ("readings", "clock", "off")
# Particulate sampling intervals in seconds a cmd/sampling may ask for (null: continuous).
SAMPLING_INTERVALS: Final = (300, 600, 900, 1800)
NO_FAULT: Final = "none"


class WireError(ValueError):
    """A payload that is not a valid message of this format."""


class UnsupportedSchemaError(WireError):
    """A payload of a schema major version this side does not speak."""

    def __init__(self, version: str) -> None:
        """Remember the version found."""
        super().__init__(f"unsupported schema version {version!r} (this side speaks {SCHEMA})")
        self.version = version


# -- topics ---------------------------------------------------------------------------


def valid_board_id(board_id: object) -> bool:
    """Tell whether a board id may be used as a topic level and in unique ids."""
    return isinstance(board_id, str) and BOARD_ID_RE.fullmatch(board_id) is not None


def topic(board_id: str, kind: str) -> str:
    """Return the topic of one kind of message of a board."""
    if not valid_board_id(board_id):
        raise WireError(f"invalid board id {board_id!r}")
    return f"{TOPIC_ROOT}/{board_id}/{kind}"


def parse_topic(name: str) -> tuple[str, str] | None:
    """Split one of our topics into (board id, kind); None for anything else."""
    parts = name.split("/", 2)
    if len(parts) != 3 or parts[0] != TOPIC_ROOT or not valid_board_id(parts[1]):
        return None
    kind = parts[2]
    if kind not in (ANNOUNCE, STATUS, STATE, PREVIEW, TAP, *COMMANDS):
        return None
    return parts[1], kind


# -- announcement ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Announcement:
    """What a remote board says about itself (retained)."""

    board_id: str
    detection: Detection
    agent_version: str
    cycle: float  # seconds between state messages
    hostname: str = ""
    instance: str = ""  # the agent process's id (schema 1.2); "" before

    @property
    def has_display(self) -> bool:
        """Tell whether the board has an LCD the agent drives."""
        return self.detection.has_display


def encode_announcement(
    board_id: str,
    detection: Detection,
    *,
    agent_version: str,
    cycle: float,
    hostname: str = "",
    instance: str = "",
) -> bytes:
    """Return the retained announcement of a board.

    Characters a host name may not hold (RFC 1123: letters, digits, '-' and '.') become
    '-', and it is cut to 64, so that the other side accepts it.
    """
    if not valid_board_id(board_id):
        raise WireError(f"invalid board id {board_id!r}")
    if AGENT_VERSION_RE.fullmatch(agent_version) is None:
        raise WireError(f"invalid agent version {agent_version!r}")
    if INSTANCE_RE.fullmatch(instance) is None:
        raise WireError(f"invalid instance {instance!r}")
    hostname = re.sub(r"[^A-Za-z0-9.-]", "-", hostname)[:64]
    return _dump(
        {
            "schema": SCHEMA,
            "board_id": board_id,
            "identity": detection.identity,
            "variant": detection.variant.value if detection.variant else None,
            "simulated": detection.simulated,
            "chips": sorted(chip.value for chip in detection.chips),
            "groups": sorted(group.value for group in detection.groups),
            "display": detection.has_display,
            "particulate_frames": detection.particulate_frames,
            "serial_console": detection.serial_console,
            "devices": {
                device.value: _probe_dict(probe) for device, probe in detection.devices.items()
            },
            "agent_version": agent_version,
            "cycle": cycle,
            "hostname": hostname,
            "instance": instance,
        }
    )


def decode_announcement(payload: bytes | bytearray | str) -> Announcement:
    """Read an announcement, or raise WireError."""
    data = _load(payload)
    fields = _Fields(
        data,
        "announcement",
        (
            "schema", "board_id", "identity", "variant", "simulated", "chips", "groups",
            "display", "particulate_frames", "serial_console", "devices", "agent_version",
            "cycle", "hostname", "instance",
        ),
    )  # fmt: skip
    board_id = fields.string("board_id", limit=64)
    if not valid_board_id(board_id):
        raise WireError(f"announcement: invalid board_id {board_id!r}")
    identity = fields.string("identity", limit=64)
    if identity != board_id:
        raise WireError("announcement: identity differs from board_id")
    variant_name = fields.optional_string("variant", limit=32)
    variant = _enum(Variant, variant_name, "announcement: variant") if variant_name else None
    chips = frozenset(
        _enum(Chip, name, "announcement: chip")
        for name in fields.string_list("chips", 16)
        if _known(Chip, name)
    )
    devices_raw = fields.mapping("devices")
    devices: dict[BusDevice, DeviceProbe] = {}
    for name, raw in devices_raw.items():
        if not _known(BusDevice, name):
            continue
        device = _enum(BusDevice, name, "announcement: device")
        devices[device] = _probe_from(device, raw)
    # Agents before schema 1.2 did not probe the microphone: no audio device, no noise.
    missing = [
        device.value
        for device in BusDevice
        if device not in devices and device is not BusDevice.AUDIO
    ]
    if missing:
        raise WireError(f"announcement: devices lack {', '.join(missing)}")
    detection = Detection(
        devices=devices,
        chips=chips,
        variant=variant,
        identity=identity,
        simulated=fields.boolean("simulated"),
        particulate_frames=fields.boolean("particulate_frames"),
        serial_console=fields.boolean("serial_console"),
    )
    groups = {
        _enum(SensorGroup, g, "announcement: group")
        for g in fields.string_list("groups", 8)
        if _known(SensorGroup, g)
    }
    if groups != set(detection.groups):
        raise WireError("announcement: groups do not follow from chips and devices")
    if fields.boolean("display") != detection.has_display:
        raise WireError("announcement: display does not follow from the devices")
    return Announcement(
        board_id=board_id,
        detection=detection,
        agent_version=_matching(fields.string("agent_version", limit=32), AGENT_VERSION_RE),
        cycle=fields.number("cycle", 1.0, 3600.0),
        hostname=_matching(fields.string("hostname", limit=64, default=""), HOSTNAME_RE),
        instance=_instance(fields),
    )


def _matching(value: str, pattern: re.Pattern[str]) -> str:
    """Return a string shown as text in Home Assistant, or raise WireError."""
    if pattern.fullmatch(value) is None:
        raise WireError(f"announcement: {value!r} has characters it may not hold")
    return value


def _instance(fields: "_Fields") -> str:
    """Return the agent instance a message names ("" when it names none: before 1.2)."""
    instance = fields.string("instance", limit=32, default="")
    if INSTANCE_RE.fullmatch(instance) is None:
        raise WireError(f"{fields.where}: instance has characters it may not hold")
    return instance


def _probe_dict(probe: DeviceProbe) -> dict[str, str]:
    return {"path": probe.path, "status": probe.status.value, "detail": probe.detail}


def _probe_from(device: BusDevice, raw: object) -> DeviceProbe:
    fields = _Fields(raw, f"device {device.value}", ("path", "status", "detail"))
    return DeviceProbe(
        device=device,
        path=fields.string("path", limit=MAX_TEXT_FIELD),
        status=_enum(DeviceStatus, fields.string("status", limit=32), "device status"),
        detail=fields.string("detail", limit=MAX_TEXT_FIELD, default=""),
    )


# -- status ---------------------------------------------------------------------------


def decode_status(payload: bytes | bytearray | str) -> bool:
    """Return True for "online", False for "offline"; WireError for anything else."""
    text = payload if isinstance(payload, str) else bytes(payload).decode("utf-8", "replace")
    if text == ONLINE:
        return True
    if text == OFFLINE:
        return False
    raise WireError(f"status: expected online or offline, got {text[:20]!r}")


# -- state ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class State:
    """One cycle of a remote board."""

    seq: int
    snapshot: Snapshot
    health: dict[SensorGroup, GroupHealth]
    backlight: bool | None = None  # None: the board has no LCD
    instance: str = ""  # the agent process's id (schema 1.2); "" before


# Per group: the reading class and each field's (low, high, integer) bounds. The bounds
# are the chips' ranges, widened: a value outside is not a measurement.
_READINGS: Final[dict[SensorGroup, tuple[type, dict[str, tuple[float, float, bool]]]]] = {
    SensorGroup.CLIMATE: (
        ClimateReading,
        {
            "temperature": (-60.0, 125.0, False),
            "pressure": (200.0, 1200.0, False),
            "humidity": (0.0, 100.0, False),
        },
    ),
    SensorGroup.LIGHT: (
        LightReading,
        {"lux": (0.0, 200_000.0, False), "proximity": (0, 2047, True)},
    ),
    SensorGroup.GAS: (
        GasReading,
        {
            "oxidising": (0.0, 1e9, False),
            "reducing": (0.0, 1e9, False),
            "nh3": (0.0, 1e9, False),
        },
    ),
    SensorGroup.PARTICULATES: (
        ParticulateReading,
        dict.fromkeys(
            (
                "pm1",
                "pm2_5",
                "pm10",
                "gt0_3um",
                "gt0_5um",
                "gt1_0um",
                "gt2_5um",
                "gt5_0um",
                "gt10um",
            ),
            (0, 65535, True),
        ),
    ),
    # dB(A) re 20 µPa: 194 dB is the loudest sound air carries undistorted.
    SensorGroup.NOISE: (
        NoiseReading,
        {"laeq": (0.0, 194.0, False), "lafmax": (0.0, 194.0, False)},
    ),
}


def encode_state(
    seq: int,
    snapshot: Snapshot,
    health: Mapping[SensorGroup, GroupHealth],
    *,
    backlight: bool | None = None,
    instance: str = "",
) -> bytes:
    """Return one cycle's state message."""
    if INSTANCE_RE.fullmatch(instance) is None:
        raise WireError(f"invalid instance {instance!r}")
    groups: dict[str, Any] = {}
    for group in SensorGroup:
        result: GroupResult[Any] | None = getattr(snapshot, group.value)
        if result is None:
            continue
        value = None
        if result.value is not None:
            value = {name: getattr(result.value, name) for name in _READINGS[group][1]}
        groups[group.value] = {
            "value": value,
            "error": result.error,
            "read_at": _time(result.read_at),
            "warming_up": result.warming_up,
            "sleeping": result.sleeping,
        }
    return _dump(
        {
            "schema": SCHEMA,
            "seq": seq,
            "read_at": _time(snapshot.read_at),
            "duration": snapshot.duration,
            "cpu_temperature": snapshot.cpu_temperature,
            "groups": groups,
            "health": {
                group.value: {
                    "last_good": _time(item.last_good),
                    "error_count": item.error_count,
                    "consecutive_errors": item.consecutive_errors,
                    "last_error": item.last_error,
                    "recoveries": item.recoveries,
                    "extra": dict(item.extra),
                }
                for group, item in health.items()
            },
            "backlight": backlight,
            "instance": instance,
        }
    )


def decode_state(
    payload: bytes | bytearray | str, groups: frozenset[SensorGroup] | None = None
) -> State:
    """Read a state message, or raise WireError.

    ``groups``: the groups the board announced; a state must report exactly those.
    """
    data = _load(payload)
    fields = _Fields(
        data,
        "state",
        (
            "schema",
            "seq",
            "read_at",
            "duration",
            "cpu_temperature",
            "groups",
            "health",
            "backlight",
            "instance",
        ),
    )
    results: dict[str, GroupResult[Any]] = {}
    raw_groups = fields.mapping("groups")
    for name, raw in raw_groups.items():
        if not _known(SensorGroup, name):
            continue
        group = _enum(SensorGroup, name, "state: group")
        results[group.value] = _group_result(group, raw)
    health: dict[SensorGroup, GroupHealth] = {}
    for name, raw in fields.mapping("health").items():
        if not _known(SensorGroup, name):
            continue
        group = _enum(SensorGroup, name, "state: health group")
        health[group] = _health(group, raw)
    cpu = fields.optional_number("cpu_temperature", -60.0, 150.0)
    snapshot = Snapshot(
        read_at=fields.time("read_at"),
        duration=fields.number("duration", 0.0, 3600.0),
        cpu_temperature=cpu,
        **results,
    )
    backlight = fields.optional_boolean("backlight")
    state = State(
        seq=int(fields.number("seq", 0, 2**53, integer=True)),
        snapshot=snapshot,
        health=health,
        backlight=backlight,
        instance=_instance(fields),
    )
    if groups is not None:
        check_groups(state, groups)
    return state


def check_groups(state: State, groups: frozenset[SensorGroup]) -> None:
    """Raise WireError unless a state reports exactly the groups its board announced."""
    reported = {group for group in SensorGroup if getattr(state.snapshot, group.value) is not None}
    if reported != groups:
        raise WireError("state: groups differ from the announcement")


def _group_result(group: SensorGroup, raw: object) -> GroupResult[Any]:
    where = f"state: {group.value}"
    fields = _Fields(raw, where, ("value", "error", "read_at", "warming_up", "sleeping"))
    cls, bounds = _READINGS[group]
    value = None
    if (raw_value := fields.get("value")) is not None:
        reading = _Fields(raw_value, f"{where} value", tuple(bounds))
        value = cls(
            **{
                name: reading.number(name, low, high, integer=integer)
                for name, (low, high, integer) in bounds.items()
            }
        )
    error = fields.optional_string("error", limit=MAX_TEXT_FIELD)
    warming_up = fields.boolean("warming_up")
    # Since 1.1; a 1.0 peer never duty-cycles its sensor.
    sleeping = bool(fields.optional_boolean("sleeping"))
    read_at = fields.optional_time("read_at")
    if value is None and error is None and not warming_up:
        raise WireError(f"{where}: neither a value nor an error")
    if value is not None and (error is not None or read_at is None):
        raise WireError(f"{where}: a value needs its read_at and no error")
    if sleeping and value is None:
        raise WireError(f"{where}: a sleeping sensor holds its last sample")
    return GroupResult(
        value=value, error=error, read_at=read_at, warming_up=warming_up, sleeping=sleeping
    )


def _health(group: SensorGroup, raw: object) -> GroupHealth:
    where = f"state: health {group.value}"
    fields = _Fields(
        raw,
        where,
        ("last_good", "error_count", "consecutive_errors", "last_error", "recoveries", "extra"),
    )
    extra: dict[str, int] = {}
    raw_extra = fields.mapping("extra")
    if len(raw_extra) > 16:
        raise WireError(f"{where}: too many extra counters")
    for key, count in raw_extra.items():
        if not isinstance(key, str) or len(key) > 64:
            raise WireError(f"{where}: invalid counter name")
        extra[key] = _int(count, f"{where} {key}")
    return GroupHealth(
        last_good=fields.optional_time("last_good"),
        error_count=_int(fields.get("error_count"), f"{where} error_count"),
        consecutive_errors=_int(fields.get("consecutive_errors"), f"{where} consecutive_errors"),
        last_error=fields.optional_string("last_error", limit=MAX_TEXT_FIELD),
        recoveries=_int(fields.get("recoveries"), f"{where} recoveries"),
        extra=extra,
    )


# -- preview and tap ------------------------------------------------------------------


def decode_preview(payload: bytes | bytearray | str) -> bytes:
    """Return the PNG of a preview, or raise WireError (the picture is not decoded here)."""
    if isinstance(payload, str):
        raise WireError("preview: not binary")
    if len(payload) > MAX_PREVIEW_BYTES:
        raise WireError(f"preview: {len(payload)} bytes is over {MAX_PREVIEW_BYTES}")
    if not payload.startswith(PNG_SIGNATURE):
        raise WireError("preview: not a PNG")
    return bytes(payload)


def encode_tap(at: datetime) -> bytes:
    """Return a tap event."""
    return _dump({"schema": SCHEMA, "at": _time(at)})


def decode_tap(payload: bytes | bytearray | str) -> datetime:
    """Return when a tap happened, or raise WireError."""
    return _Fields(_load(payload), "tap", ("schema", "at")).time("at")


# -- commands -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowCommand:
    """Show a message on the LCD."""

    text: str
    title: str | None = None
    duration: float | None = None
    color: tuple[int, int, int] = (255, 255, 255)
    background: tuple[int, int, int] = (0, 0, 0)
    size: int | None = None


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    """The idle-screen settings Home Assistant's options hold."""

    idle_screen: str
    startup_message: bool
    tap_threshold: int


@dataclass(frozen=True, slots=True)
class DisplayReadings:
    """The derived values the idle readings page shows."""

    temperature: float | None
    humidity: float | None
    pm2_5: float | None
    aqi: int | None
    aqi_category: str | None


@dataclass(frozen=True, slots=True)
class SamplingCommand:
    """The particulate sampling mode: seconds between samples, None for continuous."""

    interval: int | None


type Command = ShowCommand | DisplaySettings | DisplayReadings | SamplingCommand | bool | str | None


def encode_show(command: ShowCommand) -> bytes:
    """Return a show-message command."""
    return _dump(
        {
            "schema": SCHEMA,
            "text": command.text,
            "title": command.title,
            "duration": command.duration,
            "color": list(command.color),
            "background": list(command.background),
            "size": command.size,
        }
    )


def encode_dismiss() -> bytes:
    """Return a dismiss command."""
    return _dump({"schema": SCHEMA})


def encode_backlight(on: bool) -> bytes:
    """Return a backlight command."""
    return _dump({"schema": SCHEMA, "on": on})


def encode_display(settings: DisplaySettings) -> bytes:
    """Return the (retained) display settings."""
    return _dump(
        {
            "schema": SCHEMA,
            "idle_screen": settings.idle_screen,
            "startup_message": settings.startup_message,
            "tap_threshold": settings.tap_threshold,
        }
    )


def encode_readings(readings: DisplayReadings) -> bytes:
    """Return the values for the idle readings page."""
    return _dump(
        {
            "schema": SCHEMA,
            "temperature": readings.temperature,
            "humidity": readings.humidity,
            "pm2_5": readings.pm2_5,
            "aqi": readings.aqi,
            "aqi_category": readings.aqi_category,
        }
    )


def encode_fault(scenario: str) -> bytes:
    """Return a simulated board's fault injection ("none" clears)."""
    return _dump({"schema": SCHEMA, "scenario": scenario})


def encode_sampling(command: SamplingCommand) -> bytes:
    """Return the (retained) particulate sampling mode."""
    if command.interval is not None and command.interval not in SAMPLING_INTERVALS:
        raise WireError(
            f"sampling: interval {command.interval!r} is not one of {SAMPLING_INTERVALS}"
        )
    return _dump({"schema": SCHEMA, "interval": command.interval})


def decode_command(kind: str, payload: bytes | bytearray | str) -> Command:
    """Read a command for the agent, or raise WireError.

    Returns a ShowCommand (cmd/show), None (cmd/dismiss), a bool (cmd/backlight),
    DisplaySettings (cmd/display), DisplayReadings (cmd/readings) or the scenario name
    (cmd/fault; "none" clears) or a SamplingCommand (cmd/sampling).
    """
    decoder = _COMMANDS.get(kind)
    if decoder is None:
        raise WireError(f"unknown command {kind!r}")
    return decoder(_load(payload))


def _decode_show(data: object) -> ShowCommand:
    fields = _Fields(
        data, "show", ("schema", "text", "title", "duration", "color", "background", "size")
    )
    text = fields.string("text", limit=MAX_MESSAGE_LENGTH)
    if not text.strip():
        raise WireError("show: empty text")
    duration = fields.optional_number("duration", 0.0, 86400.0)
    size = fields.optional_number("size", 8, 80, integer=True)
    return ShowCommand(
        text=text,
        title=fields.optional_string("title", limit=MAX_TITLE_LENGTH),
        duration=duration or None,
        color=fields.color("color", (255, 255, 255)),
        background=fields.color("background", (0, 0, 0)),
        size=int(size) if size is not None else None,
    )


def _decode_dismiss(data: object) -> None:
    _Fields(data, "dismiss", ("schema",))


def _decode_backlight(data: object) -> bool:
    return _Fields(data, "backlight", ("schema", "on")).boolean("on")


def _decode_display(data: object) -> DisplaySettings:
    fields = _Fields(data, "display", ("schema", "idle_screen", "startup_message", "tap_threshold"))
    idle = fields.string("idle_screen", limit=16)
    if idle not in IDLE_SCREENS:
        raise WireError(f"display: unknown idle screen {idle!r}")
    return DisplaySettings(
        idle_screen=idle,
        startup_message=fields.boolean("startup_message"),
        tap_threshold=int(fields.number("tap_threshold", 1, 2047, integer=True)),
    )


def _decode_readings(data: object) -> DisplayReadings:
    fields = _Fields(
        data, "readings", ("schema", "temperature", "humidity", "pm2_5", "aqi", "aqi_category")
    )
    aqi = fields.optional_number("aqi", 0, 999, integer=True)
    return DisplayReadings(
        temperature=fields.optional_number("temperature", -100.0, 150.0),
        humidity=fields.optional_number("humidity", 0.0, 100.0),
        pm2_5=fields.optional_number("pm2_5", 0.0, 100_000.0),
        aqi=int(aqi) if aqi is not None else None,
        aqi_category=fields.optional_string("aqi_category", limit=40),
    )


def _decode_fault(data: object) -> str:
    scenario = _Fields(data, "fault", ("schema", "scenario")).string("scenario", limit=40)
    if not re.fullmatch(r"[a-z0-9_]+", scenario):
        raise WireError("fault: invalid scenario name")
    return scenario


def _decode_sampling(data: object) -> SamplingCommand:
    fields = _Fields(data, "sampling", ("schema", "interval"))
    if fields.get("interval") is None:
        return SamplingCommand(interval=None)
    interval = int(fields.number("interval", 1, 86400, integer=True))
    if interval not in SAMPLING_INTERVALS:
        raise WireError(f"sampling: interval {interval} is not one of {SAMPLING_INTERVALS}")
    return SamplingCommand(interval=interval)


_COMMANDS: Final[dict[str, Callable[[object], Command]]] = {
    CMD_SHOW: _decode_show,
    CMD_DISMISS: _decode_dismiss,
    CMD_BACKLIGHT: _decode_backlight,
    CMD_DISPLAY: _decode_display,
    CMD_READINGS: _decode_readings,
    CMD_FAULT: _decode_fault,
    CMD_SAMPLING: _decode_sampling,
}


# -- helpers --------------------------------------------------------------------------


def _dump(data: dict[str, Any]) -> bytes:
    """Encode as compact JSON; refuses NaN and infinities (they are not JSON)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _reject_constant(name: str) -> None:
    raise WireError(f"{name} is not a number JSON allows")


def _load(payload: bytes | bytearray | str) -> Any:
    """Parse a JSON object of at most MAX_JSON_BYTES and check its schema version."""
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if size > MAX_JSON_BYTES:
        raise WireError(f"{size} bytes is over the limit of {MAX_JSON_BYTES}")
    if size == 0:
        raise WireError("empty payload")
    try:
        data = json.loads(payload, parse_constant=_reject_constant)
    except (UnicodeDecodeError, RecursionError) as err:
        raise WireError(f"not JSON: {type(err).__name__}") from None
    except json.JSONDecodeError as err:
        raise WireError(f"not JSON: {err.msg} at {err.pos}") from None
    if not isinstance(data, dict):
        raise WireError("not a JSON object")
    version = data.get("schema")
    if not isinstance(version, str) or not re.fullmatch(r"\d{1,4}\.\d{1,4}", version):
        raise WireError("no schema version")
    major, minor = (int(part) for part in version.split("."))
    if major != SCHEMA_MAJOR:
        raise UnsupportedSchemaError(version)
    # A newer minor version may add fields anywhere: they are ignored, not refused.
    _NEWER.set(minor > SCHEMA_MINOR)
    return data


def schema_major(payload: bytes | bytearray | str) -> int | None:
    """Return the schema major version a payload claims, None if it claims none."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    version = data.get("schema") if isinstance(data, dict) else None
    if isinstance(version, str) and re.fullmatch(r"\d{1,4}\.\d{1,4}", version):
        return int(version.split(".")[0])
    return None


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise WireError(f"{where}: expected a count")
    return value


def _enum[E](cls: Callable[[str], E], value: object, where: str) -> E:
    if not isinstance(value, str):
        raise WireError(f"{where}: expected a name")
    try:
        return cls(value)
    except ValueError:
        raise WireError(f"{where}: unknown {value[:40]!r}") from None


_NEWER: ContextVar[bool] = ContextVar("qiot_enviro_wire_newer", default=False)


def _known(cls: type[StrEnum], name: object) -> bool:
    """Tell whether to read a name: known, or refused later (unless a newer minor added it)."""
    if not _NEWER.get() or not isinstance(name, str):
        return True
    return name in {member.value for member in cls}


class _Fields:
    """Typed access to a JSON object's fields, refusing unknown ones."""

    def __init__(self, data: object, where: str, known: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise WireError(f"{where}: expected an object")
        if not _NEWER.get() and (unknown := [key for key in data if key not in known]):
            raise WireError(f"{where}: unknown field {str(unknown[0])[:40]!r}")
        self.data: dict[str, Any] = data
        self.where = where

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def _error(self, name: str, what: str) -> WireError:
        return WireError(f"{self.where}: {name} {what}")

    def string(self, name: str, *, limit: int, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if not isinstance(value, str):
            raise self._error(name, "must be a string")
        if len(value) > limit:
            raise self._error(name, f"is longer than {limit}")
        return value

    def optional_string(self, name: str, *, limit: int) -> str | None:
        if self.data.get(name) is None:
            return None
        return self.string(name, limit=limit)

    def string_list(self, name: str, limit: int) -> list[str]:
        value = self.data.get(name)
        if not isinstance(value, list) or len(value) > limit:
            raise self._error(name, f"must be a list of at most {limit} names")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise self._error(name, "must be an object")
        return value

    def boolean(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self._error(name, "must be true or false")
        return value

    def optional_boolean(self, name: str) -> bool | None:
        if self.data.get(name) is None:
            return None
        return self.boolean(name)

    def number(self, name: str, low: float, high: float, *, integer: bool = False) -> Any:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(name, "must be a number")
        if integer and not isinstance(value, int):
            raise self._error(name, "must be a whole number")
        if not math.isfinite(value) or not low <= value <= high:
            raise self._error(name, f"is outside {low}..{high}")
        return value if integer else float(value)

    def optional_number(
        self, name: str, low: float, high: float, *, integer: bool = False
    ) -> Any | None:
        if self.data.get(name) is None:
            return None
        return self.number(name, low, high, integer=integer)

    def time(self, name: str) -> datetime:
        value = self.string(name, limit=40)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self._error(name, "is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise self._error(name, "has no time zone")
        return parsed

    def optional_time(self, name: str) -> datetime | None:
        if self.data.get(name) is None:
            return None
        return self.time(name)

    def color(self, name: str, default: tuple[int, int, int]) -> tuple[int, int, int]:
        value = self.data.get(name)
        if value is None:
            return default
        if (
            isinstance(value, list)
            and len(value) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
        ):
            return (value[0], value[1], value[2])
        raise self._error(name, "must be [red, green, blue] of 0-255")
