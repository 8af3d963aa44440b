"""The PMS5003 wrapper and its reader thread, driven directly.

The emulated sensor supplies the UART and the ENABLE / RESET lines; where a driver error
is too slow to provoke on the wire (the vendor's 5 s start-of-frame timeout), the
sensor's ``read`` is scripted instead, so each error kind is checked on its own.
"""

import errno
import struct
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import pms5003
import pytest
from gpiod.line import Value

from custom_components.qiot_enviro.enviro.bus import LINE_PMS_ENABLE, LINE_PMS_RESET
from custom_components.qiot_enviro.enviro.emulator.environment import Environment
from custom_components.qiot_enviro.enviro.emulator.gpio import (
    EmulatedGPIOChip,
    EmulatedLineRequest,
)
from custom_components.qiot_enviro.enviro.emulator.pms5003 import (
    EmulatedPMS5003,
    EmulatedSerialPort,
)
from custom_components.qiot_enviro.enviro.particulates import (
    NullLine,
    ParticulateReader,
    ProviderPMS5003,
)

from .common import wait_for


def frame_data(pm1: int, pm2_5: int, pm10: int) -> pms5003.PMS5003Data:
    """Return what the vendor driver makes of a frame with these PM values."""
    words = (pm1, pm2_5, pm10, pm1, pm2_5, pm10, 300, 100, 30, 3, 1, 0, 0)
    return pms5003.PMS5003Data(struct.pack(">13H", *words) + b"\x00\x00")


class ScriptedPMS5003(ProviderPMS5003):
    """The wrapper with ``read`` replaced by a script of results and exceptions.

    When the script runs out it blocks until stopped, then fails like a port closed
    under it (EBADF), which is what the reader meets when the board shuts down.
    """

    def __init__(self, script: list[object], **kwargs: object) -> None:
        """Queue the results ``read`` returns (or raises) in order."""
        self.script = deque(script)
        self.resets = 0
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def read(self) -> object:
        """Return or raise the next scripted item."""
        if self.script:
            item = self.script.popleft()
            if isinstance(item, BaseException):
                raise item
            return item
        self.stop_event.wait()
        raise OSError(errno.EBADF, "serial port closed")

    def reset(self) -> None:
        """Count resets without the 0.2 s pulse."""
        self.resets += 1


@dataclass
class Wiring:
    """An emulated PMS5003 with its lines claimed and driven high."""

    sensor: EmulatedPMS5003
    lines: EmulatedLineRequest
    ports: list[EmulatedSerialPort]

    def open_port(self) -> EmulatedSerialPort:
        """Open a UART on the sensor, as the bus provider would."""
        port = self.sensor.open_port(timeout=0.3)
        self.ports.append(port)
        return port

    def pins(self) -> dict[str, tuple[EmulatedLineRequest, int]]:
        """Return the enable and reset pins for the wrapper."""
        return {"enable": (self.lines, 22), "reset": (self.lines, 27)}


@pytest.fixture
def wiring() -> Iterator[Wiring]:
    """Return a powered emulated PMS5003; its lines are released afterwards."""
    gpio = EmulatedGPIOChip()
    sensor = EmulatedPMS5003(Environment(1), gpio, frame_interval=0.03, power_up_delay=0.0)
    lines = gpio.request_outputs("test", {LINE_PMS_ENABLE: True, LINE_PMS_RESET: True})
    wired = Wiring(sensor, lines, [])
    yield wired
    lines.release()


def scripted(wiring: Wiring, script: list[object]) -> ScriptedPMS5003:
    """Return a scripted wrapper on the emulated UART and lines."""
    return ScriptedPMS5003(script, open_port=wiring.open_port, **wiring.pins())


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (pms5003.ChecksumMismatchError("PMS5003 Checksum Mismatch 1 != 2"), "checksum", "1 != 2"),
        (struct.error("unpack requires a buffer of 28 bytes"), "length", "bad frame length"),
        (pms5003.SerialTimeoutError("Failed to read start of frame byte"), "timeout", "byte"),
        (
            pms5003.ReadTimeoutError("Could not find start of frame"),
            "no_frame_start",
            "start of frame",
        ),
        (OSError(errno.EIO, "Input/output error"), "io", "UART error: [Errno 5]"),
    ],
)
def test_each_driver_error_is_counted_by_kind(
    wiring: Wiring, error: Exception, kind: str, message: str
) -> None:
    """An error is counted under its kind and named; the next good frame is a recovery."""
    sensor = scripted(wiring, [error, frame_data(4, 6, 9)])
    reader = ParticulateReader(sensor, warmup=0.0)
    reader.start()

    health = wait_for(lambda: (h := reader.health()).extra["frames"] and h)
    reader.stop()

    assert health.extra[kind] == 1
    assert health.error_count == 1
    assert message in str(health.last_error)
    assert health.recoveries == 1
    latest = reader.latest()
    assert latest is not None
    assert (latest.reading.pm1, latest.reading.pm2_5, latest.reading.pm10) == (4, 6, 9)


