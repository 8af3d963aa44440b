"""Tests for the screens: what a person sees on the panel for each kind of picture."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageDraw

from custom_components.qiot_enviro.display import (
    READINGS_PAGES,
    Readings,
    render_clock,
    render_message,
    render_off,
    render_readings,
    render_startup,
)
from custom_components.qiot_enviro.display.layout import Box, Weight, draw_block, fit_text

from .common import dominant, ink, same

BLACK = (0, 0, 0)
FULL = (0, 0, 160, 80)
TOP_BAND = (0, 0, 160, 16)
BOTTOM_BAND = (0, 64, 160, 80)
UPPER = (0, 0, 160, 58)
LOWER = (0, 60, 160, 80)
EPA = {
    "good": (0, 228, 0),
    "moderate": (255, 255, 0),
    "unhealthy_for_sensitive_groups": (255, 126, 0),
    "unhealthy": (255, 0, 0),
    "very_unhealthy": (143, 63, 151),
    "hazardous": (126, 0, 35),
}
READINGS = Readings(temperature=21.4, humidity=48.0, pm2_5=12.0, aqi=57, aqi_category="moderate")
PAGE_VALUE_BOX = (0, 18, 160, 60)


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(lambda: render_message("Hello"), id="message"),
        pytest.param(lambda: render_startup("0.1.0"), id="startup"),
        pytest.param(lambda: render_readings(2, READINGS), id="readings"),
        pytest.param(lambda: render_clock(datetime(2025, 1, 14, 9, 5, tzinfo=UTC)), id="clock"),
        pytest.param(render_off, id="off"),
    ],
)
def test_every_screen_is_a_full_rgb_frame(render: Callable[[], Image.Image]) -> None:
    """Every renderer gives what the panel takes: 160x80 RGB."""
    image = render()
    assert image.mode == "RGB"
    assert image.size == (160, 80)


@pytest.mark.parametrize(
    ("fg", "bg"),
    [((255, 255, 255), (0, 0, 0)), ((255, 200, 0), (0, 0, 90)), ((0, 0, 0), (255, 255, 255))],
)
def test_message_colours(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> None:
    """The message is drawn in the text colour on the background colour."""
    image = render_message("Door open", fg=fg, bg=bg)
    colors = {color for _, color in image.getcolors(maxcolors=160 * 80) or []}
    assert fg in colors
    assert dominant(image, FULL) == bg
    assert ink(image, bg) > 100


def test_title_is_a_band_above_the_text() -> None:
    """A title shows as a solid band in the text colour at the top, the text below it."""
    with_title = render_message("Dinner is ready", title="Kitchen")
    without = render_message("Dinner is ready")
    assert dominant(with_title, TOP_BAND) == (255, 255, 255)
    assert dominant(without, TOP_BAND) == BLACK
    # The title's letters are cut out of the band.
    assert ink(with_title, (255, 255, 255), TOP_BAND) > 20
    assert ink(with_title, BLACK, (0, 20, 160, 80)) > 100


def _title_band(title: str, weight: Weight) -> Image.Image:
    """Draw ``title`` on a white band as render_message does, in the given weight."""
    image = Image.new("RGB", (160, 80))
    ImageDraw.Draw(image).rectangle((0, 0, 159, 16), fill=(255, 255, 255))
    band = Box(2, 0, 156, 17)
    draw_block(image, fit_text(title, band, size=13, weight=weight), band, BLACK)
    return image.crop(TOP_BAND)


@pytest.mark.parametrize("title", ["Kitchen", "Météo à Besançon", "Ærøskøbing"])
def test_title_is_set_in_medium(title: str) -> None:
    """The title uses Roboto Medium, heavier than the body's Regular, accents and all."""
    band = render_message("Body", title=title).crop(TOP_BAND)
    assert same(band, _title_band(title, "medium"))
    assert not same(band, _title_band(title, "regular"))
    assert ink(band, (255, 255, 255)) > ink(_title_band(title, "regular"), (255, 255, 255))


def test_long_title_is_cut_not_wrapped() -> None:
    """A long title stays one line in its band; the body keeps its room."""
    short = render_message("Body", title="Kitchen")
    long = render_message("Body", title="Kitchen announcement for everybody in the house")
    assert same(short.crop((0, 18, 160, 80)), long.crop((0, 18, 160, 80)))
    assert not same(short.crop(TOP_BAND), long.crop(TOP_BAND))


def test_whitespace_title_is_no_title() -> None:
    """A blank title does not draw an empty band."""
    assert same(render_message("Body", title=" \n "), render_message("Body"))


def test_startup_shows_name_mark_and_version() -> None:
    """The startup screen has a mark on the left, text on the right, and the version."""
    image = render_startup("0.1.0")
    assert ink(image, BLACK, (0, 0, 48, 80)) > 100
    assert ink(image, BLACK, (50, 0, 160, 44)) > 100
    assert not same(image, render_startup("2.3.4"))
    assert not same(image, render_startup(""))


@pytest.mark.parametrize("page", range(READINGS_PAGES))
def test_readings_pages_rotate(page: int) -> None:
    """Page numbers wrap around, so a plain counter walks through the pages forever."""
    assert same(render_readings(page + READINGS_PAGES, READINGS), render_readings(page, READINGS))
    assert same(render_readings(page - READINGS_PAGES, READINGS), render_readings(page, READINGS))


