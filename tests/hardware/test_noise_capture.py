"""The microphone's capture path and its faults.

The real path runs through alsa-lib itself: a private ALSA configuration (never the
machine's /etc or ~) defines capture PCMs of alsa-lib's ``file`` plugin, whose
``infile`` is raw S32_LE stereo made from the emulator's signals; the code that reads
the ADAU7002 on a Pi (``LinuxBusProvider.open_audio``, ``AlsaCapture``, ``NoiseMeter``,
``Board``) reads them. It runs in a child process, since alsa-lib reads its
configuration (``ALSA_CONFIG_PATH``) once per process.

Faults (missing, busy, stalled device) go through the emulator's fault facade: they
are survived as group errors, logged once, and the capture thread ends on close.
"""

import errno
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from custom_components.qiot_enviro.enviro import alsa
from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.audio import EmulatedMicrophone, pack_frames
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.models import BusDevice, DeviceStatus, SensorGroup

ROOT = Path(__file__).resolve().parents[2]
RATE = 48_000
REFERENCE_PEAK = 10.0 ** (-26.0 / 20.0)


def _alsa_available() -> bool:
    try:
        alsa.load_library()
    except OSError:
        return False
    return True


needs_alsa = pytest.mark.skipif(
    not _alsa_available(), reason="libasound.so.2 is not installed (scripts/setup installs it)"
)

CHILD = """
import json, sys, time
from custom_components.qiot_enviro.enviro import alsa
from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import create_simulated
from custom_components.qiot_enviro.enviro.linux import LinuxBusProvider
from custom_components.qiot_enviro.enviro.models import BusDevice
from custom_components.qiot_enviro.enviro.noise import NoiseMeter

result = {}
# 1. The Pi's provider and the meter thread on the tone file.
provider = LinuxBusProvider(audio_device="qiot_tone")
probe = provider.probe("/dev/ttyAMA0")[-1]
result["probe"] = [probe.device.value, probe.path, probe.status.value]
meter = NoiseMeter(provider.open_audio(), settle=0.5)
meter.start()
deadline = time.monotonic() + 20
while meter.frames < 3 * 48000 and time.monotonic() < deadline:
    time.sleep(0.01)
cycle = meter.take()
meter.stop()
result["tone"] = [cycle.laeq, cycle.lafmax, cycle.seconds]

# 2. The whole board: emulated chips, the microphone through alsa-lib.
class PiMicrophone(type(create_simulated().provider)):
    def probe(self, uart_path):
        probes = [p for p in super().probe(uart_path) if p.device is not BusDevice.AUDIO]
        return [*probes, alsa.probe_capture("qiot_room")]

    def open_audio(self):
        return LinuxBusProvider(audio_device="qiot_room").open_audio()

sim = create_simulated(seed=5, frame_interval=0.05)
board = Board(PiMicrophone(sim), particulate_warmup=0.0, noise_settle=0.5)
detection = board.open()
result["groups"] = sorted(g.value for g in detection.groups)
time.sleep(1.5)
noise = board.read().noise
result["room"] = [noise.value.laeq, noise.value.lafmax] if noise.ok else noise.error
board.close()
json.dump(result, sys.stdout)
"""