def test_stopping_ends_the_thread_without_counting_the_closed_port(wiring: Wiring) -> None:
    """The EBADF a read meets while the reader stops is shutdown, not a UART error."""
    sensor = scripted(wiring, [])
    reader = ParticulateReader(sensor, warmup=0.0)
    reader.start()
    time.sleep(0.02)

    reader.stop()

    assert not reader.alive
    assert reader.health().error_count == 0


def test_frame_beyond_the_sensor_range_is_dropped(wiring: Wiring) -> None:
    """PM10 above 1000 µg/m³ is a broken frame: counted as implausible, never reported."""
    sensor = scripted(wiring, [frame_data(400, 700, 1200)])
    reader = ParticulateReader(sensor, warmup=0.0)
    reader.start()

    health = wait_for(lambda: (h := reader.health()).extra["implausible"] and h)
    reader.stop()

    assert reader.latest() is None
    assert health.last_error == ("implausible frame: PM10 1200 µg/m³ beyond the sensor's range")


def test_errors_in_a_row_reset_the_sensor(wiring: Wiring) -> None:
    """After ``reset_after`` errors in a row the sensor is reset, and counting restarts."""
    timeout = pms5003.SerialTimeoutError("silence")
    sensor = scripted(wiring, [timeout] * 5)
    reader = ParticulateReader(sensor, warmup=0.0, reset_after=2)
    reader.start()

    health = wait_for(lambda: (h := reader.health()).error_count == 5 and h)
    reader.stop()

    assert sensor.resets == 2
    assert health.extra["resets"] == 2


def test_stop_before_start_and_without_a_port(wiring: Wiring) -> None:
    """Stopping a reader that never ran, on a closed sensor, returns at once."""
    sensor = ProviderPMS5003(wiring.open_port, **wiring.pins())
    sensor.close()
    sensor.close()
    reader = ParticulateReader(sensor, warmup=0.0)

    started = time.monotonic()
    reader.stop()

    assert time.monotonic() - started < 0.05
    assert not reader.alive
    assert sensor.port is None
    assert all(not port.is_open for port in wiring.ports)


def test_setup_again_closes_the_previous_port(wiring: Wiring) -> None:
    """Re-running setup (the vendor's way to recover) does not leak the old UART."""
    sensor = ProviderPMS5003(wiring.open_port, **wiring.pins())
    first = sensor.port

    sensor.setup()

    assert first is not None
    assert not first.is_open
    assert sensor.port is wiring.ports[-1]
    assert wiring.sensor.open_ports == 1
    sensor.close()


def test_reset_pulses_the_line_even_without_a_port(wiring: Wiring) -> None:
    """A reset after close still pulls RESET low and back high: the sensor restarts."""
    sensor = ProviderPMS5003(wiring.open_port, **wiring.pins())
    sensor.close()
    before = wiring.sensor.resets

    sensor.reset()

    assert wiring.sensor.resets == before + 1
    assert wiring.lines.get_value(27) == Value.ACTIVE


def test_reset_is_skipped_once_stopping(wiring: Wiring) -> None:
    """When the reader is stopping, reset returns at once and leaves the line alone."""
    sensor = ProviderPMS5003(wiring.open_port, **wiring.pins())
    sensor.stop_event.set()
    before = wiring.sensor.resets

    started = time.monotonic()
    sensor.reset()

    assert time.monotonic() - started < 0.05
    assert wiring.sensor.resets == before
    sensor.close()


def test_null_line_reads_inactive_and_ignores_writes() -> None:
    """Without a GPIO chip the stand-in line reports "off" and accepts any write."""
    line = NullLine()
    line.set_value(22, Value.ACTIVE)
    line.release()

    assert line.get_value(22) == Value.INACTIVE
