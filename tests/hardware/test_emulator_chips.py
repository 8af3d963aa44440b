"""The emulated chips and buses at register level, as a driver or ``i2cdetect`` sees them.

These pin down the emulator's own contract: the board tests rely on it behaving like
the silicon (faults per address, closed handles, soft resets, saturation, read-only
registers, GPIO request errors, the PMS5003 UART and the ST7735's wire protocol).
"""

import errno
import struct
import time
from collections.abc import Callable, Iterator

import ltr559
import pytest
from gpiod.line import Value
from PIL import Image

from custom_components.qiot_enviro.enviro.bus import (
    ADDR_ADS1015,
    ADDR_BME280,
    ADDR_LTR559,
    LINE_PMS_ENABLE,
    LINE_PMS_RESET,
)
from custom_components.qiot_enviro.enviro.emulator.environment import Environment
from custom_components.qiot_enviro.enviro.emulator.gpio import (
    EmulatedGPIOChip,
    EmulatedLineRequest,
)
from custom_components.qiot_enviro.enviro.emulator.i2c import (
    BME280Calibration,
    EmulatedADS1x15,
    EmulatedBME280,
    EmulatedI2CBus,
    EmulatedI2CHandle,
    EmulatedLTR559,
    ltr559_counts,
)
from custom_components.qiot_enviro.enviro.emulator.pms5003 import FRAME_BYTES, EmulatedPMS5003
from custom_components.qiot_enviro.enviro.emulator.st7735 import (
    CASET,
    INVON,
    MADCTL,
    RAMWR,
    RASET,
    SLPIN,
    SLPOUT,
    SWRESET,
    EmulatedSPIPort,
)

from .test_lcd import Rig, _power_up, _send, make_rig

NO_CHIP = 0x40
RED = b"\xf8\x00"

# -- the I2C bus ---------------------------------------------------------------------


@pytest.fixture
def bus() -> EmulatedI2CBus:
    """Return an unpaced bus with a BME280, an LTR559 and an ADS1015."""
    env = Environment(1)
    return EmulatedI2CBus(
        {
            ADDR_BME280: EmulatedBME280(env),
            ADDR_LTR559: EmulatedLTR559(env),
            ADDR_ADS1015: EmulatedADS1x15(env),
        }
    )


@pytest.fixture(params=["bus", "handle"])
def target(request: pytest.FixtureRequest, bus: EmulatedI2CBus) -> EmulatedI2CBus:
    """Return the bus itself or an opened handle on it (both speak smbus2)."""
    if request.param == "bus":
        return bus
    return EmulatedI2CHandle(bus)  # type: ignore[return-value]


def _answers(bus: EmulatedI2CBus, address: int) -> bool:
    try:
        bus.write_quick(address)
    except OSError:
        return False
    return True


def test_write_quick_probes_like_i2cdetect(target: EmulatedI2CBus) -> None:
    """A present chip acknowledges its address; an empty address NACKs with errno 121."""
    target.write_quick(ADDR_BME280)

    with pytest.raises(OSError, match="Remote I/O error") as caught:
        target.write_quick(NO_CHIP)

    assert caught.value.errno == errno.EREMOTEIO == 121


def test_write_byte_data_reaches_the_register(target: EmulatedI2CBus) -> None:
    """A single-byte write to the BME280's ctrl_hum reads back; its chip id cannot change."""
    target.write_byte_data(ADDR_BME280, 0xF2, 0x05)
    target.write_byte_data(ADDR_BME280, 0xD0, 0x00)

    assert target.read_byte_data(ADDR_BME280, 0xF2) == 0x05
    assert target.read_byte_data(ADDR_BME280, 0xD0) == 0x60


@pytest.mark.parametrize("clear", [ADDR_BME280, NO_CHIP])
def test_clearing_one_address_leaves_the_others(bus: EmulatedI2CBus, clear: int) -> None:
    """clear_faults(address) repairs that address only; other faults stay injected."""
    bus.fail(ADDR_BME280, errno.EIO)
    bus.remove(ADDR_LTR559)

    bus.clear_faults(clear)

    assert _answers(bus, ADDR_BME280) is (clear == ADDR_BME280)
    assert not _answers(bus, ADDR_LTR559)
    assert _answers(bus, ADDR_ADS1015)


