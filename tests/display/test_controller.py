"""The display controller on a manual clock, driving an emulated Enviro+ panel.

The clock only moves when a test advances it; the display thread and the proximity
watcher run for real on the emulated board (SPI, GPIO and I2C at the bus level), and
what they hand back to the controller's thread is run when the test says so.
"""

import asyncio
import io
import itertools
import queue
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image, ImageChops

from custom_components.qiot_enviro.display.controller import (
    IDLE_CLOCK,
    IDLE_OFF,
    IDLE_ROTATE_SECONDS,
    PREVIEW_IDLE_INTERVAL,
    STARTUP_SECONDS,
    DisplayController,
    LoopScheduler,
    Message,
)
from custom_components.qiot_enviro.display.screens import (
    Readings,
    render_clock,
    render_message,
    render_readings,
    render_startup,
)
from custom_components.qiot_enviro.enviro.board import Board
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard, create_simulated
from tests.hardware.common import FRAME_INTERVAL, PINNED, POWER_UP_DELAY

READINGS = Readings(temperature=21.5, humidity=47.0, pm2_5=8.0, aqi=33, aqi_category="good")
START = datetime(2026, 5, 4, 12, 0, 30, tzinfo=UTC)
RGB565_LUT = (
    [v & 0xF8 for v in range(256)] + [v & 0xFC for v in range(256)] + [v & 0xF8 for v in range(256)]
)


@dataclass
class _Timer:
    """One pending call_later."""

    when: datetime
    order: int
    action: Callable[[], None]
    cancelled: bool = False


