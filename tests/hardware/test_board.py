"""The board read through the real vendor drivers on the emulated buses."""

import errno
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from custom_components.qiot_enviro.enviro.board import Board, detect
from custom_components.qiot_enviro.enviro.bus import (
    ADDR_ADS1015,
    ADDR_BME280,
    ADDR_LTR559,
    LINE_GAS_HEATER,
    LINE_LCD_BACKLIGHT,
    LINE_LCD_DC,
    LINE_PMS_ENABLE,
)
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard, create_simulated
from custom_components.qiot_enviro.enviro.errors import (
    BoardClosedError,
    BoardError,
    BoardNotFoundError,
)
from custom_components.qiot_enviro.enviro.models import (
    BusDevice,
    Chip,
    DeviceStatus,
    SensorGroup,
    Snapshot,
    Variant,
)

from .common import (
    HUMIDITY_RESOLUTION,
    LTR559_PERIOD,
    LUX_RESOLUTION,
    PINNED,
    PRESSURE_RESOLUTION,
    TEMPERATURE_RESOLUTION,
    ohms_resolution,
    particulates_when_ready,
    pinned_particulates,
    wait_for,
)

GROUP_ADDRESS = {
    SensorGroup.CLIMATE: ADDR_BME280,
    SensorGroup.LIGHT: ADDR_LTR559,
    SensorGroup.GAS: ADDR_ADS1015,
}


def assert_climate(
    snapshot: Snapshot, temperature: float, pressure: float, humidity: float
) -> None:
    """Assert the climate group equals the given values within the BME280's resolution."""
    assert snapshot.climate is not None
    value = snapshot.climate.value
    assert value is not None, snapshot.climate.error
    assert value.temperature == pytest.approx(temperature, abs=TEMPERATURE_RESOLUTION)
    assert value.pressure == pytest.approx(pressure, abs=PRESSURE_RESOLUTION)
    assert value.humidity == pytest.approx(humidity, abs=HUMIDITY_RESOLUTION)


def assert_gas(snapshot: Snapshot, adc: str, oxidising: float, reducing: float, nh3: float) -> None:
    """Assert the gas group equals the given resistances within one ADC code."""
    assert snapshot.gas is not None
    value = snapshot.gas.value
    assert value is not None, snapshot.gas.error
    for read, chosen in (
        (value.oxidising, oxidising),
        (value.reducing, reducing),
        (value.nh3, nh3),
    ):
        assert read == pytest.approx(chosen, abs=ohms_resolution(chosen, adc))


@pytest.mark.parametrize("adc", ["ads1015", "ads1115"])
def test_every_group_reads_the_chosen_values(opened: Board, adc: str) -> None:
    """An Enviro+ reports the room's values through bme280, ltr559, ads1015 and pms5003."""
    snapshot = opened.read()

    assert_climate(snapshot, PINNED["temperature"], PINNED["pressure"], PINNED["humidity"])
    assert snapshot.light is not None
    assert snapshot.light.value is not None
    assert snapshot.light.value.lux == pytest.approx(PINNED["lux"], abs=LUX_RESOLUTION)
    assert snapshot.light.value.proximity == PINNED["proximity"]
    assert_gas(snapshot, adc, PINNED["oxidising"], PINNED["reducing"], PINNED["nh3"])
    assert snapshot.cpu_temperature == PINNED["cpu_temperature"]
    assert particulates_when_ready(opened) == pinned_particulates()