def test_reset_stats_starts_counting_afresh(bus: EmulatedI2CBus) -> None:
    """After reset_stats only later transactions are counted (a NACK costs one byte)."""
    for _ in range(5):
        bus.read_i2c_block_data(ADDR_BME280, 0xF7, 8)

    bus.reset_stats()
    bus.read_i2c_block_data(ADDR_BME280, 0xD0, 1)
    _answers(bus, NO_CHIP)

    assert (bus.transactions, bus.bytes_transferred) == (2, 1 + 3 + 1)


def test_slow_paced_transaction_sleeps_its_wire_time() -> None:
    """At 10 kHz an 8-byte read (11 bytes on the wire) takes about 9.9 ms, not zero."""
    bus = EmulatedI2CBus({ADDR_BME280: EmulatedBME280(Environment())}, pace=True, bit_rate=10_000)
    expected = 11 * 9 / 10_000

    started = time.perf_counter()
    bus.read_i2c_block_data(ADDR_BME280, 0xF7, 8)
    took = time.perf_counter() - started

    assert expected <= took < 5 * expected


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.read_i2c_block_data(ADDR_BME280, 0xD0, 1),
        lambda h: h.write_i2c_block_data(ADDR_BME280, 0xF4, [0]),
        lambda h: h.read_byte_data(ADDR_BME280, 0xD0),
        lambda h: h.write_byte_data(ADDR_BME280, 0xF4, 0),
        lambda h: h.write_quick(ADDR_BME280),
    ],
    ids=["read_block", "write_block", "read_byte", "write_byte", "quick"],
)
def test_closed_handle_raises_ebadf(
    bus: EmulatedI2CBus, call: Callable[[EmulatedI2CHandle], object]
) -> None:
    """A closed /dev/i2c-1 handle refuses every call; closing it twice is harmless."""
    handle = EmulatedI2CHandle(bus)
    other = EmulatedI2CHandle(bus)
    handle.close()
    handle.close()

    with pytest.raises(OSError, match="handle closed") as caught:
        call(handle)

    assert caught.value.errno == errno.EBADF
    assert bus.open_handles == 1
    assert other.read_byte_data(ADDR_BME280, 0xD0) == 0x60


# -- BME280 --------------------------------------------------------------------------


def test_bme280_soft_reset_restores_reset_values(bus: EmulatedI2CBus) -> None:
    """0xB6 to 0xE0 clears the control registers and keeps id and calibration."""
    chip = bus.chip(ADDR_BME280)
    assert isinstance(chip, EmulatedBME280)
    calibration = bus.read_i2c_block_data(ADDR_BME280, 0x88, 26)
    bus.write_i2c_block_data(ADDR_BME280, 0xF2, [0x05])
    bus.write_i2c_block_data(ADDR_BME280, 0xF4, [0xB7, 0xA0])
    bus.write_byte_data(ADDR_BME280, 0xE0, 0x55)  # any other value is ignored
    before = bus.read_i2c_block_data(ADDR_BME280, 0xF2, 4)

    bus.write_byte_data(ADDR_BME280, 0xE0, 0xB6)

    assert (before[0], before[2], before[3]) == (0x05, 0xB7, 0xA0)
    assert bus.read_i2c_block_data(ADDR_BME280, 0xF2, 4) == [0, 0, 0, 0]
    assert bus.read_i2c_block_data(ADDR_BME280, 0x88, 26) == calibration
    assert bus.read_byte_data(ADDR_BME280, 0xD0) == 0x60
    assert chip.resets == 1
    # Until a new measurement, the data registers hold the reset values again.
    assert bus.read_i2c_block_data(ADDR_BME280, 0xF7, 8) == [0x80, 0, 0, 0x80, 0, 0, 0x80, 0]


