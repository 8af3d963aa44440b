"""Our gas values against enviroplus.gas 1.0.2 on the same emulated chip.

``enviroplus.gas`` has no injection point: it opens its own SMBus (through
``i2cdevice``) and claims GPIO24 through ``gpiodevice``. Both are pointed at the
emulator at the bus level, and the module's globals are reset around each test.
"""

from collections.abc import Generator
from types import ModuleType

import gpiodevice
import pytest
import smbus2

from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.bus import LineRequest
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.enviro.emulator.i2c import EmulatedI2CHandle


@pytest.fixture
def enviroplus_gas(sim: EmulatedBoard, monkeypatch: pytest.MonkeyPatch) -> Generator[ModuleType]:
    """Return ``enviroplus.gas`` wired to the emulated bus and GPIO chip."""
    from enviroplus import gas

    requests: list[LineRequest] = []

    def get_pin(pin: str, label: str, settings: object) -> tuple[LineRequest, int]:
        request = sim.gpio.request_outputs(f"enviroplus-{label}", {pin: True})
        requests.append(request)
        return request, sim.gpio.line_offset(pin)

    monkeypatch.setattr(smbus2, "SMBus", lambda bus: EmulatedI2CHandle(sim.i2c))
    monkeypatch.setattr(gpiodevice, "get_pin", get_pin)
    monkeypatch.setattr(gas.atexit, "register", lambda function: function)
    monkeypatch.setattr(gas, "_is_setup", False)
    monkeypatch.setattr(gas, "_is_available", False)
    monkeypatch.setattr(gas, "_heater", None)
    monkeypatch.setattr(gas, "adc", None, raising=False)
    monkeypatch.setattr(gas, "adc_type", None, raising=False)
    yield gas
    for request in requests:
        request.release()


@pytest.mark.parametrize("adc", ["ads1015", "ads1115"])
@pytest.mark.parametrize(
    ("oxidising", "reducing", "nh3"),
    [(20_000.0, 300_000.0, 150_000.0), (8_500.0, 120_000.0, 60_000.0)],
)
def test_same_ohms_as_enviroplus(
    board: Board,
    sim: EmulatedBoard,
    enviroplus_gas: ModuleType,
    *,
    oxidising: float,
    reducing: float,
    nh3: float,
) -> None:
    """For the same chip state, our values equal enviroplus's (after its bad first one)."""
    sim.env.set(oxidising=oxidising, reducing=reducing, nh3=nh3)

    first = enviroplus_gas.read_all()
    theirs = enviroplus_gas.read_all()
    enviroplus_gas._heater[0].release()
    board.open()
    snapshot = board.read()

    assert snapshot.gas is not None
    ours = snapshot.gas.value
    assert ours is not None
    assert (ours.oxidising, ours.reducing, ours.nh3) == (
        theirs.oxidising,
        theirs.reducing,
        theirs.nh3,
    )
    # enviroplus's first reading returns a conversion of the power-on input selection.
    assert first.oxidising < 0
