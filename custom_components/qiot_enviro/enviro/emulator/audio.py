"""The emulated microphone: the room's sound as an ADAU7002 capture stream.

The stream delivers what the real card does (S32_LE, two interleaved channels at
48 kHz, the microphone in the left slot, the right slot silent), in real time: a read
waits until the audio it returns has "happened". The sound is a pink multitone (equal
energy per octave, 125 Hz to 8 kHz) whose A-weighted level follows the environment's
``noise`` value (dB(A)), at the microphone's nominal sensitivity: what the board reads
is the room's level. A 0.1 s pattern repeats, so the stream costs a slice per read;
its level is set per read.

Tests feed their own signals with :class:`SignalCapture` (any float samples, full
scale 1.0, as fast as they are read).
"""

import math
import random
import struct
import threading
import time
from collections.abc import Callable, Sequence

from ..noise import (  # noqa: TID252 - keeps the hardware package relocatable
    CHANNELS,
    FULL_SCALE,
    REFERENCE_SPL,
    SAMPLE_RATE,
    SENSITIVITY_DBFS,
    a_weighting_db,
)

# The repeating pattern: 0.1 s, so every tone (a multiple of 10 Hz) loops seamlessly.
PATTERN_FRAMES = SAMPLE_RATE // 10
TONES = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
# Levels are rounded to this step (dB) to reuse packed patterns.
LEVEL_STEP = 0.1
_MAX_PATTERNS = 64


def pack_frames(samples: Sequence[float]) -> bytes:
    """Return S32_LE stereo frames: ``samples`` (full scale 1.0) left, silence right."""
    top = FULL_SCALE - 1
    values = []
    for x in samples:
        v = round(x * FULL_SCALE)
        values.append(min(top, max(-FULL_SCALE, v)))
        values.append(0)
    return struct.pack(f"<{len(values)}i", *(int(v) for v in values))


def multitone(
    frequencies: Sequence[float], amplitudes: Sequence[float], frames: int, *, seed: int = 0
) -> list[float]:
    """Return a sum of sines at ``frequencies`` with random (seeded) phases."""
    rng = random.Random(seed)
    phases = [rng.uniform(0.0, 2.0 * math.pi) for _ in frequencies]
    step = [2.0 * math.pi * f / SAMPLE_RATE for f in frequencies]
    return [
        sum(a * math.sin(w * n + p) for a, w, p in zip(amplitudes, step, phases, strict=True))
        for n in range(frames)
    ]


def expected_laeq(frequencies: Sequence[float], amplitudes: Sequence[float]) -> float:
    """Return the A-weighted level of a multitone from the analog A-weighting (Annex E)."""
    mean_square = sum(
        a * a / 2.0 * 10.0 ** (a_weighting_db(f) / 10.0)
        for f, a in zip(frequencies, amplitudes, strict=True)
    )
    return REFERENCE_SPL - SENSITIVITY_DBFS + 10.0 * math.log10(2.0 * mean_square)


class EmulatedMicrophone:
    """The room's sound at the microphone (level from a callable, in dB(A))."""

    def __init__(self, level: Callable[[], float], *, seed: int = 0) -> None:
        """Sound at ``level()`` dB(A); ``seed`` fixes the tones' phases."""
        self._level = level
        amplitude = 1.0
        self._pattern = multitone(TONES, [amplitude] * len(TONES), PATTERN_FRAMES, seed=seed)
        self._unit_level = expected_laeq(TONES, [amplitude] * len(TONES))
        self._packed: dict[float, bytes] = {}
        self._lock = threading.Lock()
        self.stalled = False
        self.open_streams = 0

    def frames_at(self, level: float) -> bytes:
        """Return the packed pattern at ``level`` dB(A) (cached per 0.1 dB)."""
        level = round(level / LEVEL_STEP) * LEVEL_STEP
        with self._lock:
            packed = self._packed.get(level)
        if packed is None:
            gain = 10.0 ** ((level - self._unit_level) / 20.0)
            packed = pack_frames([gain * x for x in self._pattern])
            with self._lock:
                if len(self._packed) >= _MAX_PATTERNS:
                    self._packed.clear()
                self._packed[level] = packed
        return packed

    def level(self) -> float:
        """Return the room's level now, dB(A)."""
        return self._level()


class EmulatedCapture:
    """One open stream of the emulated microphone, paced in real time."""

    def __init__(
        self, microphone: EmulatedMicrophone, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start the stream now."""
        self.rate = SAMPLE_RATE
        self.channels = CHANNELS
        self.overruns = 0
        self._mic = microphone
        self._clock = clock
        self._started = clock()
        self._delivered = 0
        self._closed = threading.Event()
        microphone.open_streams += 1

    def read(self, frames: int, timeout: float) -> bytes | None:
        """Return ``frames`` frames once they are due; None on timeout or a stall."""
        if self._closed.is_set():
            raise OSError(9, "the capture stream is closed")
        deadline = self._clock() + timeout
        while True:
            if self._mic.stalled:
                # A stalled card: nothing arrives, the clock runs on.
                self._started = self._clock() - self._delivered / self.rate
                self._closed.wait(max(0.0, min(timeout, deadline - self._clock())))
                return None
            due = int((self._clock() - self._started) * self.rate) - self._delivered
            # As the card: a read returns once a whole period is there.
            if due >= frames:
                break
            wait = deadline - self._clock()
            if wait <= 0:
                return None
            self._closed.wait(min(wait, 1.0 / 100))
        count = min(frames, due)
        start = self._delivered % PATTERN_FRAMES
        packed = self._mic.frames_at(self._mic.level())
        frame_bytes = 4 * self.channels
        out = bytearray()
        while len(out) < count * frame_bytes:
            take = min(count * frame_bytes - len(out), (PATTERN_FRAMES - start) * frame_bytes)
            out += packed[start * frame_bytes : start * frame_bytes + take]
            start = 0
        self._delivered += count
        return bytes(out)

    def close(self) -> None:
        """Close the stream (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            self._mic.open_streams -= 1


class SignalCapture:
    """A capture stream that plays given samples (full scale 1.0), unpaced, then stops."""

    def __init__(self, samples: Sequence[float], *, rate: int = SAMPLE_RATE) -> None:
        """Play ``samples`` on the left channel."""
        self.rate = rate
        self.channels = CHANNELS
        self.overruns = 0
        self._data = pack_frames(samples)
        self._position = 0
        self.closed = False

    def read(self, frames: int, timeout: float) -> bytes | None:
        """Return the next frames; after the end, wait ``timeout`` and return None."""
        if self.closed:
            raise OSError(9, "the capture stream is closed")
        size = frames * 4 * self.channels
        chunk = self._data[self._position : self._position + size]
        if not chunk:
            time.sleep(timeout)
            return None
        self._position += len(chunk)
        return chunk

    def close(self) -> None:
        """Close the stream."""
        self.closed = True
