"""The board under faults the other board tests do not reach.

Implausible values, a wrong chip at a known address, device nodes that probe fine but
fail to open, a hung ADC conversion, a dead particulate thread, and the lifecycle
helpers (``with``, a second ``open``, ``repr``).
"""

import errno
import os
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from PIL import Image

from custom_components.qiot_enviro.enviro.board import (
    Board,
    _released_on_error,
    detect,
    gas_ohms,
)
from custom_components.qiot_enviro.enviro.bus import (
    ADDR_ADS1015,
    ADDR_BME280,
    ADDR_LTR559,
    LINE_LCD_BACKLIGHT,
)
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.emulator.gpio import EmulatedGPIOChip
from custom_components.qiot_enviro.enviro.emulator.i2c import EmulatedBME280
from custom_components.qiot_enviro.enviro.errors import BoardClosedError, BoardError
from custom_components.qiot_enviro.enviro.models import (
    BusDevice,
    Chip,
    DeviceStatus,
    SensorGroup,
    Variant,
)

from .common import PINNED, particulates_when_ready, pinned_particulates, wait_for


def _fail_once(real: Callable[[], object], err: OSError) -> Callable[[], object]:
    """Return ``real`` that raises ``err`` on its first call only."""
    calls = 0

    def opener() -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise err
        return real()

    return opener


def _always(err: OSError) -> Callable[..., object]:
    def opener(*_args: object) -> object:
        raise err

    return opener


# -- implausible values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("room", "error"),
    [
        ({"temperature": 90.0}, "implausible temperature 90.00 °C"),
        ({"temperature": -45.0}, "implausible temperature -45.00 °C"),
        ({"pressure": 1150.0}, "implausible pressure 1150.00 hPa"),
        ({"pressure": 250.0}, "implausible pressure 250.00 hPa"),
    ],
)
def test_implausible_climate_is_dropped_and_the_driver_kept(
    opened: Board, sim: EmulatedBoard, room: dict[str, float], error: str
) -> None:
    """Values outside the BME280's range are reported as errors; no re-initialisation."""
    resets = sim.bme280.resets
    sim.env.set(**room)

    snapshot = opened.read()
    sim.env.set(**PINNED)
    recovered = opened.read()

    assert snapshot.climate is not None
    assert (snapshot.climate.value, snapshot.climate.error) == (None, error)
    assert snapshot.light is not None
    assert snapshot.light.ok
    assert recovered.climate is not None
    assert recovered.climate.ok
    # An implausible value is the air's (or a glitch's), not a broken driver.
    assert sim.bme280.resets == resets
    assert opened.health()[SensorGroup.CLIMATE].error_count == 1


@pytest.mark.parametrize(("ohms", "what"), [(0.0, "short circuit"), (1e9, "open circuit")])
def test_gas_sensor_at_the_rails_is_implausible(
    opened: Board, sim: EmulatedBoard, ohms: float, what: str
) -> None:
    """0 V or 3.3 V on the divider gives no resistance: the error names the fault."""
    sim.env.set(oxidising=ohms)

    gas = opened.read().gas

    assert gas is not None
    assert gas.value is None
    assert gas.error is not None
    assert gas.error.startswith("oxidising channel at ")
    assert what in gas.error


def test_gas_ohms_at_the_supply_voltage_is_zero_like_enviroplus() -> None:
    """At exactly 3.3 V enviroplus.gas divides by zero and returns 0; so do we."""
    assert gas_ohms(3.3) == 0
    assert gas_ohms(1.65) == pytest.approx(56_000)


# -- detection ------------------------------------------------------------------------


class EmulatedBMP280(EmulatedBME280):
    """A BMP280 (no humidity) answering at the BME280's address with chip id 0x58."""

    CHIP_ID = 0x58


def test_a_bmp280_is_not_taken_for_a_bme280(board: Board, sim: EmulatedBoard) -> None:
    """A chip with the wrong identity at 0x76 is left out: no climate group."""
    sim.i2c.attach(ADDR_BME280, EmulatedBMP280(sim.env))

    detection = board.open()
    snapshot = board.read()

    assert Chip.BME280 not in detection.chips
    assert detection.variant is Variant.ENVIRO_PLUS
    assert snapshot.climate is None
    assert snapshot.light is not None
    assert snapshot.light.ok


