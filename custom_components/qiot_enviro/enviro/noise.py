"""Sound level from the board's microphone: A-weighting, LAeq and LAFmax, in a thread.

The microphone and its converter
--------------------------------
The Enviro and Enviro+ carry a PDM MEMS microphone behind an Analog Devices ADAU7002
(PDM to I2S converter; the Raspberry Pi's ``adau7002-simple`` overlay makes it the ALSA
card ``adau7002``). The ADAU7002 has no control interface (pins configure it), so
there is no gain to set: it decimates the 1-bit PDM stream to PCM, full scale for full
scale, and the kernel driver
(``sound/soc/codecs/adau7002.c``) offers 2 channels at 8-96 kHz with 20 significant
bits (``sig_bits = 20``), in S16_LE up to S32_LE. The microphone drives the left slot
(Pimoroni's ``enviroplus.noise`` records one channel, the first, of device
``adau7002``).

Neither Pimoroni's library, its product pages nor pinout.xyz name the microphone part
("MEMS microphone"). Digital MEMS microphones of this class share one nominal
sensitivity, -26 dBFS for a 94 dB SPL 1 kHz tone (Infineon IM69D120, ST MP34DT05-A,
Knowles SPG08P4HM4H-1 and the I2S parts TDK ICS-43434, InvenSense INMP441, Knowles
SPH0645LM4H), with a part-to-part tolerance of typically ±1 dB (up to ±3 dB for budget
parts): :data:`SENSITIVITY_DBFS` uses it. dBFS is referenced to a full-scale sine (the
usual MEMS datasheet convention): a 94 dB SPL tone is a sine of peak
``10 ** (-26 / 20)`` of full scale, and full scale is 120 dB SPL. Levels therefore
carry the microphone's tolerance until a user calibrates the offset against a
reference meter (Home Assistant applies that offset; nothing here does).

The signal chain, and why 48 kHz
--------------------------------
The capture runs at 48 kHz in S32_LE: the A-weighting filter is an IIR cascade of
three biquads, the bilinear transform (poles pre-warped) of IEC 61672-1's analog
A-weighting (Annex E: two poles at 20.6 Hz, one at 107.7 Hz, one at 737.9 Hz, two at
12194 Hz, four zeros at 0 Hz). At 48 kHz it stays inside the class 1 tolerances at
every table frequency up to 20 kHz (tests/hardware/test_noise_weighting.py measures
them with sines); at 16 kHz the transform's frequency warping puts 6.3 kHz about 5 dB
low, outside class 1, which is why the capture runs at 48 kHz. The Fast time
weighting is the standard's exponential average of the squared A-weighted pressure
with a 125 ms time constant; LAFmax is its maximum in a cycle, LAeq the mean square
over the cycle.

Two implementations of the same filter: with numpy (Home Assistant's own dependency,
the agent's ``numpy`` extra) the cascade's impulse response, which decays below 1e-13
within :data:`IMPULSE_LENGTH` samples, is applied by FFT overlap-add, and the Fast
time weighting is evaluated exactly at every millisecond; without numpy the cascade
and the time weighting run sample by sample in Python (several times the CPU time:
see benchmarks/noise.py).
"""

import cmath
import importlib
import logging
import math
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

np: Any
try:
    np = importlib.import_module("numpy")
except ImportError:  # pragma: no cover - where numpy is absent (the agent without it)
    np = None

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
CHANNELS = 2
# The microphone's slot in the ADAU7002's I2S frame (left).
MIC_CHANNEL = 0
# Nominal PDM MEMS sensitivity: dBFS of a 94 dB SPL, 1 kHz tone (module docstring).
SENSITIVITY_DBFS = -26.0
REFERENCE_SPL = 94.0
FULL_SCALE = 2.0**31
# IEC 61672-1: the Fast time weighting's time constant.
FAST_TIME_CONSTANT = 0.125
# Audio read per capture call: 0.1 s.
PERIOD_FRAMES = SAMPLE_RATE // 10
# What a cycle's result is dropped for after (re)opening: the microphone's start-up
# ("plop", reported by users of the Enviro+) and the filter's own settling.
SETTLE_TIME = 1.0
# How long a read waits for audio before the capture thread checks for a stop.
READ_TIMEOUT = 0.2
# The cascade's impulse response is used this long (numpy path): 0.17 s at 48 kHz, when
# its amplitude is below 1e-13 of the first sample's.
IMPULSE_LENGTH = 8_192
# The numpy path filters blocks of this many new samples.
BLOCK_SAMPLES = 8_192
# Exact Fast-weighted values are taken every this many samples (numpy path): 1 ms.
FAST_STEP = 48