def _asoundrc(path: Path, pcms: dict[str, Path]) -> None:
    """Write an ALSA configuration with one ``file``-plugin capture PCM per raw file."""
    blocks = [
        f"""pcm.{name} {{
    type file
    slave.pcm {{ type null }}
    file "/dev/null"
    infile "{raw}"
    format "raw"
}}
"""
        for name, raw in pcms.items()
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")


@needs_alsa
def test_alsa_file_plugin_feeds_the_real_capture_path(tmp_path: Path) -> None:
    """A 94 dB tone and the emulator's 60 dB(A) room, read through alsa-lib."""
    # One second of a 1 kHz tone at the sensitivity point: whole cycles, so the file
    # plugin's wrap-around at its end is seamless.
    tone = [REFERENCE_PEAK * math.sin(2 * math.pi * 1000 * n / RATE) for n in range(RATE)]
    (tmp_path / "tone.raw").write_bytes(pack_frames(tone))
    # The emulator's room sound at 60 dB(A), its 0.1 s pattern (loops seamlessly).
    (tmp_path / "room.raw").write_bytes(EmulatedMicrophone(lambda: 60.0).frames_at(60.0))
    config = tmp_path / "asoundrc"
    _asoundrc(config, {"qiot_tone": tmp_path / "tone.raw", "qiot_room": tmp_path / "room.raw"})
    env = {**os.environ, "ALSA_CONFIG_PATH": str(config), "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["probe"] == ["audio", "qiot_tone", "ok"]
    laeq, lafmax, seconds = result["tone"]
    assert laeq == pytest.approx(94.0, abs=0.5)
    assert lafmax == pytest.approx(94.0, abs=0.5)
    assert seconds >= 2.5
    assert "noise" in result["groups"]
    room_laeq, room_lafmax = result["room"]
    assert room_laeq == pytest.approx(60.0, abs=0.5)
    assert room_lafmax == pytest.approx(60.0, abs=0.5)


@needs_alsa
def test_probe_of_a_missing_card_says_what_to_enable() -> None:
    """No adau7002 card on this machine: not present, with the overlay to enable."""
    probe = alsa.probe_capture("hw:CARD=qiotnosuchcard,DEV=0")
    assert probe.device is BusDevice.AUDIO
    assert probe.status is DeviceStatus.NOT_PRESENT
    assert "dtoverlay=adau7002-simple" in probe.detail


@pytest.mark.parametrize(
    ("err", "status", "hint"),
    [
        (errno.ENOENT, DeviceStatus.NOT_PRESENT, "adau7002-simple"),
        (errno.EACCES, DeviceStatus.PERMISSION_DENIED, "audio group"),
        (errno.EBUSY, DeviceStatus.BUSY, "holds the microphone"),
        (errno.EIO, DeviceStatus.ERROR, "hw:CARD=adau7002"),
    ],
)
def test_open_errors_map_to_what_a_user_can_do(err: int, status: DeviceStatus, hint: str) -> None:
    """alsa-lib's negative errno becomes the probe status and a hint."""
    probe = alsa.describe_failure(OSError(err, os.strerror(err)), alsa.DEFAULT_DEVICE)
    assert probe.status is status
    assert hint in probe.detail


def test_without_libasound_the_microphone_is_not_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where alsa-lib cannot be loaded (a container without it), say so."""
    monkeypatch.setattr(alsa, "_lib", None)
    monkeypatch.setattr(alsa, "LIBRARY", "libqiot-no-such-library.so.2")
    monkeypatch.setattr(alsa.ctypes.util, "find_library", lambda name: None)
    probe = alsa.probe_capture()
    assert probe.status is DeviceStatus.NOT_PRESENT
    assert "libasound.so.2" in probe.detail
    with pytest.raises(alsa.AlsaUnavailableError):
        alsa.AlsaCapture(alsa.DEFAULT_DEVICE, rate=RATE, channels=2)


# -- faults on the emulated board ------------------------------------------------------


def _noise_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qiot_enviro-noise"]


def _wait_for_value(board: Board, timeout: float = 5.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = board.read().noise
        assert result is not None
        if result.value is not None:
            return result.value.laeq
        time.sleep(0.1)
    pytest.fail("no noise reading")


@pytest.fixture
def quick_board(sim: EmulatedBoard) -> Generator[Board]:
    """Return an Enviro+ whose microphone settles in 0.2 s."""
    board = Board(sim.provider, particulate_warmup=0.0, noise_settle=0.2)
    yield board
    board.close()


def test_the_room_level_is_read_and_the_thread_ends_on_close(
    sim: EmulatedBoard, quick_board: Board
) -> None:
    sim.env.set(noise=47.5)
    detection = quick_board.open()
    assert SensorGroup.NOISE in detection.groups
    assert detection.devices[BusDevice.AUDIO].status is DeviceStatus.OK
    assert quick_board.read().noise.warming_up

    assert _wait_for_value(quick_board) == pytest.approx(47.5, abs=0.5)
    assert sim.open_resources()["audio"] == 1
    assert len(_noise_threads()) == 1

    quick_board.close()
    assert sim.open_resources()["audio"] == 0
    assert _noise_threads() == []


@pytest.mark.parametrize(
    ("fault", "status"),
    [("missing_device", DeviceStatus.NOT_PRESENT), ("busy_device", DeviceStatus.BUSY)],
)
def test_a_missing_or_busy_microphone_at_open_means_no_noise_group(
    sim: EmulatedBoard, quick_board: Board, fault: str, status: DeviceStatus
) -> None:
    getattr(sim.faults, fault)(BusDevice.AUDIO)
    detection = quick_board.open()
    assert detection.devices[BusDevice.AUDIO].status is status
    assert SensorGroup.NOISE not in detection.groups
    assert quick_board.read().noise is None
    assert sim.open_resources()["audio"] == 0


def test_a_stalled_stream_is_an_error_logged_once_then_recovers(
    sim: EmulatedBoard, quick_board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    quick_board.open()
    _wait_for_value(quick_board)
    caplog.set_level(logging.INFO)

    sim.faults.audio_stall()
    errors = []
    deadline = time.monotonic() + 10.0
    while len(errors) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        result = quick_board.read().noise
        assert result is not None
        if result.error:
            errors.append(result.error)
    assert len(errors) == 3
    assert "no audio from the microphone" in errors[0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert quick_board.health()[SensorGroup.NOISE].consecutive_errors >= 3
    # One capture thread at most, never one per failed cycle.
    assert len(_noise_threads()) <= 1

    sim.faults.clear()
    _wait_for_value(quick_board)
    health = quick_board.health()[SensorGroup.NOISE]
    assert health.consecutive_errors == 0
    assert health.recoveries == 1
    assert any("audio again" in r.getMessage() for r in caplog.records)


def test_a_microphone_busy_on_reopen_is_an_error_until_it_is_free(
    sim: EmulatedBoard, quick_board: Board
) -> None:
    quick_board.open()
    _wait_for_value(quick_board)
    sim.faults.audio_stall()
    sim.faults.busy_device(BusDevice.AUDIO)
    time.sleep(1.5)
    stalled = quick_board.read().noise
    assert stalled is not None
    assert "no audio" in (stalled.error or "")
    busy = quick_board.read().noise
    assert busy is not None
    assert "Device or resource busy" in (busy.error or "")
    assert sim.open_resources()["audio"] == 0

    sim.faults.clear()
    assert _wait_for_value(quick_board) > 0