class FlakyADC:
    """An ADC that acknowledges the first transaction, then stops answering."""

    def __init__(self) -> None:
        """Answer once."""
        self.transactions = 0

    def _step(self) -> None:
        self.transactions += 1
        if self.transactions > 1:
            raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))

    def read(self, register: int, length: int, now: float) -> list[int]:
        """Answer the first read with the power-on config, then NACK."""
        self._step()
        return [0x85, 0x83][:length]

    def write(self, register: int, data: Sequence[int], now: float) -> None:
        """NACK every write after the first transaction."""
        self._step()


def test_detect_keeps_an_adc_it_cannot_tell_apart(sim: EmulatedBoard) -> None:
    """An ADC that fails during ADS1015/ADS1115 identification still makes an Enviro+."""
    sim.i2c.attach(ADDR_ADS1015, FlakyADC())

    detection = detect(sim.provider, frame_wait=0.0)

    assert detection.variant is Variant.ENVIRO_PLUS
    assert Chip.ADS1015 in detection.chips
    assert Chip.ADS1115 not in detection.chips
    assert sim.open_resources()["i2c"] == 0


@pytest.mark.parametrize("variant", [Variant.ENVIRO])
def test_detect_a_plain_enviro_without_waiting_for_frames(sim: EmulatedBoard) -> None:
    """Without an ADC it is a plain Enviro, and detect does not wait for a PMS5003."""
    started = time.monotonic()
    detection = detect(sim.provider, frame_wait=2.0)

    assert time.monotonic() - started < 1.0
    assert detection.variant is Variant.ENVIRO
    assert detection.chips == {Chip.BME280, Chip.LTR559, Chip.ST7735}
    assert not detection.particulate_frames


def test_uart_path_the_pi_does_not_have(sim: EmulatedBoard) -> None:
    """A configured UART that does not exist: no particulate group, the rest works."""
    board = Board(sim.provider, uart_path="/dev/ttyUSB7", particulate_warmup=0.0)
    try:
        detection = board.open()
        snapshot = board.read()
    finally:
        board.close()

    assert detection.devices[BusDevice.UART].status is DeviceStatus.NOT_PRESENT
    assert SensorGroup.PARTICULATES not in detection.groups
    assert snapshot.particulates is None
    assert snapshot.climate is not None
    assert snapshot.climate.ok
    with pytest.raises(FileNotFoundError) as caught:
        sim.provider.open_serial("/dev/ttyUSB7", 9600, 1.0)
    assert caught.value.errno == errno.ENOENT


@pytest.mark.parametrize("opener", ["open_gpio", "open_serial"])
def test_detect_survives_a_device_that_fails_to_open(
    sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch, opener: str
) -> None:
    """A GPIO chip or UART that probes fine but fails to open means "no frames seen"."""
    monkeypatch.setattr(sim.provider, opener, _always(OSError(errno.EBUSY, "busy")))

    detection = detect(sim.provider, frame_wait=0.3)

    assert detection.variant is Variant.ENVIRO_PLUS
    assert not detection.particulate_frames
    assert Chip.PMS5003 not in detection.chips
    assert set(sim.open_resources().values()) == {0}
    assert not sim.gpio.claimed()


# -- opening ---------------------------------------------------------------------------


