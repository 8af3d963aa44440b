"""The wire format: what one side encodes the other reads back, and nothing else."""

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.qiot_enviro.agent import wire
from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import create_simulated
from custom_components.qiot_enviro.enviro.models import (
    BusDevice,
    GroupResult,
    NoiseReading,
    SensorGroup,
    Variant,
)


@pytest.fixture(scope="module")
def cycle() -> tuple[Any, Any, Any]:
    """Read one real cycle (detection, snapshot, health) off the emulated Enviro+."""
    sim = create_simulated(Variant.ENVIRO_PLUS, seed=3, frame_interval=0.03, power_up_delay=0.03)
    board = Board(sim.provider, particulate_warmup=0.0, particulate_read_timeout=0.5)
    detection = board.open()
    try:
        for _ in range(100):
            snapshot = board.read()
            if snapshot.particulates is not None and snapshot.particulates.ok:
                break
        return detection, snapshot, board.health()
    finally:
        board.close()


def _state(cycle: tuple[Any, Any, Any]) -> dict[str, Any]:
    _, snapshot, health = cycle
    result: dict[str, Any] = json.loads(wire.encode_state(7, snapshot, health, backlight=True))
    return result


def test_announcement_round_trip(cycle: tuple[Any, Any, Any]) -> None:
    detection, _, _ = cycle
    payload = wire.encode_announcement(
        detection.identity, detection, agent_version="0.3.0", cycle=10.0, hostname="kitchen"
    )
    announced = wire.decode_announcement(payload)
    assert announced.board_id == detection.identity
    assert announced.detection.groups == detection.groups
    assert announced.detection.chips == detection.chips
    assert announced.detection.devices == detection.devices
    assert announced.has_display
    assert announced.hostname == "kitchen"


def test_state_round_trip(cycle: tuple[Any, Any, Any]) -> None:
    detection, snapshot, health = cycle
    state = wire.decode_state(
        wire.encode_state(7, snapshot, health, backlight=False), detection.groups
    )
    assert state.snapshot == snapshot
    assert state.health == health
    assert state.seq == 7
    assert state.backlight is False


def test_state_keeps_errors_and_warm_up(cycle: tuple[Any, Any, Any]) -> None:
    _, snapshot, health = cycle
    broken = replace(
        snapshot,
        gas=GroupResult(value=None, error="ADS1015: no answer"),
        particulates=GroupResult(value=None, warming_up=True),
    )
    state = wire.decode_state(wire.encode_state(1, broken, health))
    assert state.snapshot.gas == broken.gas
    assert state.snapshot.particulates is not None
    assert state.snapshot.particulates.warming_up


def _mutated(cycle: tuple[Any, Any, Any], change: Any) -> bytes:
    data = _state(cycle)
    change(data)
    return json.dumps(data).encode()


BAD_STATES = {
    "string temperature": lambda d: d["groups"]["climate"]["value"].update(temperature="21"),
    "bool proximity": lambda d: d["groups"]["light"]["value"].update(proximity=True),
    "float count": lambda d: d["groups"]["particulates"]["value"].update(pm2_5=1.5),
    "negative pm": lambda d: d["groups"]["particulates"]["value"].update(pm10=-1),
    "humidity over 100": lambda d: d["groups"]["climate"]["value"].update(humidity=101),
    "missing field": lambda d: d["groups"]["gas"]["value"].pop("nh3"),
    "unknown field": lambda d: d.update(evil="x"),
    "unknown group": lambda d: d["groups"].update(noise={"value": None}),
    "no time zone": lambda d: d.update(read_at="2026-12-02T10:00:00"),
    "not a time": lambda d: d.update(read_at="yesterday"),
    "value with error": lambda d: d["groups"]["climate"].update(error="x"),
    "neither value nor error": lambda d: d["groups"]["light"].update(value=None),
    "seq not integer": lambda d: d.update(seq="7"),
    "groups not an object": lambda d: d.update(groups=[]),
    "no schema": lambda d: d.pop("schema"),
    "huge error text": lambda d: d["groups"]["gas"].update(value=None, error="e" * 5000),
}


@pytest.mark.parametrize("change", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_bad_state_is_refused(cycle: tuple[Any, Any, Any], change: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_state(_mutated(cycle, change))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"online"',
        b"\xff\xfe\x00",
        b'{"schema": "1.0", "seq": NaN}',
        b'{"schema": "1.0", "seq": Infinity}',
        b"[" * 100_000,
        b'{"schema": "1.0", "pad": "' + b"x" * (wire.MAX_JSON_BYTES + 1) + b'"}',
    ],
    ids=["empty", "text", "list", "string", "binary", "nan", "infinity", "deep", "huge"],
)
def test_malformed_payloads_raise_wire_error(payload: bytes) -> None:
    for decode in (wire.decode_state, wire.decode_announcement, wire.decode_tap):
        with pytest.raises(wire.WireError):
            decode(payload)