def test_bme280_forced_measurement_returns_to_sleep() -> None:
    """Forced mode measures once (status busy meanwhile), then the mode bits read sleep."""
    chip = EmulatedBME280(Environment(1))
    chip.write(0xF2, [0x01], now=0.0)
    chip.write(0xF4, [0x25], now=0.0)  # osrs_t 1, osrs_p 1, forced
    duration = chip.measurement_time()

    during = chip.read(0xF3, 2, now=duration / 2)
    chip.read(0xF3, 2, now=duration * 2)
    after = chip.read(0xF3, 2, now=duration * 3)

    assert during == [0x08, 0x25]
    assert after == [0x00, 0x24]
    assert chip.read(0xF7, 8, now=duration * 3) != [0x80, 0, 0, 0x80, 0, 0, 0x80, 0]


def test_bme280_first_read_after_forced_measurement_shows_sleep() -> None:
    """The real chip reports sleep mode as soon as the forced measurement is done."""
    chip = EmulatedBME280(Environment(1))
    chip.write(0xF4, [0x25], now=0.0)

    assert chip.read(0xF4, 1, now=1.0) == [0x24]


# Where each measurement sits in the 0xF7-0xFE burst, and its "skipped" marker.
BME280_FIELDS = {
    "pressure": (slice(0, 3), [0x80, 0x00, 0x00]),
    "temperature": (slice(3, 6), [0x80, 0x00, 0x00]),
    "humidity": (slice(6, 8), [0x80, 0x00]),
}


@pytest.mark.parametrize(
    ("ctrl_hum", "ctrl_meas", "skipped"),
    [
        (0x01, (0 << 5) | (1 << 2) | 3, "temperature"),
        (0x01, (1 << 5) | (0 << 2) | 3, "pressure"),
        (0x00, (1 << 5) | (1 << 2) | 3, "humidity"),
    ],
)
def test_bme280_skipped_oversampling_gives_the_marker(
    ctrl_hum: int, ctrl_meas: int, skipped: str
) -> None:
    """A measurement switched off (oversampling 0) reads 0x80000 (0x8000 for humidity)."""
    chip = EmulatedBME280(Environment(1))
    chip.write(0xF2, [ctrl_hum], now=0.0)
    chip.write(0xF4, [ctrl_meas], now=0.0)

    data = chip.read(0xF7, 8, now=1.0)

    for name, (where, marker) in BME280_FIELDS.items():
        assert (data[where] == marker) is (name == skipped), name


def test_bme280_calibration_guards_the_pressure_division() -> None:
    """With dig_P1 = 0 the datasheet returns 0 Pa rather than dividing by zero."""
    calibration = BME280Calibration(p1=0)

    assert calibration.pressure(400_000, calibration.t_fine(520_000)) == 0.0


# -- LTR559 --------------------------------------------------------------------------


@pytest.mark.parametrize("lux", [70_000.0, 200_000.0])
def test_ltr559_saturates_in_bright_light(lux: float) -> None:
    """Beyond the ADC's range both channels stick at full scale, whatever the light."""
    assert ltr559_counts(lux, gain=4, integration_ms=50) == (65535, 19660)


def test_ltr559_ignores_writes_to_read_only_registers() -> None:
    """Part id, manufacturer id and the data registers cannot be overwritten."""
    env = Environment(1)
    env.set(lux=0.0, proximity=0)
    chip = EmulatedLTR559(env)
    before = chip.read(0x86, 9, now=0.0)

    chip.write(0x86, [0x00] * 9, now=0.0)
    chip.write(0x8F, [0x55], now=0.0)  # interrupt register: writable

    assert chip.read(0x86, 9, now=0.0) == before
    assert before[:2] == [0x92, 0x05]
    assert chip.read(0x8F, 1, now=0.0) == [0x55]


def _enable_ltr559(chip: EmulatedLTR559, now: float) -> None:
    """Reset the chip and start ALS (50 ms integration and repeat) and PS, at ``now``."""
    chip.write(0x80, [0x02], now)  # software reset
    chip.write(0x85, [0x08], now)  # 50 ms integration, 50 ms repeat
    chip.write(0x80, [0x09], now)  # active, gain 4
    chip.write(0x81, [0x03], now)  # PS active (100 ms measurement rate by default)