def test_readings_pages_differ() -> None:
    """Each page shows something of its own."""
    pages = [render_readings(page, READINGS) for page in range(READINGS_PAGES)]
    for index, page in enumerate(pages):
        for other in pages[index + 1 :]:
            assert not same(page, other)


def _only(page: int, value: float) -> Readings:
    """Return readings with just the value that page ``page`` shows set to ``value``."""
    return (
        Readings(temperature=value),
        Readings(humidity=value),
        Readings(pm2_5=value),
    )[page]


@pytest.mark.parametrize(
    ("page", "first", "second"), [(0, 21.4, 23.9), (1, 48.0, 71.0), (2, 12.0, 88.0)]
)
def test_readings_page_shows_its_value(page: int, first: float, second: float) -> None:
    """A different value on a page changes the big value area of that page."""
    one = render_readings(page, _only(page, first))
    two = render_readings(page, _only(page, second))
    assert not same(one.crop(PAGE_VALUE_BOX), two.crop(PAGE_VALUE_BOX))


@pytest.mark.parametrize("page", range(READINGS_PAGES))
def test_missing_value_shows_dashes(page: int) -> None:
    """A missing (or not-a-number) value shows "--", not an empty page and not a number."""
    missing = render_readings(page, Readings())
    not_a_number = render_readings(page, _only(page, float("nan")))
    known = render_readings(page, _only(page, 20.0))
    assert same(missing, not_a_number)
    assert ink(missing, BLACK, PAGE_VALUE_BOX) > 20
    assert not same(missing.crop(PAGE_VALUE_BOX), known.crop(PAGE_VALUE_BOX))
    # "--" is a short, thin mark: much less ink than a number.
    assert ink(missing, BLACK, PAGE_VALUE_BOX) < ink(known, BLACK, PAGE_VALUE_BOX)


@pytest.mark.parametrize(("category", "color"), list(EPA.items()))
def test_pm_page_has_the_category_colour(category: str, color: tuple[int, int, int]) -> None:
    """The PM2.5 page carries the US EPA colour of the air-quality category, with text on it."""
    image = render_readings(2, Readings(pm2_5=30.0, aqi=90, aqi_category=category))
    assert dominant(image, BOTTOM_BAND) == color
    assert ink(image, color, BOTTOM_BAND) > 30


@pytest.mark.parametrize(
    "category", ["Moderate", "very unhealthy", "Unhealthy-For-Sensitive-Groups"]
)
def test_category_spelling_is_forgiving(category: str) -> None:
    """Category names in other spellings get the same colour as the integration's keys."""
    key = category.lower().replace(" ", "_").replace("-", "_")
    image = render_readings(2, Readings(pm2_5=30.0, aqi_category=category))
    assert dominant(image, BOTTOM_BAND) == EPA[key]


@pytest.mark.parametrize(
    ("aqi", "category"),
    [
        (0, "good"),
        (50, "good"),
        (51, "moderate"),
        (100, "moderate"),
        (101, "unhealthy_for_sensitive_groups"),
        (151, "unhealthy"),
        (201, "very_unhealthy"),
        (300, "very_unhealthy"),
        (301, "hazardous"),
        (500, "hazardous"),
    ],
)
def test_pm_page_colour_from_the_index_alone(aqi: int, category: str) -> None:
    """Without a category, the index's EPA band decides the colour."""
    image = render_readings(2, Readings(pm2_5=30.0, aqi=aqi))
    assert dominant(image, BOTTOM_BAND) == EPA[category]


def test_pm_page_without_air_quality_is_neutral() -> None:
    """No index and no category: the band is none of the EPA colours."""
    image = render_readings(2, Readings(pm2_5=30.0))
    assert dominant(image, BOTTOM_BAND) not in EPA.values()
    assert dominant(image, BOTTOM_BAND) != BLACK


def test_clock_changes_with_the_minute() -> None:
    """The big time changes from one minute to the next; the date line stays."""
    one = render_clock(datetime(2025, 1, 14, 9, 5, 10, tzinfo=UTC))
    two = render_clock(datetime(2025, 1, 14, 9, 6, 10, tzinfo=UTC))
    assert not same(one.crop(UPPER), two.crop(UPPER))
    assert same(one.crop(LOWER), two.crop(LOWER))


def test_clock_ignores_seconds() -> None:
    """Seconds are not shown, so the picture (and the SPI transfer) only changes per minute."""
    assert same(
        render_clock(datetime(2025, 1, 14, 9, 5, 0, tzinfo=UTC)),
        render_clock(datetime(2025, 1, 14, 9, 5, 59, tzinfo=UTC)),
    )


def test_clock_shows_the_date_small() -> None:
    """Another day changes only the small date line; the time is large above it."""
    one = render_clock(datetime(2025, 1, 14, 9, 5, tzinfo=UTC))
    two = render_clock(datetime(2025, 1, 15, 9, 5, tzinfo=UTC))
    assert same(one.crop(UPPER), two.crop(UPPER))
    assert not same(one.crop(LOWER), two.crop(LOWER))
    assert ink(one, BLACK, UPPER) > 3 * ink(one, BLACK, LOWER)


def test_off_is_black() -> None:
    """The off screen is entirely black."""
    assert render_off().getextrema() == ((0, 0), (0, 0), (0, 0))