@pytest.mark.parametrize(
    ("temperature", "pressure", "humidity", "lux", "oxidising", "reducing", "nh3"),
    [
        (-10.25, 950.0, 12.5, 0.0, 5_000.0, 150_000.0, 60_000.0),
        (38.7, 1040.55, 91.0, 15_000.0, 80_000.0, 900_000.0, 400_000.0),
        (21.5, 1001.3, 47.2, 0.5, 20_000.0, 300_000.0, 150_000.0),
    ],
)
def test_values_follow_the_room(
    opened: Board,
    sim: EmulatedBoard,
    *,
    temperature: float,
    pressure: float,
    humidity: float,
    lux: float,
    oxidising: float,
    reducing: float,
    nh3: float,
) -> None:
    """A change of the room shows in the next cycle, across each chip's range.

    The next cycle comes after the LTR559's next integration, as any polling interval
    does: until then its data registers hold the previous one.
    """
    opened.read()
    sim.env.set(
        temperature=temperature,
        pressure=pressure,
        humidity=humidity,
        lux=lux,
        oxidising=oxidising,
        reducing=reducing,
        nh3=nh3,
    )
    time.sleep(LTR559_PERIOD)

    snapshot = opened.read()

    assert_climate(snapshot, temperature, pressure, humidity)
    assert snapshot.light is not None
    assert snapshot.light.value is not None
    assert snapshot.light.value.lux == pytest.approx(lux, abs=LUX_RESOLUTION)
    assert_gas(snapshot, "ads1015", oxidising, reducing, nh3)


def test_first_cycle_is_not_the_chips_power_on_garbage(board: Board) -> None:
    """The first snapshot is already right, although fresh chips read naively are not."""
    import ads1015
    import bme280

    twin = create_simulated(seed=7)
    twin.env.set(**PINNED)
    fresh = bme280.BME280(i2c_addr=ADDR_BME280, i2c_dev=twin.i2c)
    fresh.setup()
    fresh.update_sensor()
    adc = ads1015.ADS1015(i2c_addr=ADDR_ADS1015, i2c_dev=twin.i2c)
    adc.detect_chip_type()
    adc.set_mode("single")
    adc.set_programmable_gain(6.144)
    first_volts = adc.get_voltage("in0/gnd")

    board.open()
    snapshot = board.read()

    # The emulator reproduces both pitfalls for drivers used naively on fresh chips ...
    assert fresh.pressure < 900
    assert first_volts < 0
    # ... and the board, on an identical fresh board, never reports them.
    assert_climate(snapshot, PINNED["temperature"], PINNED["pressure"], PINNED["humidity"])
    assert_gas(snapshot, "ads1015", PINNED["oxidising"], PINNED["reducing"], PINNED["nh3"])


@pytest.mark.parametrize(
    ("variant", "adc", "chips", "groups"),
    [
        (
            Variant.ENVIRO_PLUS,
            "ads1015",
            {Chip.BME280, Chip.LTR559, Chip.ADS1015, Chip.ST7735},
            set(SensorGroup),
        ),
        (
            Variant.ENVIRO_PLUS,
            "ads1115",
            {Chip.BME280, Chip.LTR559, Chip.ADS1115, Chip.ST7735},
            set(SensorGroup),
        ),
        (
            Variant.ENVIRO,
            "ads1015",
            {Chip.BME280, Chip.LTR559, Chip.ST7735},
            {SensorGroup.CLIMATE, SensorGroup.LIGHT, SensorGroup.NOISE},
        ),
    ],
)
def test_open_detects_the_variant(
    board: Board, variant: Variant, chips: set[Chip], groups: set[SensorGroup]
) -> None:
    """Open tells Enviro from Enviro+ and an ADS1015 from an ADS1115 by timing."""
    detection = board.open()

    assert detection.variant is variant
    assert detection.chips == chips
    assert detection.groups == groups
    assert detection.identity == "sim-0000000000000008"
    assert detection.simulated
    assert detection.has_display


@pytest.mark.parametrize("variant", [Variant.ENVIRO])
def test_plain_enviro_has_no_gas_or_particulates(opened: Board) -> None:
    """The plain Enviro reports climate and light, and no gas or particulate group."""
    snapshot = opened.read()

    assert snapshot.gas is None
    assert snapshot.particulates is None
    assert_climate(snapshot, PINNED["temperature"], PINNED["pressure"], PINNED["humidity"])