@dataclass
class ManualClock:
    """A scheduler whose time only moves in :meth:`advance`; hand-offs run in :meth:`run_handed`."""

    time: datetime = START
    timers: list[_Timer] = field(default_factory=list)
    minute_actions: list[Callable[[], None]] = field(default_factory=list)
    handed: queue.SimpleQueue[Callable[[], None]] = field(default_factory=queue.SimpleQueue)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def now(self) -> datetime:
        """Return the manual time."""
        return self.time

    def call_later(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        """Remember a timer."""
        timer = _Timer(self.time + timedelta(seconds=delay), next(self._order), action)
        self.timers.append(timer)

        def cancel() -> None:
            timer.cancelled = True

        return cancel

    def every_minute(self, action: Callable[[], None]) -> Callable[[], None]:
        """Remember a minute tick."""
        self.minute_actions.append(action)
        return lambda: self.minute_actions.remove(action)

    def call_soon_threadsafe(self, action: Callable[[], None]) -> None:
        """Queue a hand-off from another thread."""
        self.handed.put(action)

    def run_handed(self) -> int:
        """Run what other threads handed over; return how many."""
        count = 0
        while not self.handed.empty():
            self.handed.get()()
            count += 1
        return count

    def pending(self) -> list[_Timer]:
        """Return the timers still to fire."""
        return [timer for timer in self.timers if not timer.cancelled]

    def advance(self, seconds: float) -> None:
        """Move the time on, firing timers and minute ticks in order as they fall due."""
        end = self.time + timedelta(seconds=seconds)
        while True:
            minute = self.time.replace(second=0, microsecond=0) + timedelta(minutes=1)
            due = sorted(
                (t for t in self.pending() if t.when <= end), key=lambda t: (t.when, t.order)
            )
            if due and due[0].when < minute:
                timer = due[0]
                self.time = max(self.time, timer.when)
                timer.cancelled = True
                timer.action()
            elif minute <= end:
                self.time = minute
                for action in list(self.minute_actions):
                    action()
            else:
                break
        self.time = end


@pytest.fixture
def sim() -> EmulatedBoard:
    """Return an emulated Enviro+ in a pinned room (no hand over the sensor)."""
    board = create_simulated(seed=7, frame_interval=FRAME_INTERVAL, power_up_delay=POWER_UP_DELAY)
    board.env.set(**PINNED)
    return board


@pytest.fixture
def board(sim: EmulatedBoard) -> Generator[Board]:
    """Yield the real board code on the emulated buses, opened."""
    opened = Board(sim.provider, particulate_warmup=0.0)
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def clock() -> ManualClock:
    """Return the manual clock."""
    return ManualClock()


@pytest.fixture
def make(
    board: Board, sim: EmulatedBoard, clock: ManualClock
) -> Generator[Callable[..., DisplayController]]:
    """Return a factory of started controllers on the board; all closed after the test."""
    made: list[DisplayController] = []

    def factory(**options: Any) -> DisplayController:
        options.setdefault("startup_message", False)
        options.setdefault("readings", lambda: READINGS)
        controller = DisplayController(
            board.show_image,
            board.set_backlight,
            clock,
            read_proximity=board.read_proximity,
            panel_picture=sim.lcd.picture,
            **options,
        )
        made.append(controller)
        controller.start()
        settle(controller, clock)
        return controller

    yield factory
    for controller in made:
        controller.stop()
        controller.close()


def settle(controller: DisplayController, clock: ManualClock) -> None:
    """Wait until every asked-for frame reached the panel; run what the display thread handed back."""
    assert controller.worker.flush(5.0)
    clock.run_handed()


def shows(picture: Image.Image, expected: Image.Image) -> bool:
    """Tell whether a panel picture is the expected render (RGB565 rounding allowed)."""
    shown = picture.convert("RGB").point(RGB565_LUT)
    wanted = expected.convert("RGB").point(RGB565_LUT)
    difference = ImageChops.difference(shown, wanted)
    return max(high for _low, high in difference.getextrema()) <= 8


def wait_for_taps(clock: ManualClock, taps: list[str], count: int) -> None:
    """Run hand-offs (in real time: the watcher is a thread) until ``count`` taps were seen."""
    deadline = time.monotonic() + 5.0
    while len(taps) < count and time.monotonic() < deadline:
        clock.run_handed()
        time.sleep(0.02)
    assert len(taps) == count


def test_startup_screen_then_readings_rotate_every_5_s(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """The startup screen with the version, then the three readings pages in turn."""
    controller = make(startup_message=True, version="1.2.3")
    assert shows(sim.lcd.picture(), render_startup("1.2.3"))
    clock.advance(STARTUP_SECONDS)
    settle(controller, clock)
    assert shows(sim.lcd.picture(), render_readings(0, READINGS))
    for page in (1, 2, 0):
        clock.advance(IDLE_ROTATE_SECONDS)
        settle(controller, clock)
        assert controller.idle_page == page
        assert shows(sim.lcd.picture(), render_readings(page, READINGS))


def test_message_with_duration_ends_and_returns_to_idle(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """A message stays for its duration (no rotation meanwhile), then the idle screen is back."""
    controller = make()
    controller.show(Message("Hello", duration=10))
    settle(controller, clock)
    assert shows(sim.lcd.picture(), render_message("Hello"))
    clock.advance(9)
    settle(controller, clock)
    assert shows(sim.lcd.picture(), render_message("Hello"))
    assert controller.message == Message("Hello", duration=10)
    clock.advance(2)
    settle(controller, clock)
    assert controller.message is None
    assert shows(sim.lcd.picture(), render_readings(0, READINGS))


def test_set_readings_redraws_the_page_on_show(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """Readings pushed in (as the agent gets them) show at once, without a restart of the rotation."""
    controller = make(readings=None)
    assert shows(sim.lcd.picture(), render_readings(0, Readings()))
    clock.advance(2)
    controller.set_readings(READINGS)
    settle(controller, clock)
    assert shows(sim.lcd.picture(), render_readings(0, READINGS))
    clock.advance(IDLE_ROTATE_SECONDS - 2)
    settle(controller, clock)
    assert shows(sim.lcd.picture(), render_readings(1, READINGS))


def test_clock_is_redrawn_when_the_minute_changes(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """The clock screen shows the time, is not redrawn within the minute, and follows it."""
    controller = make(idle_screen=IDLE_CLOCK)
    assert shows(sim.lcd.picture(), render_clock(START))
    frames = controller.worker.frames
    clock.advance(20)
    settle(controller, clock)
    assert controller.worker.frames == frames
    clock.advance(15)
    settle(controller, clock)
    later = START + timedelta(seconds=35)
    assert later.minute == START.minute + 1
    assert shows(sim.lcd.picture(), render_clock(later))
    assert not shows(sim.lcd.picture(), render_clock(START))


def test_off_idle_screen_switches_the_backlight_off(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """Idle "off" darkens the panel; a message lights it; its end darkens it again."""
    controller = make(idle_screen=IDLE_OFF)
    switched: list[bool] = []
    controller.add_backlight_listener(lambda: switched.append(controller.backlight))
    assert not controller.backlight
    assert not sim.lcd.backlight
    controller.show(Message("Wake up", duration=5))
    settle(controller, clock)
    assert sim.lcd.backlight
    clock.advance(6)
    settle(controller, clock)
    assert not sim.lcd.backlight
    assert switched == [True, False]


def test_tap_dismisses_then_rotates(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """A hand over the sensor dismisses the message; the next one shows the next page."""
    controller = make()
    taps: list[str] = []
    controller.add_tap_listener(lambda: taps.append("tap"))
    controller.show(Message("Tap me"))
    settle(controller, clock)
    sim.env.set(proximity=1900)
    wait_for_taps(clock, taps, 1)
    sim.env.set(proximity=10)
    settle(controller, clock)
    assert controller.message is None
    assert shows(sim.lcd.picture(), render_readings(0, READINGS))
    time.sleep(0.3)  # the hand goes away: the detector re-arms
    sim.env.set(proximity=1900)
    wait_for_taps(clock, taps, 2)
    sim.env.set(proximity=10)
    settle(controller, clock)
    assert controller.idle_page == 1
    assert shows(sim.lcd.picture(), render_readings(1, READINGS))


def test_stopped_controller_ignores_late_taps_and_timers(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """After stop nothing runs: a tap handed over late and due timers do nothing."""
    controller = make()
    taps: list[str] = []
    controller.add_tap_listener(lambda: taps.append("tap"))
    controller.show(Message("Bye", duration=5))
    settle(controller, clock)
    controller.stop()
    controller.tap_from_thread()  # what the watcher thread does for a tap seen just before
    clock.run_handed()
    clock.advance(120)
    controller.close()
    clock.run_handed()
    assert taps == []
    assert clock.pending() == []
    assert clock.minute_actions == []
    assert controller.message_timer is None
    assert controller.idle_timer is None
    assert not controller.available
    assert not sim.lcd.backlight
    assert sim.lcd.picture().getbbox() is None


def test_preview_throttles_idle_refreshes_not_what_a_user_did(
    make: Callable[..., DisplayController], clock: ManualClock
) -> None:
    """Ten minutes of rotation tell the preview at most thrice; frame listeners hear every page."""
    controller = make()
    previews: list[bytes | None] = []
    frames: list[tuple[bytes, bool]] = []
    controller.add_preview_listener(lambda: previews.append(controller.preview))
    controller.add_frame_listener(lambda png, urgent: frames.append((png, urgent)))
    for _ in range(int(600 / IDLE_ROTATE_SECONDS)):
        clock.advance(IDLE_ROTATE_SECONDS)
        settle(controller, clock)
    assert len(previews) <= 600 / PREVIEW_IDLE_INTERVAL.total_seconds() + 1
    assert len(frames) == 600 / IDLE_ROTATE_SECONDS
    assert not any(urgent for _png, urgent in frames)
    told = len(previews)
    clock.advance(1)
    controller.show(Message("News"))
    settle(controller, clock)
    assert len(previews) == told + 1
    assert frames[-1][1]
    assert controller.preview_updated == START + timedelta(seconds=601)
    assert controller.preview is not None
    preview = Image.open(io.BytesIO(controller.preview))
    assert shows(preview, render_message("News"))


def test_configure_changes_the_idle_screen(
    make: Callable[..., DisplayController], sim: EmulatedBoard, clock: ManualClock
) -> None:
    """New settings: the new idle screen shows at once; the rotation stops for the clock."""
    controller = make()
    controller.configure(idle_screen=IDLE_CLOCK, startup_message=True, tap_threshold=900)
    settle(controller, clock)
    assert shows(sim.lcd.picture(), render_clock(START))
    assert controller.idle_timer is None
    assert controller.tap_threshold == 900
    assert controller.startup_message


async def test_loop_scheduler_runs_cancels_and_hands_over() -> None:
    """The agent's scheduler: timers run and cancel, the minute tick is pending, threads hand over."""
    scheduler = LoopScheduler(asyncio.get_running_loop())
    ran: list[str] = []
    scheduler.call_later(0.01, lambda: ran.append("timer"))
    scheduler.call_later(0.01, lambda: ran.append("cancelled"))()
    stop_minute = scheduler.every_minute(lambda: ran.append("minute"))
    await asyncio.to_thread(scheduler.call_soon_threadsafe, lambda: ran.append("handed"))
    await asyncio.sleep(0.05)
    stop_minute()
    assert sorted(ran) == ["handed", "timer"]
    assert scheduler.now().tzinfo is not None
