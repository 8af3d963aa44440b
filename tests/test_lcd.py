"""The LCD as a user sees it: the picture the emulated ST7735 rebuilds from the SPI bytes."""

import asyncio
import io
import time
from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryDisabler
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from PIL import Image, ImageChops
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.qiot_enviro.const import (
    BOARD_HARDWARE,
    BOARD_SIMULATED,
    BOARD_SIMULATED_ENVIRO,
    CONF_BOARD,
    CONF_IDLE_SCREEN,
    CONF_LEGACY_NOTIFY_NAME,
    CONF_STARTUP_MESSAGE,
    CONF_UART_PATH,
    DOMAIN,
)
from custom_components.qiot_enviro.display.screens import (
    Readings,
    render_clock,
    render_message,
    render_readings,
    render_startup,
)
from custom_components.qiot_enviro.enviro.emulator.board import EmulatedBoard
from custom_components.qiot_enviro.lcd import (
    IDLE_ROTATE_SECONDS,
    PREVIEW_IDLE_INTERVAL,
    LcdController,
)
from custom_components.qiot_enviro.notify import async_get_service

from .conftest import PINNED

RGB565_LUT = (
    [v & 0xF8 for v in range(256)] + [v & 0xFC for v in range(256)] + [v & 0xF8 for v in range(256)]
)
NOTIFY_ENTITY = "notify.enviro_simulated_lcd"
TAP_ENTITY = "event.enviro_simulated_proximity_tap"
BACKLIGHT = "switch.enviro_simulated_lcd_backlight"
PREVIEW = "image.enviro_simulated_lcd_preview"


def quantized(image: Image.Image) -> Image.Image:
    """Return what an RGB565 panel can show of an image (5/6/5 bits per channel)."""
    return image.convert("RGB").point(RGB565_LUT)


def same_picture(shown: Image.Image, expected: Image.Image) -> bool:
    """Tell whether the LCD shows the expected render (RGB565 rounding allowed)."""
    difference = ImageChops.difference(quantized(shown), quantized(expected))
    return max(high for _low, high in difference.getextrema()) <= 8


def lcd_of(entry: MockConfigEntry) -> LcdController:
    """Return the entry's LCD controller."""
    lcd = entry.runtime_data.lcd
    assert lcd is not None
    return lcd


def panel(entry: MockConfigEntry) -> EmulatedBoard:
    """Return the entry's emulated board."""
    simulator = entry.runtime_data.simulator
    assert simulator is not None
    return simulator