@pytest.mark.parametrize("group", list(GROUP_ADDRESS))
@pytest.mark.parametrize(
    ("err", "message"), [(errno.EREMOTEIO, "Remote I/O error"), (errno.EIO, "Input/output error")]
)
def test_i2c_fault_until_cleared_then_recovery(
    opened: Board, sim: EmulatedBoard, group: SensorGroup, err: int, message: str
) -> None:
    """A failing chip fails only its own group, cycle after cycle, and recovers when fixed."""
    sim.faults.i2c_error(GROUP_ADDRESS[group], err)

    failed = [opened.read(), opened.read()]
    sim.faults.clear()
    recovered = opened.read()

    for snapshot in failed:
        result = getattr(snapshot, group.value)
        assert result.value is None
        assert message in result.error
        others = [getattr(snapshot, g.value) for g in GROUP_ADDRESS if g is not group]
        assert all(other.ok for other in others)
    assert getattr(recovered, group.value).ok
    health = opened.health()[group]
    assert (health.error_count, health.consecutive_errors, health.recoveries) == (2, 0, 1)


@pytest.mark.parametrize("group", list(GROUP_ADDRESS))
@pytest.mark.parametrize("count", [1, 3])
def test_i2c_fault_for_a_few_transactions(
    opened: Board, sim: EmulatedBoard, group: SensorGroup, count: int
) -> None:
    """Each failed transaction costs one cycle; then the re-created driver reads again."""
    sim.faults.i2c_error(GROUP_ADDRESS[group], errno.EIO, count=count)

    snapshots = [opened.read() for _ in range(count + 1)]

    assert [getattr(s, group.value).ok for s in snapshots] == [False] * count + [True]
    assert_climate(snapshots[-1], PINNED["temperature"], PINNED["pressure"], PINNED["humidity"])
    assert_gas(snapshots[-1], "ads1015", PINNED["oxidising"], PINNED["reducing"], PINNED["nh3"])


def test_chip_disappearing_after_open_recovers(opened: Board, sim: EmulatedBoard) -> None:
    """A chip that stops answering is re-initialised once it answers again."""
    sim.faults.missing_chip(ADDR_LTR559)
    missing = opened.read()
    sim.faults.clear()
    back = opened.read()

    assert missing.light is not None
    assert missing.light.value is None
    assert back.light is not None
    assert back.light.value is not None
    assert back.light.value.proximity == PINNED["proximity"]


@pytest.mark.parametrize(
    ("address", "variant_found", "missing_group"),
    [
        (ADDR_ADS1015, Variant.ENVIRO, SensorGroup.GAS),
        (ADDR_BME280, Variant.ENVIRO_PLUS, SensorGroup.CLIMATE),
        (ADDR_LTR559, Variant.ENVIRO_PLUS, SensorGroup.LIGHT),
    ],
)
def test_missing_chip_at_open(
    board: Board,
    sim: EmulatedBoard,
    address: int,
    variant_found: Variant,
    missing_group: SensorGroup,
) -> None:
    """A chip missing at open is left out; without the ADC the board is a plain Enviro."""
    sim.faults.missing_chip(address)

    detection = board.open()
    snapshot = board.read()

    assert detection.variant is variant_found
    assert missing_group not in detection.groups
    assert getattr(snapshot, missing_group.value) is None


def test_no_chip_answers(board: Board, sim: EmulatedBoard) -> None:
    """Without any chip, open raises and releases everything it opened."""
    for address in GROUP_ADDRESS.values():
        sim.faults.missing_chip(address)

    with pytest.raises(BoardNotFoundError) as caught:
        board.open()

    assert caught.value.detection.variant is None
    assert caught.value.detection.devices[BusDevice.I2C].status is DeviceStatus.OK
    assert set(sim.open_resources().values()) == {0}


@pytest.mark.parametrize("fault", ["missing_device", "permission_denied"])
def test_i2c_device_unusable(board: Board, sim: EmulatedBoard, fault: str) -> None:
    """No /dev/i2c-1 (or no access to it) is a setup problem, reported as such."""
    getattr(sim.faults, fault)(BusDevice.I2C)

    with pytest.raises(BoardNotFoundError) as caught:
        board.open()

    expected = {
        "missing_device": DeviceStatus.NOT_PRESENT,
        "permission_denied": DeviceStatus.PERMISSION_DENIED,
    }[fault]
    assert caught.value.detection.devices[BusDevice.I2C].status is expected
    assert "/dev/i2c-1" in str(caught.value)