# IEC 61672-1:2013 Annex E: the analog A-weighting's pole frequencies in Hz.
A_POLE_1 = 20.598997
A_POLE_2 = 107.65265
A_POLE_3 = 737.86223
A_POLE_4 = 12194.217

type Biquad = tuple[float, float, float, float, float]


def a_weighting_db(frequency: float) -> float:
    """Return the analog A-weighting in dB at ``frequency`` (IEC 61672-1, Annex E)."""
    f2 = frequency * frequency
    numerator = A_POLE_4**2 * f2 * f2
    denominator = (
        (f2 + A_POLE_1**2) * math.sqrt((f2 + A_POLE_2**2) * (f2 + A_POLE_3**2)) * (f2 + A_POLE_4**2)
    )
    return 20.0 * math.log10(numerator / denominator) - _A_1000


def _a_unnormalised(frequency: float) -> float:
    f2 = frequency * frequency
    numerator = A_POLE_4**2 * f2 * f2
    denominator = (
        (f2 + A_POLE_1**2) * math.sqrt((f2 + A_POLE_2**2) * (f2 + A_POLE_3**2)) * (f2 + A_POLE_4**2)
    )
    return 20.0 * math.log10(numerator / denominator)


_A_1000 = _a_unnormalised(1000.0)


def _bilinear_pole(frequency: float, rate: float) -> float:
    """Map the real analog pole at ``-2πf`` into the z-plane (bilinear transform).

    Pre-warped to its own frequency, so that the digital pole sits at ``f``: this
    keeps the 12194 Hz pair from pulling the response down above 6 kHz (at 48 kHz:
    within +0.7 dB up to 12.5 kHz, where the plain transform is 2.7 dB low); the low
    poles move by less than 0.01 %.
    """
    if frequency < rate / 3:
        s = -math.tan(math.pi * frequency / rate)
    else:  # near or above Nyquist (12194 Hz at 16 kHz) the plain transform is stable
        s = -math.pi * frequency / rate
    return (1.0 + s) / (1.0 - s)


def a_weighting_biquads(rate: float = SAMPLE_RATE) -> list[Biquad]:
    """Return the A-weighting as three biquads ``(b0, b1, b2, a1, a2)`` with a0 = 1.

    Bilinear transform of the analog filter: the four zeros at 0 Hz go to z = 1, the
    two at infinity to z = -1; the gain makes the response 0 dB at 1 kHz.
    """
    p1 = _bilinear_pole(A_POLE_1, rate)
    p2 = _bilinear_pole(A_POLE_2, rate)
    p3 = _bilinear_pole(A_POLE_3, rate)
    p4 = _bilinear_pole(A_POLE_4, rate)
    sections: list[Biquad] = [
        (1.0, -2.0, 1.0, -2.0 * p1, p1 * p1),
        (1.0, -2.0, 1.0, -(p2 + p3), p2 * p3),
        (1.0, 2.0, 1.0, -2.0 * p4, p4 * p4),
    ]
    gain = abs(response(sections, 1000.0, rate))
    scale = 1.0 / gain
    b0, b1, b2, a1, a2 = sections[0]
    sections[0] = (b0 * scale, b1 * scale, b2 * scale, a1, a2)
    return sections


def response(sections: Sequence[Biquad], frequency: float, rate: float) -> complex:
    """Return the cascade's complex response at ``frequency``."""
    z1 = cmath.exp(-2j * math.pi * frequency / rate)
    z2 = z1 * z1
    total = complex(1.0)
    for b0, b1, b2, a1, a2 in sections:
        total *= (b0 + b1 * z1 + b2 * z2) / (1.0 + a1 * z1 + a2 * z2)
    return total