def test_ltr559_new_data_bits_clear_on_read_and_return_after_the_next_measurement() -> None:
    """Datasheet 0x8C: set when a measurement completes, cleared by reading its data."""
    env = Environment(1)
    env.set(lux=123.4, proximity=17)
    chip = EmulatedLTR559(env)
    _enable_ltr559(chip, now=0.0)

    before = chip.read(0x88, 7, now=0.055)  # ALS data, status, PS data: nothing measured
    als_status = chip.read(0x8C, 1, now=0.061)[0]  # 10 ms wake-up + 50 ms integration
    als_data = chip.read(0x88, 4, now=0.061)
    after_als_read = chip.read(0x8C, 1, now=0.062)[0]
    both_status = chip.read(0x8C, 1, now=0.111)[0]  # next integration, first PS
    ps_data = chip.read(0x8D, 2, now=0.111)
    after_ps_read = chip.read(0x8C, 1, now=0.112)[0]

    assert before[:4] + before[5:] == [0] * 6
    assert before[4] & 0x05 == 0
    assert als_status & 0x05 == 0x04
    assert als_data != [0, 0, 0, 0]
    assert after_als_read & 0x05 == 0
    assert both_status & 0x05 == 0x05
    assert ps_data == [17, 0]
    assert after_ps_read & 0x05 == 0x04  # ALS data of 0.111 is still unread


def test_rebuilt_ltr559_driver_reads_zero_until_the_first_integration() -> None:
    """The pitfall: a driver set up and read at once returns 0 lx and proximity 0."""
    env = Environment(1)
    env.set(lux=123.4, proximity=17)
    bus = EmulatedI2CBus({ADDR_LTR559: EmulatedLTR559(env)})

    driver = ltr559.LTR559(i2c_dev=bus)
    at_once = (driver.get_lux(), driver.get_proximity())
    time.sleep(0.12)  # wake-up, the power-on 100 ms integration and PS period
    later = (driver.get_lux(), driver.get_proximity())

    assert at_once == (0, 0)
    assert later[0] == pytest.approx(123.4, abs=0.6)
    assert later[1] == 17


# -- ADS1x15 -------------------------------------------------------------------------


@pytest.mark.parametrize("ads1115", [False, True])
@pytest.mark.parametrize("rate_error", [-0.10, 0.0, 0.15])
def test_ads1x15_conversion_time_follows_the_rate_error(ads1115: bool, rate_error: float) -> None:
    """A conversion lasts 25 µs + 1 / (rate x (1 + rate_error)): TI allows ±10 %."""
    adc = EmulatedADS1x15(Environment(1), ads1115=ads1115, rate_error=rate_error)
    nominal = 128 if ads1115 else 1600  # data-rate code 0b100 on either chip
    duration = 25e-6 + 1.0 / (nominal * (1.0 + rate_error))
    adc.write(0x01, [0xC3, 0x83], now=0.0)  # start, in0/gnd, ±6.144 V, single shot

    busy = adc.read(0x01, 2, now=duration * 0.99)[0] & 0x80
    done = adc.read(0x01, 2, now=duration * 1.01)[0] & 0x80

    assert (busy, done) == (0, 0x80)


@pytest.mark.parametrize("ads1115", [False, True])
def test_ads1x15_result_resolution(ads1115: bool) -> None:
    """The ADS1015's 12-bit result leaves bits 3:0 at 0; the ADS1115 uses all 16."""
    env = Environment(1)
    env.set(oxidising=20_000.0, reducing=300_000.0, nh3=150_000.0)
    adc = EmulatedADS1x15(env, ads1115=ads1115)
    low = set()
    for mux, now in ((0xC3, 0.0), (0xD3, 1.0), (0xE3, 2.0)):
        adc.write(0x01, [mux, 0x83], now=now)
        low.add(adc.read(0x00, 2, now=now + 0.5)[1] & 0x0F)

    assert (low == {0}) is not ads1115