@pytest.mark.parametrize("fault", ["missing_device", "permission_denied", "busy_device"])
def test_uart_unusable_leaves_the_rest_working(
    board: Board, sim: EmulatedBoard, fault: str
) -> None:
    """Without the UART there is no particulate group; the I2C sensors still read."""
    getattr(sim.faults, fault)(BusDevice.UART)

    detection = board.open()
    snapshot = board.read()

    assert SensorGroup.PARTICULATES not in detection.groups
    assert snapshot.particulates is None
    assert snapshot.climate is not None
    assert snapshot.climate.ok


def test_without_gpio_chip(board: Board, sim: EmulatedBoard) -> None:
    """No GPIO chip: no LCD, no gas (its heater cannot be switched on), climate still reads."""
    sim.faults.missing_device(BusDevice.GPIO)

    detection = board.open()
    snapshot = board.read()

    assert not detection.has_display
    assert board.display is None
    assert snapshot.gas is not None
    assert snapshot.gas.error is not None
    assert "GPIO" in snapshot.gas.error
    assert snapshot.climate is not None
    assert snapshot.climate.ok


@pytest.mark.parametrize(
    ("line", "group"),
    [(LINE_GAS_HEATER, SensorGroup.GAS), (LINE_PMS_ENABLE, SensorGroup.PARTICULATES)],
)
def test_occupied_line_fails_its_group_until_released(
    board: Board, sim: EmulatedBoard, line: str, group: SensorGroup
) -> None:
    """A line held by another program fails one group, and it recovers once freed."""
    sim.faults.occupy_line(line, "enviroplus-example")
    board.open()

    busy = getattr(board.read(), group.value)
    sim.faults.clear()

    assert busy.value is None
    assert "busy" in busy.error
    assert "enviroplus-example" in busy.error
    if group is SensorGroup.PARTICULATES:
        assert particulates_when_ready(board) == pinned_particulates()
    else:
        assert_gas(board.read(), "ads1015", PINNED["oxidising"], PINNED["reducing"], PINNED["nh3"])
    assert sim.gpio.claimed()[line].startswith("qiot_enviro")


def test_heater_is_on_while_open_and_off_after_close(board: Board, sim: EmulatedBoard) -> None:
    """The gas heater line is driven high while the board is open, low after."""
    board.open()
    on = sim.gpio.level_of(LINE_GAS_HEATER)
    board.close()

    assert on
    assert not sim.gpio.level_of(LINE_GAS_HEATER)


def test_occupied_lcd_line_leaves_the_sensors(board: Board, sim: EmulatedBoard) -> None:
    """A busy D/C line means no display; every sensor group still works."""
    sim.faults.occupy_line(LINE_LCD_DC)

    board.open()
    snapshot = board.read()

    assert board.display is None
    assert board.display_error is not None
    assert "busy" in board.display_error
    assert snapshot.climate is not None
    assert snapshot.climate.ok
    with pytest.raises(BoardError, match="no display"):
        board.show_image(Image.new("RGB", (160, 80)))


def test_show_image_reaches_the_panel(opened: Board, sim: EmulatedBoard) -> None:
    """A picture sent through the board is what the emulated panel shows."""
    image = Image.new("RGB", (160, 80), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 80, 40))

    opened.show_image(image)
    picture = sim.lcd.picture().convert("RGB")

    assert picture.getpixel((10, 10)) == pytest.approx((0, 0, 255), abs=8)
    assert picture.getpixel((120, 60)) == pytest.approx((255, 0, 0), abs=8)
    assert sim.gpio.level_of(LINE_LCD_BACKLIGHT)


def test_backlight_switch(opened: Board, sim: EmulatedBoard) -> None:
    """The backlight follows set_backlight."""
    opened.show_image(Image.new("RGB", (160, 80)))

    opened.set_backlight(False)
    off = sim.gpio.level_of(LINE_LCD_BACKLIGHT)
    opened.set_backlight(True)

    assert not off
    assert sim.gpio.level_of(LINE_LCD_BACKLIGHT)


