"""Known sound levels in, dB(A) out: tones, pink noise and tone bursts as capture streams.

The signals are played by the emulator's :class:`SignalCapture` (the stream format of
the ADAU7002 card) into :class:`NoiseMeter`, the thread that reads the microphone on a
Pi. The expected levels come from the microphone's sensitivity (-26 dBFS at 94 dB SPL)
and, for pink noise, from IEC 61672-1's analog A-weighting formula evaluated here, not
from the filter under test.
"""

import math
import random
import time

import pytest

from custom_components.qiot_enviro.enviro import noise
from custom_components.qiot_enviro.enviro.emulator.audio import SignalCapture
from custom_components.qiot_enviro.enviro.noise import NoiseCycle, NoiseMeter

RATE = noise.SAMPLE_RATE
# The microphone's sensitivity point: a 94 dB SPL tone is a sine of this peak.
REFERENCE_PEAK = 10.0 ** (-26.0 / 20.0)
BACKENDS = [
    pytest.param(False, id="python"),
    pytest.param(
        True,
        id="numpy",
        marks=pytest.mark.skipif(noise.np is None, reason="numpy is not installed"),
    ),
]


def _analog_a_weighting(frequency: float) -> float:
    """IEC 61672-1:2013 equations (E.1), (E.6): the A-weighting in dB."""
    f1, f2, f3, f4 = 20.598997, 107.65265, 737.86223, 12194.217
    fsq = frequency**2
    gain = (f4**2 * fsq**2) / (
        (fsq + f1**2) * math.sqrt(fsq + f2**2) * math.sqrt(fsq + f3**2) * (fsq + f4**2)
    )
    return 20.0 * math.log10(gain) + 2.000


def _measure(samples: list[float], use_numpy: bool, settle: float = 0.5) -> NoiseCycle:
    """Play ``samples`` through a NoiseMeter thread; return the one cycle it measured."""
    capture = SignalCapture(samples)
    meter = NoiseMeter(capture, settle=settle, use_numpy=use_numpy)
    meter.start()
    try:
        deadline = time.monotonic() + 30.0
        while meter.frames < len(samples) and time.monotonic() < deadline:
            time.sleep(0.01)
        cycle = meter.take()
    finally:
        meter.stop()
    assert cycle is not None
    return cycle


def _tone(frequency: float, peak: float, seconds: float) -> list[float]:
    step = 2.0 * math.pi * frequency / RATE
    return [peak * math.sin(step * n) for n in range(round(seconds * RATE))]


@pytest.mark.parametrize("use_numpy", BACKENDS)
@pytest.mark.parametrize("level", [54.0, 94.0, 104.0])
def test_1_khz_tone_reads_its_level(level: float, use_numpy: bool) -> None:
    """94 dB SPL is the sensitivity point; 40 dB quieter and 10 dB louder scale with it."""
    peak = REFERENCE_PEAK * 10.0 ** ((level - 94.0) / 20.0)
    cycle = _measure(_tone(1000.0, peak, 2.5), use_numpy)
    assert cycle.laeq == pytest.approx(level, abs=0.5)
    assert cycle.lafmax == pytest.approx(level, abs=0.5)
    assert cycle.seconds == pytest.approx(2.0)


def _pink_multitone(level: float, seed: int) -> tuple[list[float], float]:
    """Return pink noise (1/f power) from 20 Hz to 20 kHz and its A-weighted level.

    Pink as a dense multitone: 10 tones per third octave, log-spaced, of equal
    amplitude (equal power per relative bandwidth), with random phases. The expected
    A-weighted level sums each tone's power weighted by the standard's formula.
    """
    rng = random.Random(seed)
    count = 300
    frequencies = [20.0 * 1000.0 ** (k / (count - 1)) for k in range(count)]
    weighted = sum(10.0 ** (_analog_a_weighting(f) / 10.0) for f in frequencies) / 2.0
    # Mean square of the A-weighted signal that gives ``level`` at -26 dBFS.
    target = REFERENCE_PEAK**2 / 2.0 * 10.0 ** ((level - 94.0) / 10.0)
    amplitude = math.sqrt(target / weighted)
    seconds = 2.5
    try:
        import numpy as np

        n = np.arange(round(seconds * RATE))
        signal = np.zeros(len(n))
        for f in frequencies:
            signal += amplitude * np.sin(2 * np.pi * f / RATE * n + rng.uniform(0, 2 * np.pi))
        samples = signal.tolist()
    except ImportError:  # pragma: no cover
        pytest.skip("generating 300 tones needs numpy")
    return samples, level


@pytest.mark.parametrize("use_numpy", BACKENDS)
@pytest.mark.parametrize("level", [45.0, 70.0])
def test_pink_noise_reads_its_a_weighted_level(level: float, use_numpy: bool) -> None:
    """Broadband sound: the A-weighted level within 0.5 dB of the standard's weighting."""
    samples, expected = _pink_multitone(level, seed=int(level))
    assert max(abs(x) for x in samples) < 1.0  # no clipping
    cycle = _measure(samples, use_numpy)
    assert cycle.laeq == pytest.approx(expected, abs=0.5)
    assert cycle.lafmax >= cycle.laeq


def _burst(duration: float, frequency: float = 4000.0) -> list[float]:
    """1 s of silence, a 4 kHz burst of ``duration`` at the reference level, 1 s silence."""
    silence = [0.0] * RATE
    return silence + _tone(frequency, REFERENCE_PEAK, duration) + silence


@pytest.mark.parametrize("use_numpy", BACKENDS)
@pytest.mark.parametrize(
    ("duration", "expected", "upper", "lower"),
    [
        # IEC 61672-1:2013, Table 4: reference 4 kHz toneburst responses, Fast, with
        # the class 1 acceptance limits.
        (0.2, -1.0, 0.8, -0.8),
        (0.002, -18.0, 1.3, -1.8),
    ],
)
def test_fast_time_weighting_toneburst_response(
    duration: float, expected: float, upper: float, lower: float, use_numpy: bool
) -> None:
    """LAFmax of a burst, relative to the steady tone's level, as the standard says."""
    steady = _measure(_tone(4000.0, REFERENCE_PEAK, 2.0), use_numpy, settle=0.5).laeq
    burst = _measure(_burst(duration), use_numpy, settle=0.5)
    response = burst.lafmax - steady
    assert lower <= response - expected <= upper
    # And the exponential's own value, 10 lg(1 - e^(-T/0.125)), closely.
    assert response == pytest.approx(10.0 * math.log10(1.0 - math.exp(-duration / 0.125)), abs=0.2)
    # LAeq spreads the burst's energy over everything measured.
    spread = 10.0 * math.log10(duration / burst.seconds)
    assert burst.laeq == pytest.approx(steady + spread, abs=0.3)