def level_db(mean_square: float, sensitivity_dbfs: float = SENSITIVITY_DBFS) -> float:
    """Return dB re 20 µPa of a mean square (full scale = 1.0) at the given sensitivity.

    A sine of peak ``10 ** (sensitivity / 20)`` (mean square half its peak squared) is
    the reference level, 94 dB.
    """
    if mean_square <= 0.0:
        return -math.inf
    return REFERENCE_SPL - sensitivity_dbfs + 10.0 * math.log10(2.0 * mean_square)


@dataclass(frozen=True, slots=True)
class Levels:
    """What one cycle measured: mean squares of the A-weighted signal (full scale 1)."""

    mean_square: float  # over the cycle: LAeq
    fast_max: float  # highest Fast time-weighted mean square: LAFmax
    samples: int


class AWeightedMeter:
    """A-weighting, LAeq accumulation and Fast time weighting of one channel.

    :meth:`feed` takes samples (floats, full scale 1.0, or raw int32 with
    ``scale=1/2**31``); :meth:`take` returns the levels since the previous take and
    starts a new cycle. The filter and Fast states run on across cycles, as in a sound
    level meter. Not thread-safe: the caller serializes.
    """

    def __init__(
        self, rate: int = SAMPLE_RATE, *, use_numpy: bool | None = None, skip: int = 0
    ) -> None:
        """Design the filter for ``rate``; ``skip`` first samples are filtered, not counted."""
        self.rate = rate
        self.sections = a_weighting_biquads(rate)
        self.numpy = (np is not None) if use_numpy is None else use_numpy
        if self.numpy and np is None:
            raise RuntimeError("numpy is not installed")
        self._fast_a = math.exp(-1.0 / (FAST_TIME_CONSTANT * rate))
        self._fast = 0.0
        self._state = [0.0] * 6
        self._skip = skip
        self._energy = 0.0
        self._count = 0
        self._peak = 0.0
        if self.numpy:
            self._init_numpy()

    # -- feeding -----------------------------------------------------------------

    def feed(self, samples: Any, scale: float = 1.0) -> None:
        """Filter and accumulate samples (a sequence or numpy array)."""
        if self.numpy:
            self._pending.append(np.asarray(samples, dtype=np.float64) * scale)
            self._pending_count += len(samples)
            if self._pending_count >= BLOCK_SAMPLES:
                self._flush()
        else:
            self._feed_python(samples, scale)

    def take(self) -> Levels:
        """Return the levels since the previous take (samples 0 if none) and reset."""
        if self.numpy:
            self._flush()
        levels = Levels(
            mean_square=self._energy / self._count if self._count else 0.0,
            fast_max=self._peak,
            samples=self._count,
        )
        self._energy = 0.0
        self._count = 0
        self._peak = 0.0
        return levels

    # -- pure Python: the cascade sample by sample -----------------------------------

    def _feed_python(self, samples: Sequence[float], scale: float) -> None:
        (b10, b11, b12, a11, a12), (b20, b21, b22, a21, a22), (b30, b31, b32, a31, a32) = (
            self.sections
        )
        s11, s12, s21, s22, s31, s32 = self._state
        b10 *= scale
        b11 *= scale
        b12 *= scale
        keep = self._fast_a
        gain = 1.0 - keep
        fast = self._fast
        peak = self._peak
        energy = 0.0
        skip = self._skip
        counted = 0
        for x in samples:
            # Direct form II transposed, three sections.
            v = b10 * x + s11
            s11 = b11 * x - a11 * v + s12
            s12 = b12 * x - a12 * v
            w = b20 * v + s21
            s21 = b21 * v - a21 * w + s22
            s22 = b22 * v - a22 * w
            u = b30 * w + s31
            s31 = b31 * w - a31 * u + s32
            s32 = b32 * w - a32 * u
            e = u * u
            fast = keep * fast + gain * e
            if skip:
                skip -= 1
                continue
            energy += e
            counted += 1
            if fast > peak:  # noqa: PLR1730 - max() costs a call per sample
                peak = fast
        self._state = [s11, s12, s21, s22, s31, s32]
        self._fast = fast
        self._skip = skip
        self._energy += energy
        self._count += counted
        self._peak = peak

    # -- numpy: the same cascade by overlap-add of its impulse response ---------------

    def _init_numpy(self) -> None:
        impulse = [0.0] * IMPULSE_LENGTH
        impulse[0] = 1.0
        probe = AWeightedMeter(self.rate, use_numpy=False)
        self._impulse = np.array(_filtered(probe, impulse))
        self._tail = np.zeros(IMPULSE_LENGTH - 1)
        self._spectra: dict[int, Any] = {}
        self._pending: list[Any] = []
        self._pending_count = 0
        step = FAST_STEP
        self._step_keep = self._fast_a**step
        # Weight of each sample of a step in the Fast value at the step's end.
        self._step_weights = (1.0 - self._fast_a) * self._fast_a ** np.arange(step - 1, -1, -1)

    def _spectrum(self, size: int) -> Any:
        spectrum = self._spectra.get(size)
        if spectrum is None:
            spectrum = np.fft.rfft(self._impulse, size)
            self._spectra[size] = spectrum
        return spectrum

    def _flush(self) -> None:
        if not self._pending_count:
            return
        block = np.concatenate(self._pending)
        self._pending = []
        self._pending_count = 0
        length = len(block) + IMPULSE_LENGTH - 1
        size = 1 << (length - 1).bit_length()
        out = np.fft.irfft(np.fft.rfft(block, size) * self._spectrum(size), size)[:length]
        out[: IMPULSE_LENGTH - 1] += self._tail
        filtered = out[: len(block)]
        self._tail = out[len(block) :].copy()
        squares = filtered * filtered
        self._fast_numpy(squares)
        if self._skip:
            dropped = min(self._skip, len(squares))
            self._skip -= dropped
            squares = squares[dropped:]
        self._energy += float(squares.sum())
        self._count += len(squares)

    def _fast_numpy(self, squares: Any) -> None:
        """Advance the Fast time weighting; keep its maximum at every step's end.

        Exact at the step ends (the recursion is linear); between them the value can
        rise by at most ``1 - keep`` of a step (0.04 dB at 1 ms).
        """
        step = FAST_STEP
        whole = len(squares) - len(squares) % step
        fast = self._fast
        skip = self._skip
        if whole:
            inputs = squares[:whole].reshape(-1, step) @ self._step_weights
            powers = self._step_keep ** np.arange(1, len(inputs) + 1)
            # fast_j = keep^j * (fast_0 + sum_{i<=j} input_i / keep^i), split into
            # chunks so that keep^-i stays small.
            values = np.empty(len(inputs))
            chunk = 200
            for start in range(0, len(inputs), chunk):
                part = inputs[start : start + chunk]
                pw = powers[: len(part)]
                values[start : start + len(part)] = pw * (fast + np.cumsum(part / pw))
                fast = float(values[start + len(part) - 1])
            first = -(-skip // step)
            if first < len(values):
                self._peak = max(self._peak, float(values[first:].max()))
        # The samples after the last whole step, one by one (fewer than a step).
        skip -= whole
        for e in squares[whole:]:
            fast = self._fast_a * fast + (1.0 - self._fast_a) * float(e)
            if skip > 0:
                skip -= 1
            elif fast > self._peak:
                self._peak = fast
        self._fast = fast


def _filtered(meter: AWeightedMeter, samples: Sequence[float]) -> list[float]:
    """Return the pure-Python cascade's output for ``samples`` (no accumulation)."""
    (b10, b11, b12, a11, a12), (b20, b21, b22, a21, a22), (b30, b31, b32, a31, a32) = meter.sections
    s11 = s12 = s21 = s22 = s31 = s32 = 0.0
    out = []
    for x in samples:
        v = b10 * x + s11
        s11 = b11 * x - a11 * v + s12
        s12 = b12 * x - a12 * v
        w = b20 * v + s21
        s21 = b21 * v - a21 * w + s22
        s22 = b22 * v - a22 * w
        u = b30 * w + s31
        s31 = b31 * w - a31 * u + s32
        s32 = b32 * w - a32 * u
        out.append(u)
    return out


def channel_samples(
    raw: bytes,
    channel: int = MIC_CHANNEL,
    channels: int = CHANNELS,
    *,
    use_numpy: bool | None = None,
) -> Any:
    """Return one channel of interleaved S32_LE frames: a numpy array or an int array."""
    if np is not None and use_numpy is not False:
        return np.frombuffer(raw, dtype="<i4")[channel::channels]
    values = array("i", raw)
    if _BIG_ENDIAN:  # pragma: no cover - the Pi and x86 are little-endian
        values.byteswap()
    return values[channel::channels]


_BIG_ENDIAN = array("i", b"\0\0\0\1")[0] == 1


# -- the capture thread ---------------------------------------------------------------


class AudioCapture(Protocol):
    """An opened capture stream: S32_LE, :data:`CHANNELS` channels, interleaved."""

    rate: int

    def read(self, frames: int, timeout: float) -> bytes | None:
        """Return up to ``frames`` frames, or None when none came within ``timeout`` s.

        Raises OSError when the stream fails for good.
        """

    def close(self) -> None:
        """Close the stream."""


@dataclass(frozen=True, slots=True)
class NoiseCycle:
    """Levels over the audio captured since the previous :meth:`NoiseMeter.take`."""

    laeq: float
    lafmax: float
    seconds: float


class NoiseMeter:
    """Reads a capture stream in its own thread and measures every sample of it.

    The buffer is bounded: the capture device's own ring buffer (0.5 s) and one period
    here; the meter keeps sums, not audio. :meth:`take` never waits for audio.
    """

    def __init__(
        self,
        capture: AudioCapture,
        *,
        sensitivity_dbfs: float = SENSITIVITY_DBFS,
        settle: float = SETTLE_TIME,
        clock: Callable[[], float] = time.monotonic,
        use_numpy: bool | None = None,
    ) -> None:
        """Measure ``capture`` (opened); the first ``settle`` seconds are dropped."""
        self._capture = capture
        self._sensitivity = sensitivity_dbfs
        self._clock = clock
        self._rate = capture.rate
        self._meter = AWeightedMeter(
            capture.rate, use_numpy=use_numpy, skip=round(settle * capture.rate)
        )
        self._settle = settle
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = clock()
        self._last_audio = self._started_at
        self.error: str | None = None
        self.frames = 0
        self.overruns = 0

    def start(self) -> None:
        """Start the capture thread."""
        self._started_at = self._last_audio = self._clock()
        self._thread = threading.Thread(target=self._run, name="qiot_enviro-noise", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (within one read timeout) and close the stream."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5 * READ_TIMEOUT + 1.0)
        self._capture.close()

    @property
    def alive(self) -> bool:
        """Tell whether the capture thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def settling(self) -> bool:
        """Tell whether the start-up audio is still being dropped."""
        return self._clock() - self._started_at < self._settle

    def silent_for(self) -> float:
        """Return the seconds since audio last arrived."""
        return self._clock() - self._last_audio

    def take(self) -> NoiseCycle | None:
        """Return LAeq and LAFmax since the previous take; None if no audio was measured."""
        with self._lock:
            levels = self._meter.take()
        if not levels.samples:
            return None
        return NoiseCycle(
            laeq=level_db(levels.mean_square, self._sensitivity),
            lafmax=level_db(levels.fast_max, self._sensitivity),
            seconds=levels.samples / self._rate,
        )

    def _run(self) -> None:
        capture = self._capture
        try:
            while not self._stop.is_set():
                raw = capture.read(PERIOD_FRAMES, READ_TIMEOUT)
                if not raw:
                    continue
                samples = channel_samples(raw, use_numpy=self._meter.numpy)
                with self._lock:
                    self._meter.feed(samples, 1.0 / FULL_SCALE)
                    self.frames += len(samples)
                    self._last_audio = self._clock()
                overruns = getattr(capture, "overruns", 0)
                if overruns != self.overruns:
                    self.overruns = overruns
        except OSError as err:
            self.error = f"{type(err).__name__}: {err}"
            if not self._stop.is_set():
                _LOGGER.warning("Microphone capture stopped: %s", self.error)
