"""The emulator itself: the room model, chip timing, pacing and the PMS5003 stream."""

import struct
import time

import ltr559
import pms5003
import pytest

from custom_components.qiot_enviro.enviro.bus import ADDR_BME280, LINE_PMS_ENABLE, LINE_PMS_RESET
from custom_components.qiot_enviro.enviro.emulator.environment import Environment
from custom_components.qiot_enviro.enviro.emulator.gpio import EmulatedGPIOChip
from custom_components.qiot_enviro.enviro.emulator.i2c import (
    EmulatedBME280,
    EmulatedI2CBus,
    EmulatedLTR559,
)
from custom_components.qiot_enviro.enviro.emulator.pms5003 import FRAME_BYTES, EmulatedPMS5003

DAY = [hour * 3600.0 for hour in range(48)]


def test_same_seed_same_air() -> None:
    """The simulation is deterministic from its seed, and seeds differ."""
    a, b, c = Environment(3), Environment(3), Environment(4)

    assert [a.simulate(t) for t in DAY] == [b.simulate(t) for t in DAY]
    assert [a.simulate(t) for t in DAY] != [c.simulate(t) for t in DAY]


def test_values_move_plausibly() -> None:
    """Over two days: a daily swing, dark nights, a CPU-warmed sensor, ordered PM."""
    env = Environment(5)
    days = [env.simulate(t) for t in DAY]

    # The BME280 on the Pi is warmed by the CPU; the usual correction gives the room.
    rooms = [v.temperature - (v.cpu_temperature - v.temperature) / 2.25 for v in days]
    assert 2.0 < max(rooms) - min(rooms) < 10.0
    assert all(15.0 < t < 28.0 for t in rooms)
    assert all(v.temperature > room for v, room in zip(days, rooms, strict=True))
    assert all(10.0 < v.humidity < 80.0 for v in days)
    assert all(990.0 < v.pressure < 1035.0 for v in days)
    assert any(v.lux == 0.0 for v in days)
    assert any(v.lux > 100.0 for v in days)
    assert all(v.cpu_temperature > v.temperature for v in days)
    assert all(v.pm1 <= v.pm2_5 <= v.pm10 for v in days)
    assert all(v.gt0_3um >= v.gt0_5um >= v.gt1_0um >= v.gt2_5um for v in days)


def test_pollution_lowers_gas_resistance_and_raises_pm() -> None:
    """During pollution events the MICS6814 resistances fall and PM rises."""
    env = Environment(1)
    minutes = [m * 60.0 for m in range(0, 3 * 24 * 60, 7)]
    polluted = [env.simulate(t) for t in minutes if env.pollution(t) > 0.5]
    clean = [env.simulate(t) for t in minutes if env.pollution(t) == 0.0]

    assert polluted
    assert max(v.reducing for v in polluted) < min(v.reducing for v in clean)
    assert min(v.pm2_5 for v in polluted) > max(v.pm2_5 for v in clean)


def test_pinned_values_read_back_and_release() -> None:
    """Chosen values are what the chips get; released ones follow the simulation again."""
    env = Environment(2)
    env.set(temperature=30.0, pm2_5=40, pm1=20, pm10=50)

    pinned = env.values()
    env.release("temperature")

    assert (pinned.temperature, pinned.pm1, pinned.pm2_5, pinned.pm10) == (30.0, 20, 40, 50)
    assert pinned.gt0_3um == 20 * 150
    assert env.values().temperature != 30.0
    assert env.pinned == {"pm2_5": 40, "pm1": 20, "pm10": 50}
    with pytest.raises(ValueError, match="unknown"):
        env.set(radon=1.0)


@pytest.mark.parametrize(("size", "count"), [(8, 100), (1, 200)])
def test_pacing_matches_100_khz(size: int, count: int) -> None:
    """Paced, each transaction takes its bytes times 90 µs, within a few percent.

    The best of three runs is taken: a busy machine can only make a run slower.
    """
    bus = EmulatedI2CBus({ADDR_BME280: EmulatedBME280(Environment())}, pace=True)
    expected = count * (size + 3) * 90e-6

    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            bus.read_i2c_block_data(ADDR_BME280, 0xF7, size)
        runs.append(time.perf_counter() - started)

    assert bus.bytes_transferred == 3 * count * (size + 3)
    assert min(runs) == pytest.approx(expected, rel=0.05)


def test_ltr559_driver_waits_for_the_reset_bit() -> None:
    """The LTR559's software-reset bit reads set until the reset is over."""
    bus = EmulatedI2CBus({0x23: EmulatedLTR559(Environment(), reset_time=0.12)})

    started = time.monotonic()
    ltr559.LTR559(i2c_dev=bus)

    assert time.monotonic() - started >= 0.12


def _frame_after_power_on(delay: float) -> tuple[bytes, float, bytes]:
    gpio = EmulatedGPIOChip()
    sensor = EmulatedPMS5003(Environment(), gpio, frame_interval=0.02, power_up_delay=delay)
    port = sensor.open_port(timeout=0.1)
    before = port.read(FRAME_BYTES)
    request = gpio.request_outputs("test", {LINE_PMS_ENABLE: True, LINE_PMS_RESET: True})
    started = time.monotonic()
    port.timeout = 1.0
    frame = port.read(FRAME_BYTES)
    waited = time.monotonic() - started
    request.release()
    port.close()
    return before, waited, frame


def test_pms5003_streams_valid_frames_only_when_powered() -> None:
    """Nothing while SET/RESET are low; after power-up, frames the vendor code accepts."""
    before, waited, frame = _frame_after_power_on(0.15)

    data = pms5003.PMS5003Data(frame[4:])

    assert before == b""
    assert waited >= 0.15
    assert frame[:4] == b"\x42\x4d\x00\x1c"
    assert data.checksum == sum(frame[:30])
    assert struct.unpack(">H", frame[30:])[0] == sum(frame[:30])
    assert data.pm_ug_per_m3(2.5) <= data.pm_ug_per_m3(10)