async def settle(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait until every queued frame and backlight change reached the emulated panel."""
    await hass.async_block_till_done()
    await hass.async_add_executor_job(lcd_of(entry).worker.flush, 10.0)
    await hass.async_block_till_done()


@pytest.fixture
def options() -> dict[str, Any]:
    """Return the entry options (no startup message, so actions show at once)."""
    return {CONF_STARTUP_MESSAGE: False}


@pytest.fixture
async def lcd_entry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, options: dict[str, Any]
) -> MockConfigEntry:
    """Set up a simulated Enviro+ with the given options."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options=options)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await settle(hass, mock_config_entry)
    return mock_config_entry


@pytest.mark.parametrize("options", [{}])
async def test_startup_message_then_readings(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The startup screen shows the version, then the readings pages take over."""
    version = lcd_entry.runtime_data.version or ""
    assert same_picture(panel(lcd_entry).lcd.picture(), render_startup(version))
    freezer.tick(6)
    async_fire_time_changed(hass)
    await settle(hass, lcd_entry)
    data = lcd_entry.runtime_data.data
    readings = Readings(
        temperature=data.temperature,
        humidity=data.humidity,
        pm2_5=PINNED["pm2_5"],
        aqi=data.air_quality_index,
        aqi_category="moderate",
    )
    assert same_picture(panel(lcd_entry).lcd.picture(), render_readings(0, readings))
    freezer.tick(5)
    async_fire_time_changed(hass)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_readings(1, readings))


async def test_legacy_notify_with_title_and_data(
    hass: HomeAssistant, lcd_entry: MockConfigEntry
) -> None:
    """notify.qiot_lcd draws the message with its title and colours."""
    await hass.services.async_call(
        "notify",
        "qiot_lcd",
        {
            "message": "Dinner is ready",
            "title": "Kitchen",
            "data": {"duration": 0, "color": [255, 255, 0], "background": "navy"},
        },
        blocking=True,
    )
    await settle(hass, lcd_entry)
    expected = render_message("Dinner is ready", title="Kitchen", fg=(255, 255, 0), bg=(0, 0, 128))
    assert same_picture(panel(lcd_entry).lcd.picture(), expected)


async def test_notify_entity_send_message(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """notify.send_message with a title draws both."""
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": NOTIFY_ENTITY, "message": "Window open", "title": "Bedroom"},
        blocking=True,
    )
    await settle(hass, lcd_entry)
    expected = render_message("Window open", title="Bedroom")
    assert same_picture(panel(lcd_entry).lcd.picture(), expected)
    state = hass.states.get(NOTIFY_ENTITY)
    assert state is not None
    assert state.state != "unknown"


async def show(hass: HomeAssistant, entry: MockConfigEntry, **fields: Any) -> None:
    """Call qiot_enviro.show_message for the entry."""
    await hass.services.async_call(
        DOMAIN,
        "show_message",
        {"config_entry_id": entry.entry_id, **fields},
        blocking=True,
    )


async def test_show_message_all_options(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """The action takes text and background colours and a fixed size."""
    await show(
        hass,
        lcd_entry,
        message="Fixed size text",
        title="Note",
        duration=0,
        color=[0, 0, 0],
        background=[255, 255, 255],
        size="20",
    )
    await settle(hass, lcd_entry)
    expected = render_message(
        "Fixed size text", title="Note", fg=(0, 0, 0), bg=(255, 255, 255), size=20
    )
    assert same_picture(panel(lcd_entry).lcd.picture(), expected)
    assert not same_picture(panel(lcd_entry).lcd.picture(), render_message("Fixed size text"))


@pytest.mark.parametrize(
    ("fields", "key", "field"),
    [
        ({"message": ""}, "empty_message", "message"),
        ({"message": "  \n\t "}, "empty_message", "message"),
        ({"message": "\x00\x01\x1b"}, "empty_message", "message"),
        ({"message": "x" * 1001}, "message_too_long", "message"),
        ({"message": 42}, "empty_message", "message"),
        ({"message": "hi", "title": ["a"]}, "invalid_title", "title"),
        ({"message": "hi", "duration": -1}, "invalid_duration", "duration"),
        ({"message": "hi", "duration": "soon"}, "invalid_duration", "duration"),
        ({"message": "hi", "duration": 10**9}, "invalid_duration", "duration"),
        ({"message": "hi", "color": [300, 0, 0]}, "invalid_color", "color"),
        ({"message": "hi", "color": "not-a-colour"}, "invalid_color", "color"),
        ({"message": "hi", "background": [1, 2]}, "invalid_color", "background"),
        ({"message": "hi", "size": "100"}, "invalid_size", "size"),
        ({"message": "hi", "size": "huge"}, "invalid_size", "size"),
    ],
)
async def test_show_message_rejects_bad_input(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, fields: dict[str, Any], key: str, field: str
) -> None:
    """Bad input gets a translated error that names the field, and the LCD is unchanged."""
    before = panel(lcd_entry).lcd.picture()
    with pytest.raises(ServiceValidationError) as err:
        await show(hass, lcd_entry, **fields)
    assert err.value.translation_key == key
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["field"] == field
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), before)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"blink": True}, "unknown_option"),
        ({"color": "nope"}, "invalid_color"),
    ],
)
async def test_legacy_notify_rejects_bad_data(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    """An unknown or invalid option in data is refused with a translated error."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "notify", "qiot_lcd", {"message": "hi", "data": data}, blocking=True
        )
    assert err.value.translation_key == key


@pytest.mark.parametrize(
    "text",
    [
        "Température élevée à Besançon",
        "שלום עולם",
        "مرحبا بالعالم",
        "空気の質が悪いです",
        "Party time 🎉🎈 now",
    ],
)
async def test_any_script_is_survived(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, text: str
) -> None:
    """Accents, right-to-left, CJK and emoji draw something and never crash the worker."""
    await show(hass, lcd_entry, message=text, duration=0)
    await settle(hass, lcd_entry)
    picture = panel(lcd_entry).lcd.picture()
    assert picture.getbbox() is not None
    assert lcd_of(lcd_entry).worker.errors == 0


async def test_control_characters_are_stripped(
    hass: HomeAssistant, lcd_entry: MockConfigEntry
) -> None:
    """Control characters in a message do not reach the screen."""
    await show(hass, lcd_entry, message="Hello\x07 \x1bWorld", duration=0)
    await settle(hass, lcd_entry)
    with_controls = panel(lcd_entry).lcd.picture()
    await show(hass, lcd_entry, message="Hello World", duration=0)
    await settle(hass, lcd_entry)
    assert same_picture(with_controls, panel(lcd_entry).lcd.picture())


async def test_message_times_out_to_idle(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A message with a duration goes back to the idle screen when it ends."""
    await show(hass, lcd_entry, message="Short", duration=5)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_message("Short"))
    freezer.tick(4)
    async_fire_time_changed(hass)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_message("Short"))
    freezer.tick(2)
    async_fire_time_changed(hass)
    await settle(hass, lcd_entry)
    assert not same_picture(panel(lcd_entry).lcd.picture(), render_message("Short"))
    assert lcd_of(lcd_entry).message is None


async def test_dismiss_action(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """dismiss_message ends a message that would stay until dismissed."""
    await show(hass, lcd_entry, message="Stays", duration=0)
    await settle(hass, lcd_entry)
    await hass.services.async_call(
        DOMAIN, "dismiss_message", {"config_entry_id": lcd_entry.entry_id}, blocking=True
    )
    await settle(hass, lcd_entry)
    assert lcd_of(lcd_entry).message is None
    assert not same_picture(panel(lcd_entry).lcd.picture(), render_message("Stays"))


@pytest.mark.parametrize("options", [{CONF_STARTUP_MESSAGE: False, CONF_IDLE_SCREEN: "clock"}])
async def test_clock_idle_screen(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, lcd_entry: MockConfigEntry
) -> None:
    """The clock idle screen shows the time and follows it minute by minute.

    The clock is frozen before the board is set up (fixture order), and then put in the
    middle of a minute: set up on a running clock near a minute's end, the first picture
    could be of the minute before the frozen one (it failed so once in CI).
    """
    now = dt_util.now().replace(second=30)
    freezer.move_to(now)
    async_fire_time_changed(hass, now)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_clock(now))
    later = now + timedelta(minutes=1, seconds=1)
    freezer.move_to(later)
    async_fire_time_changed(hass, later)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_clock(later))
    assert not same_picture(panel(lcd_entry).lcd.picture(), render_clock(now))


@pytest.mark.parametrize("options", [{CONF_STARTUP_MESSAGE: False, CONF_IDLE_SCREEN: "off"}])
async def test_off_idle_screen(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """The "off" idle screen switches the backlight off; a message switches it on."""
    assert not panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_OFF
    await show(hass, lcd_entry, message="Wake up", duration=0)
    await settle(hass, lcd_entry)
    assert panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_ON


async def test_backlight_switch(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """The backlight entity switches the panel's backlight line."""
    await hass.services.async_call("switch", "turn_off", {"entity_id": BACKLIGHT}, blocking=True)
    await settle(hass, lcd_entry)
    await hass.async_add_executor_job(time.sleep, 0.05)
    assert not panel(lcd_entry).lcd.backlight
    assert panel(lcd_entry).lcd.picture().getbbox() is None
    await hass.services.async_call("switch", "turn_on", {"entity_id": BACKLIGHT}, blocking=True)
    await settle(hass, lcd_entry)
    await hass.async_add_executor_job(time.sleep, 0.05)
    assert panel(lcd_entry).lcd.backlight


def backlight_switch(hass: HomeAssistant) -> str:
    """Return the state of the backlight switch entity."""
    state = hass.states.get(BACKLIGHT)
    assert state is not None
    return state.state


async def wait_for(hass: HomeAssistant, condition: Callable[[], bool]) -> bool:
    """Poll a condition for up to 3 s of real time (threads run in real time)."""
    for _ in range(60):
        if condition():
            return True
        await hass.async_add_executor_job(time.sleep, 0.05)
        await hass.async_block_till_done()
    return condition()


async def test_tap_dismisses_and_fires_event(
    hass: HomeAssistant, lcd_entry: MockConfigEntry
) -> None:
    """A hand over the sensor dismisses the message and fires the tap event once."""
    await show(hass, lcd_entry, message="Tap me", duration=0)
    await settle(hass, lcd_entry)
    events: list[str] = []
    lcd_of(lcd_entry).add_tap_listener(lambda: events.append("tap"))
    env = panel(lcd_entry).env
    env.set(proximity=1900)
    assert await wait_for(hass, lambda: bool(events))
    await hass.async_add_executor_job(time.sleep, 0.3)
    env.set(proximity=10)
    await hass.async_block_till_done()
    assert events == ["tap"]
    state = hass.states.get(TAP_ENTITY)
    assert state is not None
    assert state.attributes["event_type"] == "tap"
    assert lcd_of(lcd_entry).message is None


async def test_burst_of_calls_newest_wins(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """1,000 concurrent calls return, the last one is shown, and polling goes on."""
    coordinator = lcd_entry.runtime_data
    await asyncio.gather(
        *(show(hass, lcd_entry, message=f"Message {n}", duration=0) for n in range(1000))
    )
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_message("Message 999"))
    frames = lcd_of(lcd_entry).worker.frames
    assert frames < 1000
    before = len(coordinator.cycle_durations)
    freezer.tick(coordinator.update_interval)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(coordinator.cycle_durations) == before + 1
    assert coordinator.last_update_success


async def test_preview_image_shows_the_panel(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """The image entity serves what the emulated panel shows, and changes with it."""
    await show(hass, lcd_entry, message="Preview", duration=0)
    await settle(hass, lcd_entry)
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{PREVIEW}")
    assert response.status == HTTPStatus.OK
    picture = Image.open(io.BytesIO(await response.read()))
    assert picture.size == (160, 80)
    assert same_picture(picture.convert("RGB"), panel(lcd_entry).lcd.picture())
    assert same_picture(picture.convert("RGB"), render_message("Preview"))


async def test_spi_fault_is_survived(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """SPI errors fail frames quietly (logged once); the next message after recovery shows."""
    panel(lcd_entry).faults.spi_error()
    for n in range(3):
        await show(hass, lcd_entry, message=f"Lost {n}", duration=0)
        await settle(hass, lcd_entry)
    assert lcd_of(lcd_entry).worker.errors >= 1
    panel(lcd_entry).faults.clear()
    await show(hass, lcd_entry, message="Back", duration=0)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_message("Back"))


async def test_unload_turns_the_lcd_off(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """Unloading blanks the panel, switches the backlight off and removes notify.qiot_lcd."""
    simulator = panel(lcd_entry)
    await show(hass, lcd_entry, message="Bye", duration=0)
    await settle(hass, lcd_entry)
    assert await hass.config_entries.async_unload(lcd_entry.entry_id)
    await hass.async_block_till_done()
    assert not simulator.lcd.backlight
    assert simulator.lcd.picture().getbbox() is None
    assert not hass.services.has_service("notify", "qiot_lcd")
    with pytest.raises(ServiceValidationError) as err:
        await show(hass, lcd_entry, message="Nobody home")
    assert err.value.translation_key == "entry_not_loaded"


async def test_legacy_notify_survives_reload(
    hass: HomeAssistant, lcd_entry: MockConfigEntry
) -> None:
    """After a reload notify.qiot_lcd is there again and reaches the new board."""
    assert await hass.config_entries.async_reload(lcd_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "qiot_lcd")
    await hass.services.async_call("notify", "qiot_lcd", {"message": "Again"}, blocking=True)
    await settle(hass, lcd_entry)
    assert same_picture(panel(lcd_entry).lcd.picture(), render_message("Again"))


async def test_legacy_notify_service_of_a_gone_board(hass: HomeAssistant) -> None:
    """A legacy service whose board is gone refuses with a translated error."""
    assert await async_get_service(hass, {}, None) is None
    service = await async_get_service(hass, {}, {"entry_id": "gone", "name": "qiot_lcd"})
    assert service is not None
    service.hass = hass
    with pytest.raises(ServiceValidationError) as err:
        await service.async_send_message("hi")
    assert err.value.translation_key == "lcd_unavailable"


async def test_tap_on_idle_screen_shows_next_page(
    hass: HomeAssistant, lcd_entry: MockConfigEntry
) -> None:
    """A tap without a message moves to the next readings page and fires the event."""
    lcd = lcd_of(lcd_entry)
    page = lcd.idle_page
    lcd.tap()
    await settle(hass, lcd_entry)
    assert lcd.idle_page == (page + 1) % 3
    state = hass.states.get(TAP_ENTITY)
    assert state is not None
    assert state.attributes["event_type"] == "tap"


async def test_backlight_fault_is_survived(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """A board that cannot switch the backlight any more is logged, not raised."""
    board = lcd_entry.runtime_data.board
    await hass.async_add_executor_job(board.close)
    lcd_of(lcd_entry).set_backlight(False)
    assert await wait_for(hass, lambda: "Display backlight change failed" in caplog.text)
    assert not lcd_of(lcd_entry).available
    assert await hass.config_entries.async_reload(lcd_entry.entry_id)
    await settle(hass, lcd_entry)
    assert lcd_of(lcd_entry).available
    # The user's last choice (off) holds after the reload; switching on works again.
    assert not panel(lcd_entry).lcd.backlight
    await hass.services.async_call("switch", "turn_on", {"entity_id": BACKLIGHT}, blocking=True)
    await settle(hass, lcd_entry)
    assert panel(lcd_entry).lcd.backlight


async def test_lcd_on_real_hardware_path(hass: HomeAssistant, hardware: EmulatedBoard) -> None:
    """On a Pi (no emulator to ask) the preview is the frame that was sent."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+",
        data={CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: "/dev/ttyAMA0"},
        options={CONF_STARTUP_MESSAGE: False},
        unique_id=hardware.identity,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass, entry)
    assert entry.runtime_data.simulator is None
    await show(hass, entry, message="Real", duration=0)
    await settle(hass, entry)
    lcd = lcd_of(entry)
    assert lcd.preview is not None
    assert same_picture(Image.open(io.BytesIO(lcd.preview)).convert("RGB"), render_message("Real"))
    lcd.set_backlight(False)
    await settle(hass, entry)
    await hass.async_add_executor_job(time.sleep, 0.05)
    await hass.async_block_till_done()
    assert Image.open(io.BytesIO(lcd.preview)).getbbox() is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def count_writes(hass: HomeAssistant, entity_id: str) -> list[str]:
    """Return a list that collects the entity's state changes (new recorder states).

    Home Assistant itself rewrites an image entity's attributes when it rotates the
    access token (every 5 minutes); only changes of the state (the picture's time) are
    the integration's.
    """
    written: list[str] = []

    def collect(event: Any) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        changed = new is not None and (old is None or old.state != new.state)
        if event.data["entity_id"] == entity_id and changed:
            written.append(new.state)

    hass.bus.async_listen("state_changed", collect)
    return written


async def rotate(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    """Let Home Assistant's clock run, a rotation step at a time, frames reaching the panel."""
    for _ in range(int(seconds // IDLE_ROTATE_SECONDS)):
        freezer.tick(IDLE_ROTATE_SECONDS)
        async_fire_time_changed(hass)
        await settle(hass, entry)


async def test_backlight_stays_as_the_user_set_it(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Rotating readings never switch the backlight back on; a message does."""
    await hass.services.async_call("switch", "turn_off", {"entity_id": BACKLIGHT}, blocking=True)
    await settle(hass, lcd_entry)
    await rotate(hass, lcd_entry, freezer, 60)
    assert not panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_OFF
    await show(hass, lcd_entry, message="Look", duration=5)
    await settle(hass, lcd_entry)
    assert panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_ON


@pytest.mark.parametrize("options", [{CONF_STARTUP_MESSAGE: False, CONF_IDLE_SCREEN: "clock"}])
async def test_clock_does_not_switch_the_backlight_on(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The clock's minute redraw leaves a backlight the user switched off alone."""
    await hass.services.async_call("switch", "turn_off", {"entity_id": BACKLIGHT}, blocking=True)
    await settle(hass, lcd_entry)
    later = dt_util.now() + timedelta(minutes=2, seconds=1)
    freezer.move_to(later)
    async_fire_time_changed(hass, later)
    await settle(hass, lcd_entry)
    assert not panel(lcd_entry).lcd.backlight


async def test_quick_toggles_land_in_order(hass: HomeAssistant, lcd_entry: MockConfigEntry) -> None:
    """Off, on, off in a burst: the panel ends off, as the switch says."""
    lcd = lcd_of(lcd_entry)
    for _ in range(20):
        lcd.set_backlight(False)
        lcd.set_backlight(True)
    lcd.set_backlight(False)
    await settle(hass, lcd_entry)
    assert not panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_OFF


@pytest.mark.parametrize("options", [{CONF_STARTUP_MESSAGE: False, CONF_IDLE_SCREEN: "off"}])
async def test_off_idle_screen_and_the_switch(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """With the "off" idle screen a message lights the panel, its end darkens it again."""
    await show(hass, lcd_entry, message="Brief", duration=5)
    await settle(hass, lcd_entry)
    assert panel(lcd_entry).lcd.backlight
    freezer.tick(6)
    async_fire_time_changed(hass)
    await settle(hass, lcd_entry)
    assert not panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_OFF


async def test_backlight_choice_survives_a_restart(
    hass: HomeAssistant, lcd_entry: MockConfigEntry
) -> None:
    """Switched off, reloaded (as at a restart): it stays off."""
    await hass.services.async_call("switch", "turn_off", {"entity_id": BACKLIGHT}, blocking=True)
    await settle(hass, lcd_entry)
    assert await hass.config_entries.async_reload(lcd_entry.entry_id)
    await settle(hass, lcd_entry)
    assert not panel(lcd_entry).lcd.backlight
    assert backlight_switch(hass) == STATE_OFF


async def test_idle_rotation_writes_few_preview_states(
    hass: HomeAssistant, lcd_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Ten minutes of rotating readings write at most 3 preview states, not 120.

    A day would be at most 24 * 60 / 5 = 288 rows; a message still shows at once.
    """
    written = await count_writes(hass, PREVIEW)
    await rotate(hass, lcd_entry, freezer, 600)
    assert len(written) <= 600 / PREVIEW_IDLE_INTERVAL.total_seconds() + 1
    before = len(written)
    freezer.tick(1)
    await show(hass, lcd_entry, message="News", duration=0)
    await settle(hass, lcd_entry)
    assert await wait_for(hass, lambda: len(written) > before)
    preview = lcd_of(lcd_entry).preview
    assert preview is not None
    assert same_picture(Image.open(io.BytesIO(preview)).convert("RGB"), render_message("News"))


async def test_late_tap_after_unload_starts_nothing(
    hass: HomeAssistant,
    lcd_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tap the proximity thread handed over just before unload does nothing afterwards."""
    lcd = lcd_of(lcd_entry)
    simulator = panel(lcd_entry)
    assert await hass.config_entries.async_unload(lcd_entry.entry_id)
    await hass.async_block_till_done()
    # What the watcher thread does for a tap it saw just before it was stopped.
    await hass.async_add_executor_job(lcd._tap_from_thread)
    await hass.async_block_till_done()
    for _ in range(5):
        freezer.tick(IDLE_ROTATE_SECONDS)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert lcd._idle_timer is None
    assert lcd._message_timer is None
    assert not simulator.lcd.backlight
    assert "backlight" not in caplog.text.lower()


async def test_legacy_names_are_stable(
    hass: HomeAssistant, simulators: list[EmulatedBoard]
) -> None:
    """notify.qiot_lcd_2 stays the second board's, whatever happens to the first."""
    first = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+ (simulated)",
        data={CONF_BOARD: BOARD_SIMULATED, CONF_UART_PATH: "/dev/ttyAMA0"},
        options={CONF_STARTUP_MESSAGE: False},
        unique_id="sim-0000000000000001",
    )
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro (simulated)",
        data={CONF_BOARD: BOARD_SIMULATED_ENVIRO, CONF_UART_PATH: "/dev/ttyAMA0"},
        options={CONF_STARTUP_MESSAGE: False},
        unique_id="sim-0000000000000002",
    )
    for entry in (first, second):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert first.data[CONF_LEGACY_NOTIFY_NAME] == "qiot_lcd"
    assert second.data[CONF_LEGACY_NOTIFY_NAME] == "qiot_lcd_2"
    assert hass.services.has_service("notify", "qiot_lcd")
    assert hass.services.has_service("notify", "qiot_lcd_2")

    # The first board disabled: the second keeps its name, the first's goes away.
    await hass.config_entries.async_set_disabled_by(first.entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done()
    assert not hass.services.has_service("notify", "qiot_lcd")
    assert await hass.config_entries.async_reload(second.entry_id)
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "qiot_lcd_2")
    assert not hass.services.has_service("notify", "qiot_lcd")
    await hass.services.async_call("notify", "qiot_lcd_2", {"message": "Second"}, blocking=True)
    await settle(hass, second)
    assert same_picture(panel(second).lcd.picture(), render_message("Second"))

    # Enabled again: the first board gets its own name back, reaching its own LCD.
    await hass.config_entries.async_set_disabled_by(first.entry_id, None)
    await hass.async_block_till_done()
    assert hass.services.has_service("notify", "qiot_lcd")
    await hass.services.async_call("notify", "qiot_lcd", {"message": "First"}, blocking=True)
    await settle(hass, first)
    assert same_picture(panel(first).lcd.picture(), render_message("First"))

    # Deleted: its name is gone, the second board's is untouched.
    assert await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service("notify", "qiot_lcd")
    assert second.data[CONF_LEGACY_NOTIFY_NAME] == "qiot_lcd_2"
    assert hass.services.has_service("notify", "qiot_lcd_2")


async def test_entries_from_before_stored_names_keep_theirs(hass: HomeAssistant) -> None:
    """Entries made by 0.1 (no stored name) get the name their position gave them."""
    first = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro+ (simulated)",
        data={CONF_BOARD: BOARD_SIMULATED, CONF_UART_PATH: "/dev/ttyAMA0"},
        unique_id="sim-0000000000000001",
        minor_version=1,
    )
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Enviro (simulated)",
        data={CONF_BOARD: BOARD_SIMULATED_ENVIRO, CONF_UART_PATH: "/dev/ttyAMA0"},
        unique_id="sim-0000000000000002",
        minor_version=1,
    )
    # Added in the opposite order of creation: the order of creation decides.
    second.add_to_hass(hass)
    first.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)  # sets up both
    await hass.async_block_till_done()
    assert first.minor_version == second.minor_version == 2
    assert first.data[CONF_LEGACY_NOTIFY_NAME] == "qiot_lcd"
    assert second.data[CONF_LEGACY_NOTIFY_NAME] == "qiot_lcd_2"