def test_ads1x15_threshold_registers_read_back(bus: EmulatedI2CBus) -> None:
    """Lo_thresh and Hi_thresh power up at 0x8000 / 0x7FFF and hold what is written."""
    power_on = [bus.read_i2c_block_data(ADDR_ADS1015, register, 2) for register in (0x02, 0x03)]

    conversion = bus.read_i2c_block_data(ADDR_ADS1015, 0x00, 2)

    bus.write_i2c_block_data(ADDR_ADS1015, 0x02, [0x12, 0x34])
    bus.write_i2c_block_data(ADDR_ADS1015, 0x03, [0x56, 0x78])
    bus.write_i2c_block_data(ADDR_ADS1015, 0x00, [0x9A, 0xBC])  # read-only

    assert power_on == [[0x80, 0x00], [0x7F, 0xFF]]
    assert bus.read_i2c_block_data(ADDR_ADS1015, 0x00, 2) == conversion
    assert bus.read_i2c_block_data(ADDR_ADS1015, 0x02, 2) == [0x12, 0x34]
    assert bus.read_i2c_block_data(ADDR_ADS1015, 0x03, 4) == [0x56, 0x78, 0x56, 0x78]


# -- GPIO ----------------------------------------------------------------------------


def test_line_request_reads_levels_and_refuses_foreign_or_released_lines() -> None:
    """get_value mirrors the level; other offsets give EINVAL, a released request EBADF."""
    chip = EmulatedGPIOChip()
    request = chip.request_outputs("test", {"GPIO22": True, "GPIO27": False})

    levels = (request.get_value(22), request.get_value(27))
    with pytest.raises(OSError, match="line 9 not in this request") as foreign:
        request.set_value(9, Value.ACTIVE)
    request.release()
    request.release()
    with pytest.raises(OSError, match="released") as released:
        request.get_value(22)

    assert levels == (Value.ACTIVE, Value.INACTIVE)
    assert foreign.value.errno == errno.EINVAL
    assert not chip.level_of("GPIO9")
    assert released.value.errno == errno.EBADF
    assert chip.claimed() == {}


# -- PMS5003 -------------------------------------------------------------------------


class StepClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


_LINES: dict[int, EmulatedLineRequest] = {}


def sensor_lines(sensor: EmulatedPMS5003) -> EmulatedLineRequest:
    """Return the SET / RESET request of a sensor built by the ``pms`` fixture."""
    return _LINES[id(sensor)]


@pytest.fixture
def pms() -> Iterator[tuple[EmulatedPMS5003, StepClock]]:
    """Return a powered PMS5003 on a manual clock: one frame per second, no delay."""
    clock = StepClock()
    gpio = EmulatedGPIOChip()
    sensor = EmulatedPMS5003(
        Environment(1), gpio, frame_interval=1.0, power_up_delay=0.0, clock=clock
    )
    _LINES[id(sensor)] = gpio.request_outputs("test", {LINE_PMS_ENABLE: True, LINE_PMS_RESET: True})
    yield sensor, clock
    del _LINES[id(sensor)]


def test_pms5003_silence_skips_one_slot(pms: tuple[EmulatedPMS5003, StepClock]) -> None:
    """silence(1) drops exactly the next frame; the one after is valid."""
    sensor, clock = pms
    port = sensor.open_port(timeout=0.0)
    sensor.silence(1)

    clock.now = 1.5  # two slots due
    data = port.read(2 * FRAME_BYTES)

    assert len(data) == FRAME_BYTES
    assert data[:2] == b"\x42\x4d"
    assert (sensor.frames_sent, sensor.faulty_slots) == (1, 1)


def test_pms5003_unknown_fault_is_refused(pms: tuple[EmulatedPMS5003, StepClock]) -> None:
    """A typo in a fault name is an error, not a silently healthy sensor."""
    sensor, _clock = pms

    with pytest.raises(ValueError, match="unknown frame fault 'noise'"):
        sensor.corrupt("noise")  # type: ignore[arg-type]


