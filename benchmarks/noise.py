"""CPU time the microphone costs: per second of audio, on this machine and predicted for a Pi Zero 2 W.

Everything the capture thread does with one second of audio is timed with
``time.process_time`` (one thread, so CPU time of this work alone), on captured-format
data (S32_LE, two channels, one period of 0.1 s at a time, as ``NoiseMeter`` feeds it):

- ``decode``: taking the microphone's channel out of the interleaved frames;
- ``rms``: the baseline, a plain mean square of the same samples, no weighting;
- ``meter``: A-weighting (three biquads), LAeq and the Fast time weighting for LAFmax,
  in pure Python (sample by sample) and with numpy (overlap-add), at 48 kHz (what the
  board uses) and at 16 kHz (what a cheaper capture would cost; it fails class 1 above
  5 kHz, see ``enviro/noise.py``).

The ratio column is against the baseline measured in the same run. Medians of
``--runs`` runs. Run: ``.venv/bin/python benchmarks/noise.py`` (about 20 s); the
agent's interpreter without numpy: ``<python3.13> benchmarks/noise.py``.

The Pi Zero 2 W (Cortex-A53, 4 cores at 1 GHz, in-order) is predicted by dividing by
an assumed per-core speed ratio (``--pi-ratio``, 12 by default): CPython's
pyperformance results put a Raspberry Pi 4 (Cortex-A72 at 1.5-1.8 GHz) about 4-6x
behind a current x86 server or desktop core, and an A53 at 1 GHz another 2-3x behind
the A72 (lower clock, in-order, half the issue width); 12 is the middle of that range.
numpy's FFTs lose less (NEON against AVX2, both vectorized), so the numpy figures are
the pessimistic side. Measure on the Pi to replace the guess.
"""

import argparse
import importlib
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
try:
    import homeassistant  # noqa: F401 - the integration's package needs it
except ImportError:
    # The agent's interpreter: the board side as the wheel installs it (qiot_enviro.*).
    _AGENT = Path(tempfile.mkdtemp(prefix="qiot-bench-"))
    (_AGENT / "qiot_enviro").mkdir()
    (_AGENT / "qiot_enviro" / "enviro").symlink_to(ROOT / "custom_components/qiot_enviro/enviro")
    sys.path.insert(0, str(_AGENT))
    enviro: Any = importlib.import_module("qiot_enviro.enviro")
else:
    enviro = importlib.import_module("custom_components.qiot_enviro.enviro")

noise = importlib.import_module(f"{enviro.__name__}.noise")
pack_frames = importlib.import_module(f"{enviro.__name__}.emulator.audio").pack_frames
FULL_SCALE = noise.FULL_SCALE
AWeightedMeter = noise.AWeightedMeter
channel_samples = noise.channel_samples

SECONDS = 2.0


def _periods(rate: int) -> list[bytes]:
    """Return SECONDS of a room-like signal as captured periods (0.1 s each)."""
    step = 2.0 * math.pi / rate
    samples = [
        0.01 * math.sin(step * 1000 * n) + 0.003 * math.sin(step * 125 * n + 1.0)
        for n in range(round(SECONDS * rate))
    ]
    packed = pack_frames(samples)
    period = rate // 10 * 8
    return [packed[i : i + period] for i in range(0, len(packed), period)]


def _time(work: Callable[[], object], runs: int) -> float:
    """Return the median CPU seconds of ``work`` per second of audio."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        work()
        times.append((time.process_time() - started) / SECONDS)
    return statistics.median(times)


def _rms_python(periods: list[bytes]) -> None:
    total = 0.0
    count = 0
    for raw in periods:
        values = channel_samples(raw, use_numpy=False)
        for x in values:
            v = x / FULL_SCALE
            total += v * v
        count += len(values)
    _ = total / count


def _rms_numpy(periods: list[bytes]) -> None:
    np: Any = noise.np
    total = 0.0
    for raw in periods:
        values = np.frombuffer(raw, dtype="<i4")[0::2] / FULL_SCALE
        total += float(values @ values)


def _decode(periods: list[bytes], use_numpy: bool) -> None:
    for raw in periods:
        channel_samples(raw, use_numpy=use_numpy)


def _meter(periods: list[bytes], rate: int, use_numpy: bool) -> Callable[[], None]:
    decoded = [channel_samples(raw, use_numpy=use_numpy) for raw in periods]

    def run() -> None:
        meter = AWeightedMeter(rate, use_numpy=use_numpy)
        for values in decoded:
            meter.feed(values, 1.0 / FULL_SCALE)
        meter.take()

    return run


def main() -> None:
    """Time each step and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pi-ratio", type=float, default=12.0)
    args = parser.parse_args()

    has_numpy = noise.np is not None
    rows: list[tuple[str, float]] = []
    periods_48 = _periods(48_000)
    periods_16 = _periods(16_000)
    baseline = _time(lambda: _rms_python(periods_48), args.runs)
    rows.append(("rms, pure Python, 48 kHz (baseline)", baseline))
    if has_numpy:
        rows.append(("rms, numpy, 48 kHz", _time(lambda: _rms_numpy(periods_48), args.runs)))
    for use_numpy in (False, True) if has_numpy else (False,):
        label = f"decode channel, {'numpy' if use_numpy else 'array'}, 48 kHz"
        rows.append((label, _time(lambda u=use_numpy: _decode(periods_48, u), args.runs)))
    for rate, periods in ((48_000, periods_48), (16_000, periods_16)):
        for use_numpy in (False, True) if has_numpy else (False,):
            # The filter design and impulse response are made once per meter: excluded.
            work = _meter(periods, rate, use_numpy)
            label = f"meter, {'numpy' if use_numpy else 'pure Python'}, {rate // 1000} kHz"
            rows.append((label, _time(work, args.runs)))

    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, numpy {'yes' if has_numpy else 'no'}; per second of audio:")
    print(f"{'step':<38} {'CPU ms/s':>9} {'ratio':>7} {'Pi Zero 2 W ms/s':>17} {'% of a core':>12}")
    for label, seconds in rows:
        pi = seconds * args.pi_ratio
        print(
            f"{label:<38} {seconds * 1000:9.2f} {seconds / baseline:7.2f} "
            f"{pi * 1000:17.1f} {pi * 100:11.1f}%"
        )
    print(f"(Pi Zero 2 W: this machine's figures x {args.pi_ratio:g}; see the module docstring)")


if __name__ == "__main__":
    main()