def test_spi_error_then_recovery(opened: Board, sim: EmulatedBoard) -> None:
    """An SPI fault raises a BoardError; the next picture after the fault gets through."""
    image = Image.new("RGB", (160, 80), (0, 255, 0))
    sim.faults.spi_error()

    with pytest.raises(BoardError, match="display error"):
        opened.show_image(image)
    sim.faults.clear()
    opened.show_image(image)

    assert sim.lcd.picture().convert("RGB").getpixel((80, 40)) == pytest.approx((0, 255, 0), abs=8)


def test_read_after_close_raises(board: Board) -> None:
    """A closed board refuses to read; closing twice is harmless."""
    board.open()
    board.close()
    board.close()

    with pytest.raises(BoardClosedError):
        board.read()


def test_board_can_be_reopened(board: Board) -> None:
    """Close then open again gives a working board (a config-entry reload)."""
    board.open()
    board.close()
    board.open()

    assert_climate(board.read(), PINNED["temperature"], PINNED["pressure"], PINNED["humidity"])


@pytest.mark.parametrize(
    ("device", "fault", "status"),
    [
        (device, fault, status)
        for device in BusDevice
        for fault, status in (
            ("missing_device", DeviceStatus.NOT_PRESENT),
            ("permission_denied", DeviceStatus.PERMISSION_DENIED),
            ("busy_device", DeviceStatus.BUSY),
        )
    ],
)
def test_detect_reports_each_device(
    sim: EmulatedBoard, device: BusDevice, fault: str, status: DeviceStatus
) -> None:
    """Each bus device is probed on its own: one broken device leaves the others OK."""
    getattr(sim.faults, fault)(device)

    detection = detect(sim.provider, frame_wait=0.5)

    assert detection.devices[device].status is status
    assert all(
        probe.status is DeviceStatus.OK for d, probe in detection.devices.items() if d is not device
    )
    assert set(sim.open_resources().values()) == {0}


@pytest.mark.parametrize("adc", ["ads1015", "ads1115"])
def test_detect_finds_the_enviro_plus_and_its_frames(sim: EmulatedBoard, adc: str) -> None:
    """Detect sees every chip, a PMS5003 frame, and releases what it opened."""
    detection = detect(sim.provider, frame_wait=1.0)

    assert detection.variant is Variant.ENVIRO_PLUS
    assert detection.particulate_frames
    assert {Chip.PMS5003, Chip.ADS1115 if adc == "ads1115" else Chip.ADS1015} <= detection.chips
    assert not detection.serial_console
    assert set(sim.open_resources().values()) == {0}
    assert not sim.gpio.claimed()


def test_detect_without_frames(sim: EmulatedBoard) -> None:
    """A silent PMS5003 is reported as such, within the bounded wait."""
    sim.faults.pms_silence()

    detection = detect(sim.provider, frame_wait=0.3)

    assert detection.variant is Variant.ENVIRO_PLUS
    assert not detection.particulate_frames
    assert Chip.PMS5003 not in detection.chips


def test_detect_serial_console(sim: EmulatedBoard) -> None:
    """A kernel console on the UART is reported."""
    sim.faults.serial_console()

    assert detect(sim.provider, frame_wait=0.2).serial_console


def _fd_count() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_open_close_leaks_nothing(sim: EmulatedBoard) -> None:
    """A hundred open/close cycles leave no line claimed, no descriptor, no thread."""
    fds, threads = _fd_count(), set(threading.enumerate())

    for _ in range(100):
        board = Board(sim.provider, particulate_warmup=0.0)
        board.open()
        board.read()
        board.close()

    assert set(sim.open_resources().values()) == {0}
    assert not sim.gpio.claimed()
    assert _fd_count() == fds
    assert set(threading.enumerate()) == threads


def test_particulate_thread_stops_on_close(opened: Board) -> None:
    """Close ends the PMS5003 reader thread."""
    wait_for(lambda: any(t.name == "qiot_enviro-pms5003" for t in threading.enumerate()))

    opened.close()

    assert not any(t.name == "qiot_enviro-pms5003" for t in threading.enumerate())