def test_other_major_version_is_unsupported(cycle: tuple[Any, Any, Any]) -> None:
    data = _state(cycle)
    data["schema"] = "2.0"
    with pytest.raises(wire.UnsupportedSchemaError) as err:
        wire.decode_state(json.dumps(data))
    assert err.value.version == "2.0"
    assert wire.schema_major(json.dumps(data)) == 2


def test_newer_minor_version_may_add_fields(cycle: tuple[Any, Any, Any]) -> None:
    data = _state(cycle)
    data["schema"] = "1.9"
    data["noise"] = {"laeq": 40}
    data["groups"]["climate"]["value"]["dew_point"] = 9.0
    state = wire.decode_state(json.dumps(data))
    assert state.snapshot.climate == cycle[1].climate
    # ... while the same fields under our own minor version are refused.
    data["schema"] = wire.SCHEMA
    with pytest.raises(wire.WireError):
        wire.decode_state(json.dumps(data))


def test_encoder_refuses_non_finite(cycle: tuple[Any, Any, Any]) -> None:
    _, snapshot, health = cycle
    with pytest.raises(ValueError, match="JSON"):
        wire.encode_state(1, replace(snapshot, cpu_temperature=math.nan), health)


def test_state_must_report_the_announced_groups(cycle: tuple[Any, Any, Any]) -> None:
    _, snapshot, health = cycle
    payload = wire.encode_state(1, replace(snapshot, gas=None), health)
    with pytest.raises(wire.WireError, match="announcement"):
        wire.decode_state(payload, frozenset(SensorGroup))


