"""Tests for the display thread: newest picture wins, callers never wait, errors survived."""

import logging
import threading
import time
from collections.abc import Callable

import pytest
from PIL import Image

from custom_components.qiot_enviro.display import DisplayWorker

WORKER_LOGGER = "custom_components.qiot_enviro.display.worker"


def _frame(number: int) -> Callable[[], Image.Image]:
    """Return a render callable whose picture carries ``number``, to tell frames apart."""

    def render() -> Image.Image:
        """Draw a tiny frame tagged with its request number."""
        image = Image.new("RGB", (160, 80))
        image.info["number"] = number
        return image

    return render


class RecordingSink:
    """A panel stand-in: records what it was given, optionally slowly or failing."""

    def __init__(self, delay: float = 0.0, failures: list[BaseException] | None = None) -> None:
        """Take ``delay`` seconds per frame; raise the given exceptions first, in order."""
        self.delay = delay
        self.failures = list(failures or [])
        self.numbers: list[int] = []
        self.busy = False
        self.overlapped = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, image: Image.Image) -> None:
        """Push a frame."""
        if self.busy:
            self.overlapped = True
        self.busy = True
        self.entered.set()
        try:
            self.release.wait(10)
            time.sleep(self.delay)
            if self.failures:
                raise self.failures.pop(0)
            self.numbers.append(image.info["number"])
        finally:
            self.busy = False