def test_pms5003_defaults_are_the_datasheets() -> None:
    """A frame every 2.3 s; for 30 s after wake-up the values are below the air's."""
    clock = StepClock()
    gpio = EmulatedGPIOChip()
    env = Environment(1)
    env.set(pm1=30, pm2_5=40, pm10=45)
    sensor = EmulatedPMS5003(env, gpio, clock=clock)
    port = sensor.open_port(timeout=0.0)
    gpio.request_outputs("test", {LINE_PMS_ENABLE: True, LINE_PMS_RESET: True})

    frames = []
    for clock.now in (4.5, 4.7, 6.9, 7.0, 29.0, 31.0, 33.0):
        frames.append(port.read(10 * FRAME_BYTES))
    pm2_5 = [struct.unpack(">H", frame[-26:-24])[0] for frame in frames if frame]

    # Silent for the two-frame power-up (4.6 s), then frames 2.3 s apart; the one at
    # 29.9 s is the last unstable one, the one at 32.2 s the first stable one.
    assert [len(frame) // FRAME_BYTES for frame in frames] == [0, 1, 0, 1, 9, 1, 1]
    assert sensor.frames_sent == 13
    assert sensor.unstable_frames == 12
    assert pm2_5[0] < pm2_5[1] < 40
    assert pm2_5[-1] == 40


def test_pms5003_reset_restarts_the_stabilisation(pms: tuple[EmulatedPMS5003, StepClock]) -> None:
    """A reset pulse is a wake-up: the fan starts over and the values are unstable again."""
    sensor, clock = pms
    sensor.stabilisation_time = 10.0
    port = sensor.open_port(timeout=0.0)
    clock.now = 20.0
    port.read(100 * FRAME_BYTES)
    stable = sensor.unstable_frames
    resets = sensor.resets
    lines = sensor_lines(sensor)

    lines.set_value(27, Value.INACTIVE)
    lines.set_value(27, Value.ACTIVE)
    clock.now = 25.0
    port.read(100 * FRAME_BYTES)

    assert stable == 10  # 0 .. 9 s after the first wake-up
    assert sensor.resets == resets + 1
    assert sensor.unstable_frames == stable + 5  # 20 .. 24 s, after the reset


def test_pms5003_port_flush_write_and_close(pms: tuple[EmulatedPMS5003, StepClock]) -> None:
    """The UART's flushInput drops buffered bytes, writes are recorded, a closed port raises EBADF."""
    sensor, clock = pms
    port = sensor.open_port(timeout=0.0)
    other = sensor.open_port(timeout=0.0)
    clock.now = 0.5
    command = b"\x42\x4d\xe1\x00\x00\x01\x70"

    port.flushInput()
    flushed = port.read(FRAME_BYTES)
    written = port.write(command)
    port.close()
    port.close()
    sensor.detach(port)

    assert flushed == b""
    assert (written, bytes(port.written)) == (len(command), command)
    assert sensor.open_ports == 1
    assert len(other.read(FRAME_BYTES)) == FRAME_BYTES
    for call in (lambda p: p.read(1), lambda p: p.write(b"\x00")):
        with pytest.raises(OSError, match="serial port closed") as caught:
            call(port)
        assert caught.value.errno == errno.EBADF


# -- ST7735 --------------------------------------------------------------------------


@pytest.fixture
def lcd() -> Iterator[Rig]:
    """Return an emulated LCD on a fake clock, powered up with true colours."""
    rig = make_rig()
    _power_up(rig)
    rig.clock.sleep(0.2)
    _send(rig, MADCTL, b"\x08")  # no mirroring, BGR filter matched
    yield rig
    rig.port.close()


def _red_pixels(picture: Image.Image) -> int:
    colours = picture.convert("RGB").getcolors(maxcolors=160 * 80) or []
    return sum(count for count, colour in colours if colour == (255, 0, 0))


def _paint(rig: Rig, columns: tuple[int, int], rows: tuple[int, int], data: bytes) -> None:
    _send(rig, CASET, struct.pack(">HH", *columns))
    _send(rig, RASET, struct.pack(">HH", *rows))
    _send(rig, RAMWR, data)


@pytest.mark.parametrize(
    ("first", "gap", "second", "violation", "sleeping"),
    [
        (SWRESET, 0.001, INVON, "command 0x21 within 5 ms of SWRESET/SLPOUT/SLPIN", True),
        (SLPOUT, 0.002, INVON, "command 0x21 within 5 ms of SWRESET/SLPOUT/SLPIN", False),
        (
            SLPOUT,
            0.010,
            SLPIN,
            "command 0x10 sleep toggled within 120 ms of the previous toggle",
            False,
        ),
    ],
    ids=["after-swreset", "after-slpout", "sleep-toggle"],
)
def test_st7735_drops_commands_that_break_datasheet_waits(
    first: int, gap: float, second: int, violation: str, sleeping: bool
) -> None:
    """A command inside a required wait is recorded and has no effect."""
    rig = make_rig()
    _send(rig, SWRESET)
    rig.clock.sleep(0.15)
    _send(rig, first)
    rig.clock.sleep(gap)

    _send(rig, second)

    assert rig.controller.timing_violations == [violation]
    assert not rig.controller.inverted
    assert rig.controller.sleeping is sleeping


def test_st7735_data_without_a_command_is_dropped() -> None:
    """Bytes with D/C high before any (accepted) command change nothing."""
    rig = make_rig()
    rig.chip.drive(9, True)

    rig.port.write(b"\x01\x02\x03")

    assert rig.controller.dropped_bytes == 3
    assert rig.controller.madctl == 0


def test_st7735_pixels_sent_byte_by_byte(lcd: Rig) -> None:
    """A frame split at every byte paints the same as one transfer."""
    _paint(lcd, (26, 27), (1, 1), b"")
    lcd.chip.drive(9, True)

    for byte in RED * 2:
        lcd.port.write(bytes((byte,)))

    assert _red_pixels(lcd.controller.picture()) == 2


def test_st7735_empty_window_drops_pixels(lcd: Rig) -> None:
    """A window whose start is past its end stores nothing."""
    _paint(lcd, (60, 40), (1, 160), RED * 100)

    assert lcd.controller.dropped_bytes == 200
    assert _red_pixels(lcd.controller.picture()) == 0


@pytest.mark.parametrize(
    ("columns", "rows", "pixels", "visible"),
    [
        ((100, 140), (5, 5), 41, 6),  # columns 132..140 do not exist
        ((30, 40), (170, 170), 11, 0),  # row 170 does not exist
    ],
    ids=["past-the-right-edge", "below-the-memory"],
)
def test_st7735_pixels_outside_the_memory_are_lost(
    lcd: Rig, columns: tuple[int, int], rows: tuple[int, int], pixels: int, visible: int
) -> None:
    """Addressing past the 132x162 memory loses those pixels instead of wrapping them."""
    _paint(lcd, columns, rows, RED * pixels)

    assert lcd.controller.ramwr_bytes == 2 * pixels
    assert _red_pixels(lcd.controller.picture()) == visible


def test_st7735_row_column_exchange_with_mirroring(lcd: Rig) -> None:
    """MV with MX: one logical row runs down a memory column, through memory row 0."""
    _send(lcd, MADCTL, b"\x68")  # MX | MV | BGR

    _paint(lcd, (0, 161), (30, 30), RED * 162)

    picture = lcd.controller.picture()
    # Memory column 30 is the fifth glass column: line 4 of the landscape picture.
    assert _red_pixels(picture) == 160
    assert [x for x in range(160) if picture.getpixel((x, 4)) == (255, 0, 0)] == list(range(160))


def test_st7735_unsubscribe_twice_is_harmless(lcd: Rig) -> None:
    """An unsubscribed listener is not called, and unsubscribing again does nothing."""
    calls: list[None] = []
    unsubscribe = lcd.controller.subscribe(lambda: calls.append(None))
    unsubscribe()
    unsubscribe()

    _send(lcd, INVON)

    assert calls == []


def test_spi_pacing_spins_for_short_transfers(lcd: Rig) -> None:
    """A 100-byte transfer at 1 MHz (0.8 ms) still takes its wire time."""
    port = EmulatedSPIPort(lcd.controller, speed_hz=1_000_000, pace=True)

    started = time.perf_counter()
    port.write(bytes(100))

    assert time.perf_counter() - started >= 0.0008