def test_announcement_must_be_consistent(cycle: tuple[Any, Any, Any]) -> None:
    detection, _, _ = cycle
    good = json.loads(
        wire.encode_announcement(detection.identity, detection, agent_version="1", cycle=10)
    )
    for change in (
        lambda d: d.update(identity="someone-else"),
        lambda d: d.update(board_id="a/b"),
        lambda d: d.update(board_id="+"),
        lambda d: d.update(groups=["climate"]),
        lambda d: d.update(display=not d["display"]),
        lambda d: d["devices"].pop("spi"),
        lambda d: d.update(chips=["bme280", "unknown"]),
        lambda d: d.update(cycle=0),
        lambda d: d.update(variant="enviro_max"),
    ):
        data = json.loads(json.dumps(good))
        change(data)
        with pytest.raises(wire.WireError):
            wire.decode_announcement(json.dumps(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hostname", "[click me](https://example.invalid/x)"),
        ("hostname", "![i](//e.vl/a.png)"),
        ("hostname", "<img src=x onerror=alert(1)>"),
        ("hostname", "kitchen pi"),
        ("hostname", "kitchen\n\n# Heading"),
        ("hostname", "a" * 65),
        ("agent_version", "[fix](//ev.il/x)"),
        ("agent_version", "<b>0.3</b>"),
        ("agent_version", "0.3 beta"),
    ],
)
def test_announcement_text_shown_in_home_assistant_holds_no_markup(
    cycle: tuple[Any, Any, Any], field: str, value: str
) -> None:
    """The host name and version go into a Markdown form: link or HTML characters are refused."""
    detection, _, _ = cycle
    data = json.loads(
        wire.encode_announcement(
            detection.identity, detection, agent_version="0.3.0", cycle=10, hostname="kitchen"
        )
    )
    data[field] = value
    with pytest.raises(wire.WireError, match=r"may not hold|longer than"):
        wire.decode_announcement(json.dumps(data))


def test_announcement_host_names_that_pass(cycle: tuple[Any, Any, Any]) -> None:
    """Real host names and versions pass; the encoder makes any host name one that passes."""
    detection, _, _ = cycle
    for hostname, version in [
        ("", "0.3.0"),
        ("raspberrypi", "1"),
        ("kitchen-pi.local", "0.4.0.dev3+g1a2b3c4"),
        ("a" * 64, "1!2.0rc1_x"),
    ]:
        payload = wire.encode_announcement(
            detection.identity, detection, agent_version=version, cycle=10, hostname=hostname
        )
        announced = wire.decode_announcement(payload)
        assert (announced.hostname, announced.agent_version) == (hostname, version)
    odd = wire.encode_announcement(
        detection.identity, detection, agent_version="1", cycle=10, hostname="my_pi [x](y)" * 9
    )
    hostname = wire.decode_announcement(odd).hostname
    assert hostname.startswith("my-pi--x--y-")
    assert len(hostname) == 64
    with pytest.raises(wire.WireError, match="agent version"):
        wire.encode_announcement(detection.identity, detection, agent_version="[x](y)", cycle=10)


def test_topics() -> None:
    assert wire.topic("abc123", wire.STATE) == "qiot_enviro/abc123/state"
    assert wire.parse_topic("qiot_enviro/abc123/cmd/show") == ("abc123", wire.CMD_SHOW)
    assert wire.parse_topic("qiot_enviro/abc123/cmd/evil") is None
    assert wire.parse_topic("qiot_enviro/+/state") is None
    assert wire.parse_topic("other/abc123/state") is None
    with pytest.raises(wire.WireError):
        wire.topic("a/b", wire.STATE)
    assert wire.decode_status(b"online") is True
    assert wire.decode_status("offline") is False
    with pytest.raises(wire.WireError):
        wire.decode_status(b"maybe")


def test_commands_round_trip_and_refuse_bad_input() -> None:
    show = wire.ShowCommand(text="Hello", title="Door", duration=5.0, color=(255, 0, 0), size=20)
    assert wire.decode_command(wire.CMD_SHOW, wire.encode_show(show)) == show
    assert wire.decode_command(wire.CMD_DISMISS, wire.encode_dismiss()) is None
    assert wire.decode_command(wire.CMD_BACKLIGHT, wire.encode_backlight(False)) is False
    settings = wire.DisplaySettings(idle_screen="clock", startup_message=False, tap_threshold=900)
    assert wire.decode_command(wire.CMD_DISPLAY, wire.encode_display(settings)) == settings
    readings = wire.DisplayReadings(
        temperature=21.0, humidity=40.0, pm2_5=3.0, aqi=12, aqi_category="good"
    )
    assert wire.decode_command(wire.CMD_READINGS, wire.encode_readings(readings)) == readings
    assert wire.decode_command(wire.CMD_FAULT, wire.encode_fault("i2c_dead")) == "i2c_dead"
    for kind, payload in (
        (wire.CMD_SHOW, {"schema": "1.0", "text": "   "}),
        (wire.CMD_SHOW, {"schema": "1.0", "text": "x" * 1001}),
        (wire.CMD_SHOW, {"schema": "1.0", "text": "x", "color": [256, 0, 0]}),
        (wire.CMD_SHOW, {"schema": "1.0", "text": "x", "duration": -1}),
        (wire.CMD_SHOW, {"schema": "1.0", "text": "x", "size": 1000}),
        (wire.CMD_BACKLIGHT, {"schema": "1.0", "on": "yes"}),
        (wire.CMD_DISPLAY, {"schema": "1.0", "idle_screen": "rm -rf", "startup_message": True,
                            "tap_threshold": 1}),
        (wire.CMD_FAULT, {"schema": "1.0", "scenario": "../../etc"}),
        ("cmd/reboot", {"schema": "1.0"}),
    ):  # fmt: skip
        with pytest.raises(wire.WireError):
            wire.decode_command(kind, json.dumps(payload))


def test_preview_and_tap() -> None:
    png = wire.PNG_SIGNATURE + b"rest"
    assert wire.decode_preview(png) == png
    for bad in (b"GIF89a", wire.PNG_SIGNATURE + b"x" * wire.MAX_PREVIEW_BYTES, "text"):
        with pytest.raises(wire.WireError):
            wire.decode_preview(bad)
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert wire.decode_tap(wire.encode_tap(at)) == at


def test_state_carries_sleeping_and_fan_seconds(cycle: tuple[Any, Any, Any]) -> None:
    """Schema 1.1: a held particulate sample says so, and the fan time is a counter."""
    detection, snapshot, health = cycle
    assert snapshot.particulates is not None
    held = replace(snapshot, particulates=replace(snapshot.particulates, sleeping=True))
    state = wire.decode_state(wire.encode_state(8, held, health), detection.groups)
    assert state.snapshot.particulates is not None
    assert state.snapshot.particulates.sleeping
    assert state.snapshot == held
    assert state.health[SensorGroup.PARTICULATES].extra["fan_seconds"] >= 0


def test_state_of_a_1_0_peer_without_sleeping_still_decodes(
    cycle: tuple[Any, Any, Any],
) -> None:
    """A 1.0 agent sends no ``sleeping`` field and no fan time: read as not sleeping."""
    detection, snapshot, _ = cycle
    data = _state(cycle)
    data["schema"] = "1.0"
    for group in data["groups"].values():
        del group["sleeping"]
    del data["health"]["particulates"]["extra"]["fan_seconds"]
    state = wire.decode_state(json.dumps(data), detection.groups)
    assert state.snapshot == snapshot
    assert state.snapshot.particulates is not None
    assert not state.snapshot.particulates.sleeping


def test_sleeping_without_a_sample_is_refused(cycle: tuple[Any, Any, Any]) -> None:
    data = _state(cycle)
    data["groups"]["particulates"] = {
        "value": None, "error": "x", "read_at": None, "warming_up": False, "sleeping": True,
    }  # fmt: skip
    with pytest.raises(wire.WireError, match="sleeping"):
        wire.decode_state(json.dumps(data))


@pytest.mark.parametrize("interval", [None, *wire.SAMPLING_INTERVALS])
def test_sampling_command_round_trip(interval: int | None) -> None:
    command = wire.SamplingCommand(interval=interval)
    payload = wire.encode_sampling(command)
    assert json.loads(payload)["schema"] == wire.SCHEMA
    assert wire.decode_command(wire.CMD_SAMPLING, payload) == command
    assert wire.parse_topic(wire.topic("b1", wire.CMD_SAMPLING)) == ("b1", wire.CMD_SAMPLING)


@pytest.mark.parametrize(
    "payload",
    [
        {"schema": "1.1", "interval": 301},
        {"schema": "1.1", "interval": "300"},
        {"schema": "1.1", "interval": 300.0},
        {"schema": "1.1", "interval": True},
        {"schema": "1.1", "interval": 300, "extra": 1},
    ],
)
def test_bad_sampling_command_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_command(wire.CMD_SAMPLING, json.dumps(payload))


def test_instance_round_trip_and_older_messages(cycle: tuple[Any, Any, Any]) -> None:
    """Schema 1.2 names the agent instance; a 1.1 message without one reads as ""."""
    detection, snapshot, health = cycle
    announcement = wire.decode_announcement(
        wire.encode_announcement(
            detection.identity, detection, agent_version="1.0", cycle=10.0, instance="a1b2c3"
        )
    )
    state = wire.decode_state(wire.encode_state(7, snapshot, health, instance="a1b2c3"))
    assert (announcement.instance, state.instance) == ("a1b2c3", "a1b2c3")
    old = json.loads(wire.encode_state(7, snapshot, health))
    old["schema"] = "1.1"
    del old["instance"]
    assert wire.decode_state(json.dumps(old).encode()).instance == ""
    forged = json.loads(wire.encode_state(7, snapshot, health))
    forged["instance"] = "../etc"
    with pytest.raises(wire.WireError, match="instance"):
        wire.decode_state(json.dumps(forged).encode())


def test_state_carries_the_noise_group(cycle: tuple[Any, Any, Any]) -> None:
    """Schema 1.2: LAeq and LAFmax in dB(A) go across; a level no air carries does not."""
    detection, snapshot, health = cycle
    assert SensorGroup.NOISE in detection.groups
    heard = replace(
        snapshot,
        noise=GroupResult(
            NoiseReading(laeq=41.25, lafmax=57.5), read_at=datetime(2026, 12, 2, tzinfo=UTC)
        ),
    )
    state = wire.decode_state(wire.encode_state(9, heard, health), detection.groups)
    assert state.snapshot.noise == heard.noise

    data = json.loads(wire.encode_state(9, heard, health))
    data["groups"]["noise"]["value"]["lafmax"] = 195.0
    with pytest.raises(wire.WireError, match="lafmax"):
        wire.decode_state(json.dumps(data), detection.groups)


def test_announcement_of_an_agent_before_the_microphone_still_decodes(
    cycle: tuple[Any, Any, Any],
) -> None:
    """A 1.1 agent announces no audio device: no noise group, and its states decode."""
    detection, snapshot, health = cycle
    old = json.loads(
        wire.encode_announcement(detection.identity, detection, agent_version="0.3.0", cycle=10.0)
    )
    old["schema"] = "1.1"
    del old["devices"]["audio"]
    del old["instance"]
    old["groups"].remove("noise")
    announced = wire.decode_announcement(json.dumps(old))
    assert BusDevice.AUDIO not in announced.detection.devices
    assert SensorGroup.NOISE not in announced.detection.groups

    state = json.loads(wire.encode_state(4, replace(snapshot, noise=None), health))
    state["schema"] = "1.1"
    del state["instance"]
    del state["health"]["noise"]
    decoded = wire.decode_state(json.dumps(state), announced.detection.groups)
    assert decoded.snapshot.noise is None


def test_names_a_newer_minor_version_adds_are_skipped(cycle: tuple[Any, Any, Any]) -> None:
    """A 1.9 peer's new device, chip and group are ignored, as its new fields are."""
    detection, _, _ = cycle
    newer = json.loads(
        wire.encode_announcement(detection.identity, detection, agent_version="0.3.0", cycle=10.0)
    )
    newer["schema"] = "1.9"
    newer["devices"]["camera"] = {"path": "/dev/video0", "status": "ok", "detail": ""}
    newer["chips"].append("ov5647")
    newer["groups"].append("video")
    assert wire.decode_announcement(json.dumps(newer)).detection == detection
    newer["schema"] = wire.SCHEMA
    with pytest.raises(wire.WireError, match="unknown 'ov5647'"):
        wire.decode_announcement(json.dumps(newer))