def test_gpio_chip_that_fails_to_open(
    board: Board, sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe OK but open refused: the GPIO device reads as an error; climate still works."""
    denied = PermissionError(errno.EACCES, "Permission denied", "/dev/gpiochip0")
    monkeypatch.setattr(sim.provider, "open_gpio", _always(denied))

    detection = board.open()
    snapshot = board.read()

    gpio = detection.devices[BusDevice.GPIO]
    assert gpio.status is DeviceStatus.ERROR
    assert "Permission denied" in gpio.detail
    assert not detection.has_display
    assert snapshot.gas is not None
    assert snapshot.gas.error is not None
    assert "no GPIO chip" in snapshot.gas.error
    assert snapshot.climate is not None
    assert snapshot.climate.ok


def test_second_open_is_a_no_op(opened: Board, sim: EmulatedBoard) -> None:
    """Opening an open board returns the same detection and opens nothing more."""
    # The first PMS5003 frame updates the detection: let it arrive first.
    first = wait_for(lambda: (d := opened.detection) and d.particulate_frames and d)
    resources = sim.open_resources()

    again = opened.open()

    assert again is first
    assert sim.open_resources() == resources


def test_with_block_opens_and_closes(sim: EmulatedBoard) -> None:
    """``with Board(...)`` reads inside and has released everything after."""
    with Board(sim.provider, particulate_warmup=0.0) as board:
        snapshot = board.read()

    assert snapshot.climate is not None
    assert snapshot.climate.ok
    assert set(sim.open_resources().values()) == {0}
    with pytest.raises(BoardClosedError):
        board.read()


def test_repr_names_variant_uart_and_state(board: Board) -> None:
    """The log representation tells what the board is and whether it is open."""
    before = repr(board)
    board.open()
    during = repr(board)

    assert before == "<Board None uart=/dev/ttyAMA0 open=False>"
    assert during == "<Board enviro_plus uart=/dev/ttyAMA0 open=True>"


# -- reading ---------------------------------------------------------------------------


def test_hung_adc_conversion_times_out_and_recovers(
    opened: Board, sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conversion that never ends fails the gas group in ~0.1 s, not the whole cycle."""
    assert sim.adc is not None
    monkeypatch.setattr(sim.adc, "rate", lambda config=None: 8)

    started = time.monotonic()
    hung = opened.read()
    took = time.monotonic() - started
    monkeypatch.undo()
    time.sleep(0.125)  # the slow conversion the chip had started finishes
    recovered = opened.read()

    assert hung.gas is not None
    assert hung.gas.error == "TimeoutError: the ADC conversion did not finish"
    assert took < 0.5
    assert hung.climate is not None
    assert hung.climate.ok
    assert recovered.gas is not None
    assert recovered.gas.ok


def test_read_proximity_without_the_light_sensor(board: Board, sim: EmulatedBoard) -> None:
    """Tap detection on a board whose LTR559 is missing raises a clear BoardError."""
    sim.faults.missing_chip(ADDR_LTR559)
    board.open()

    with pytest.raises(BoardError, match="light and proximity sensor is not available"):
        board.read_proximity()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_dead_particulate_thread_is_restarted(
    opened: Board, sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader thread killed by an unexpected error is replaced on the next cycle."""
    particulates_when_ready(opened)
    port = sim.serial_ports[-1]

    def broken(size: int = 1) -> bytes:
        raise ValueError("unexpected driver state")

    (reader,) = (t for t in threading.enumerate() if t.name == "qiot_enviro-pms5003")
    monkeypatch.setattr(port, "read", broken)
    # join(), not "gone from threading.enumerate()": a thread leaves that list before
    # it has ended, and until it has ended the board rightly serves its last frame.
    reader.join(3.0)
    assert not reader.is_alive()

    restarted = particulates_when_ready(opened)

    assert restarted == pinned_particulates()
    assert not port.is_open
    assert sim.open_resources()["serial"] == 1
    assert any(t.name == "qiot_enviro-pms5003" for t in threading.enumerate())


# -- the display -----------------------------------------------------------------------


def test_lcd_whose_spi_failed_at_open_works_on_the_next_picture(
    board: Board, sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SPI node busy at open is retried when a picture comes; its lines are reused."""
    busy = OSError(errno.EBUSY, "Device or resource busy")
    monkeypatch.setattr(sim.provider, "open_spi", _fail_once(sim.provider.open_spi, busy))

    board.open()
    error_at_open = board.display_error
    board.show_image(Image.new("RGB", (160, 80), (255, 0, 0)))

    assert error_at_open is not None
    assert "busy" in error_at_open
    assert board.display is not None
    assert board.display_error is None
    assert sim.lcd.picture().convert("RGB").getpixel((80, 40)) == pytest.approx((255, 0, 0), abs=8)
    assert sim.gpio.level_of(LINE_LCD_BACKLIGHT)


def test_display_calls_on_a_closed_board(board: Board) -> None:
    """Pictures and backlight after close raise BoardClosedError."""
    board.open()
    board.close()

    with pytest.raises(BoardClosedError):
        board.show_image(Image.new("RGB", (160, 80)))
    with pytest.raises(BoardClosedError):
        board.set_backlight(True)


# -- GPIO claims -------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [SystemExit(1), RuntimeError("driver failed")])
def test_claimed_lines_are_released_when_setup_fails(exc: BaseException) -> None:
    """A failure while lines are held (even gpiodevice's SystemExit) gives them back."""
    chip = EmulatedGPIOChip()
    request = chip.request_outputs("qiot_enviro-test", {"GPIO22": True})

    with pytest.raises(type(exc)), _released_on_error(request):
        raise exc

    assert request.released
    assert chip.claimed() == {}


def test_claimed_lines_are_kept_when_setup_succeeds() -> None:
    """Without a failure the lines stay claimed for the caller."""
    chip = EmulatedGPIOChip()
    request = chip.request_outputs("qiot_enviro-test", {"GPIO22": True})

    with _released_on_error(request) as held:
        pass

    assert held is request
    assert chip.claimed() == {"GPIO22": "qiot_enviro-test"}