def test_burst_from_several_threads_newest_wins(workers: list[DisplayWorker]) -> None:
    """1,000 requests from 4 threads at a slow panel: few frames, the last one is the newest."""
    sink = RecordingSink(delay=0.005)
    worker = DisplayWorker(sink)
    workers.append(worker)
    order: list[int] = []
    order_lock = threading.Lock()
    start = threading.Barrier(4)

    def burst(first: int) -> None:
        """Submit 250 numbered requests, recording the order in which they went in."""
        start.wait()
        for number in range(first, first + 250):
            with order_lock:
                worker.submit(_frame(number))
                order.append(number)

    threads = [threading.Thread(target=burst, args=(index * 250,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worker.flush(timeout=10)

    assert len(order) == 1000
    assert worker.frames == len(sink.numbers)
    assert worker.frames < 100
    assert sink.numbers[-1] == order[-1]
    assert worker.last_image is not None
    assert worker.last_image.info["number"] == order[-1]
    # Never an older request after a newer one, never two transfers at once.
    positions = [order.index(number) for number in sink.numbers]
    assert positions == sorted(positions)
    assert len(set(sink.numbers)) == len(sink.numbers)
    assert not sink.overlapped


def test_submit_does_not_wait_for_the_panel(workers: list[DisplayWorker]) -> None:
    """With the panel stuck in a transfer, submitting still returns at once."""
    sink = RecordingSink()
    sink.release.clear()
    worker = DisplayWorker(sink)
    workers.append(worker)
    worker.submit(_frame(0))
    assert sink.entered.wait(5)
    started = time.perf_counter()
    for number in range(1, 1001):
        worker.submit(_frame(number))
    elapsed = time.perf_counter() - started
    assert not worker.flush(timeout=0.05)
    sink.release.set()
    assert worker.flush(timeout=5)
    assert elapsed < 0.5
    assert sink.numbers == [0, 1000]


def test_submit_does_not_wait_for_rendering(workers: list[DisplayWorker]) -> None:
    """A slow render runs on the worker's thread, not the caller's."""
    entered = threading.Event()
    release = threading.Event()

    def slow() -> Image.Image:
        """Block until the test lets the render finish."""
        entered.set()
        release.wait(10)
        return _frame(1)()

    worker = DisplayWorker(RecordingSink())
    workers.append(worker)
    started = time.perf_counter()
    worker.submit(slow)
    assert entered.wait(5)
    worker.submit(_frame(2))
    elapsed = time.perf_counter() - started
    release.set()
    assert worker.flush(timeout=5)
    assert elapsed < 0.5
    assert worker.frames == 2


def test_flush_waits_for_the_last_submit(workers: list[DisplayWorker]) -> None:
    """After flush the panel shows the last picture submitted, and on_frame was told."""
    seen: list[int] = []
    sink = RecordingSink(delay=0.01)
    worker = DisplayWorker(sink, on_frame=lambda image: seen.append(image.info["number"]))
    workers.append(worker)
    for number in range(5):
        worker.submit(_frame(number))
    assert worker.flush(timeout=5)
    assert sink.numbers[-1] == 4
    assert seen == sink.numbers


def test_flush_with_nothing_submitted_returns_at_once(workers: list[DisplayWorker]) -> None:
    """Flushing an idle worker does not wait."""
    worker = DisplayWorker(RecordingSink())
    workers.append(worker)
    started = time.perf_counter()
    assert worker.flush(timeout=5)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("failures", "logged"),
    [
        ([OSError("spi gone")] * 3, ["OSError"]),
        (
            [OSError("spi"), ValueError("bad"), OSError("spi"), ValueError("bad")],
            ["OSError", "ValueError"],
        ),
        ([SystemExit("gpiodevice")], ["SystemExit"]),
    ],
)
def test_failing_sink_is_survived_and_logged_once_per_type(
    workers: list[DisplayWorker],
    caplog: pytest.LogCaptureFixture,
    failures: list[BaseException],
    logged: list[str],
) -> None:
    """Errors are counted, logged once per kind, and the next frame goes through."""
    sink = RecordingSink(failures=failures)
    worker = DisplayWorker(sink)
    workers.append(worker)
    with caplog.at_level(logging.DEBUG, logger=WORKER_LOGGER):
        for number in range(len(failures)):
            worker.submit(_frame(number))
            assert worker.flush(timeout=5)
        worker.submit(_frame(99))
        assert worker.flush(timeout=5)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [type(record.exc_info[1]).__name__ for record in errors if record.exc_info] == logged
    assert worker.errors == len(failures)
    assert worker.frames == 1
    assert sink.numbers == [99]


def test_failing_render_is_survived(
    workers: list[DisplayWorker], caplog: pytest.LogCaptureFixture
) -> None:
    """A render that raises costs one frame; the panel keeps the previous picture."""

    def broken() -> Image.Image:
        """Fail like a render with a bug."""
        raise KeyError("missing reading")

    sink = RecordingSink()
    worker = DisplayWorker(sink)
    workers.append(worker)
    for render in (_frame(1), broken, broken, _frame(2)):
        worker.submit(render)
        assert worker.flush(timeout=5)
    assert worker.errors == 2
    assert sink.numbers == [1, 2]
    assert len([record for record in caplog.records if record.levelno >= logging.ERROR]) == 1


def test_failing_frame_callback_does_not_stop_the_panel(workers: list[DisplayWorker]) -> None:
    """An on_frame callback that raises is counted; frames keep reaching the panel."""

    def callback(image: Image.Image) -> None:
        """Fail like a listener with a bug."""
        raise RuntimeError("listener broke")

    sink = RecordingSink()
    worker = DisplayWorker(sink, on_frame=callback)
    workers.append(worker)
    for number in range(3):
        worker.submit(_frame(number))
        assert worker.flush(timeout=5)
    assert sink.numbers == [0, 1, 2]
    assert worker.errors == 3


def _threads_named(name: str) -> list[threading.Thread]:
    """Return the live threads called ``name``."""
    return [thread for thread in threading.enumerate() if thread.name == name]


def test_stop_joins_the_thread_and_is_idempotent() -> None:
    """stop() ends the thread; again is harmless; later submits are dropped quietly."""
    sink = RecordingSink()
    worker = DisplayWorker(sink, name="qiot-display-test-stop")
    assert len(_threads_named("qiot-display-test-stop")) == 1
    assert worker.stop()
    assert _threads_named("qiot-display-test-stop") == []
    assert not worker.running
    assert worker.stop()
    worker.submit(_frame(1))
    assert worker.flush(timeout=0.1)
    assert sink.numbers == []


def test_stop_pushes_the_waiting_picture_first() -> None:
    """A picture submitted just before stop (say, the off screen) still reaches the panel."""
    sink = RecordingSink(delay=0.02)
    worker = DisplayWorker(sink)
    worker.submit(_frame(1))
    worker.submit(_frame(2))
    assert worker.stop(timeout=5)
    assert sink.numbers[-1] == 2


def test_stop_gives_up_on_a_hung_panel() -> None:
    """A sink stuck in a transfer makes stop() return False after its timeout, not hang."""
    sink = RecordingSink()
    sink.release.clear()
    worker = DisplayWorker(sink)
    worker.submit(_frame(1))
    assert not worker.stop(timeout=0.05)
    sink.release.set()
    assert worker.stop(timeout=5)
    assert sink.numbers == [1]
