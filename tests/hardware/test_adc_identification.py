"""ADS1015 or ADS1115, across the data-rate tolerance TI allows (±10 %) and beyond.

Telling them apart decides the waits and the scaling: an ADS1115 taken for an ADS1015
reads its gas values 16 times off. The vendor's ``detect_chip_type`` times conversions
against 1/128 s and takes an ADS1115 running 15 % fast for an ADS1015.
"""

import pytest

from custom_components.qiot_enviro.enviro.board import Board, detect
from custom_components.qiot_enviro.enviro.emulator.board import create_simulated
from custom_components.qiot_enviro.enviro.models import Chip

from .common import FRAME_INTERVAL, PINNED, POWER_UP_DELAY, ohms_resolution

RATE_ERRORS = [-0.30, -0.10, 0.10, 0.15, 0.30, 0.80]
# The room's gas values, and inputs at 0 V whose results say nothing about resolution
# (0 on either chip), so only the timing can tell.
INPUTS = {
    "room": {},
    "zero volts": {"oxidising": 0.0, "reducing": 0.0, "nh3": 0.0},
}


@pytest.mark.parametrize("inputs", sorted(INPUTS))
@pytest.mark.parametrize("rate_error", RATE_ERRORS)
@pytest.mark.parametrize("adc", ["ads1015", "ads1115"])
def test_open_tells_the_adcs_apart_across_their_tolerance(
    adc: str, rate_error: float, inputs: str
) -> None:
    """The board names the right chip, and reads the right ohms with it."""
    sim = create_simulated(
        seed=7,
        frame_interval=FRAME_INTERVAL,
        power_up_delay=POWER_UP_DELAY,
        adc="ads1115" if adc == "ads1115" else "ads1015",
        adc_rate_error=rate_error,
    )
    sim.env.set(**(PINNED | INPUTS[inputs]))
    board = Board(sim.provider, particulate_warmup=0.0)
    try:
        detection = board.open()
        gas = board.read().gas
    finally:
        board.close()

    expected = Chip.ADS1115 if adc == "ads1115" else Chip.ADS1015
    assert expected in detection.chips
    assert ({Chip.ADS1015, Chip.ADS1115} - {expected}).isdisjoint(detection.chips)
    assert gas is not None
    if inputs == "room":
        assert gas.value is not None, gas.error
        assert gas.value.oxidising == pytest.approx(
            PINNED["oxidising"], abs=ohms_resolution(PINNED["oxidising"], adc)
        )
    else:
        assert gas.error == "oxidising channel at 0 V: short circuit"


@pytest.mark.parametrize("rate_error", [-0.10, 0.15])
@pytest.mark.parametrize("adc", ["ads1015", "ads1115"])
def test_detect_tells_the_adcs_apart_by_timing_alone(adc: str, rate_error: float) -> None:
    """The config flow's probe agrees, even when only the conversion time can tell."""
    sim = create_simulated(
        seed=7,
        frame_interval=FRAME_INTERVAL,
        adc="ads1115" if adc == "ads1115" else "ads1015",
        adc_rate_error=rate_error,
    )
    sim.env.set(**(PINNED | INPUTS["zero volts"]))

    detection = detect(sim.provider, frame_wait=0.0)

    assert (Chip.ADS1115 in detection.chips) is (adc == "ads1115")
    assert (Chip.ADS1015 in detection.chips) is (adc == "ads1015")
