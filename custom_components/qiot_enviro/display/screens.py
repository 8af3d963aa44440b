"""Screens for the Enviro+ LCD: each renderer returns a fresh 160x80 RGB image."""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from PIL import Image, ImageDraw

from .layout import (
    HEIGHT,
    MARGIN,
    MAX_SIZE,
    MIN_SIZE,
    WIDTH,
    Box,
    Color,
    Weight,
    draw_block,
    fit_text,
    sanitize,
)

WHITE: Final[Color] = (255, 255, 255)
BLACK: Final[Color] = (0, 0, 0)
GREY: Final[Color] = (150, 150, 150)
DIM: Final[Color] = (70, 70, 70)
ACCENT: Final[Color] = (0, 180, 170)
MISSING: Final = "--"
READINGS_PAGES: Final = 3

# US EPA AQI colours, keyed like the integration's AirQualityCategory values.
AQI_COLORS: Final[dict[str, Color]] = {
    "good": (0, 228, 0),
    "moderate": (255, 255, 0),
    "unhealthy_for_sensitive_groups": (255, 126, 0),
    "unhealthy": (255, 0, 0),
    "very_unhealthy": (143, 63, 151),
    "hazardous": (126, 0, 35),
}
_AQI_LABELS: Final = {
    "good": "Good",
    "moderate": "Moderate",
    "unhealthy_for_sensitive_groups": "Unhealthy (sensitive)",
    "unhealthy": "Unhealthy",
    "very_unhealthy": "Very unhealthy",
    "hazardous": "Hazardous",
}
# Upper AQI bound of each category, for readings that carry an index but no category.
_AQI_TOPS: Final = (
    (50, "good"),
    (100, "moderate"),
    (150, "unhealthy_for_sensitive_groups"),
    (200, "unhealthy"),
    (300, "very_unhealthy"),
)
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_FULL: Final = Box(MARGIN, MARGIN, WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN)
_TITLE_BAND: Final = 17
_TITLE_SIZE: Final = 13
# Headings in Roboto Medium: they read as headings, yet stay open at 13 px on the band.
_TITLE_WEIGHT: Final[Weight] = "medium"
_HEADER: Final = Box(MARGIN, 0, WIDTH - 2 * MARGIN - 22, 15)
_FOOTER_TOP: Final = HEIGHT - 18


@dataclass(frozen=True, slots=True, kw_only=True)
class Readings:
    """The values the readings pages show; None (or NaN) shows as "--"."""

    temperature: float | None = None
    humidity: float | None = None
    pm2_5: float | None = None
    aqi: int | None = None
    aqi_category: str | None = None


def _canvas(bg: Color = BLACK) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """Return a blank frame and a drawing context on it."""
    image = Image.new("RGB", (WIDTH, HEIGHT), bg)
    return image, ImageDraw.Draw(image)


def _text(
    image: Image.Image,
    text: str,
    box: Box,
    fill: Color,
    *,
    max_size: int = MAX_SIZE,
    min_size: int = MIN_SIZE,
    align: Literal["left", "center", "right"] = "center",
) -> None:
    """Draw ``text`` auto-sized into ``box``."""
    block = fit_text(text, box, min_size=min_size, max_size=max_size)
    draw_block(image, block, box, fill, align=align)


def _contrast(color: Color) -> Color:
    """Return black or white, whichever reads better on ``color``."""
    red, green, blue = color
    # Rec. 601 luma: yellow and green want black text, red, purple and maroon white.
    return BLACK if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else WHITE


def render_message(
    text: str,
    *,
    title: str | None = None,
    fg: Color = WHITE,
    bg: Color = BLACK,
    size: int | None = None,
) -> Image.Image:
    """Render a message, auto-sized unless ``size`` is given, under an optional title.

    The title is one line of Roboto Medium on a band in the text colour (so it reads
    as a heading at a glance), cut with "…" when too long. Raises EmptyMessageError
    for an empty message and ValueError for a size outside MIN_SIZE..MAX_SIZE.
    """
    if size is not None and not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {size}")
    image, draw = _canvas(bg)
    body = _FULL
    heading = sanitize(title).replace("\n", " ") if title is not None else ""
    if heading:
        draw.rectangle((0, 0, WIDTH - 1, _TITLE_BAND - 1), fill=fg)
        band = Box(MARGIN, 0, WIDTH - 2 * MARGIN, _TITLE_BAND)
        block = fit_text(heading, band, size=_TITLE_SIZE, weight=_TITLE_WEIGHT)
        draw_block(image, block, band, bg)
        body = Box(
            MARGIN, _TITLE_BAND + MARGIN, WIDTH - 2 * MARGIN, HEIGHT - _TITLE_BAND - 2 * MARGIN
        )
    draw_block(image, fit_text(text, body, size=size), body, fg)
    return image


def render_startup(version: str) -> Image.Image:
    """Render the startup screen: a ring mark, "QIoT Enviro" and the version."""
    image, draw = _canvas()
    # The mark: a ring with a tail, a "Q" in the accent colour, in the left square.
    draw.ellipse((8, 22, 42, 56), outline=ACCENT, width=4)
    draw.line((32, 46, 44, 60), fill=ACCENT, width=5)
    draw.ellipse((21, 35, 29, 43), fill=WHITE)
    _text(image, "QIoT Enviro", Box(50, 14, WIDTH - 50 - MARGIN, 30), WHITE, max_size=24)
    label = sanitize(version)
    if label:
        label = f"v{label}" if label[0].isdigit() else label
        _text(image, label, Box(50, 46, WIDTH - 50 - MARGIN, 18), GREY, max_size=14)
    return image


def _format(value: float | None, spec: str, unit: str = "") -> str:
    """Format a reading with its unit, or "--" when it is missing or not a number."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:{spec}}{unit}"


def _category(readings: Readings) -> str | None:
    """Return the AQI category key: the one given, else the one the index falls in."""
    if readings.aqi_category:
        key = readings.aqi_category.strip().lower().replace(" ", "_").replace("-", "_")
        if key in AQI_COLORS:
            return key
    if readings.aqi is None:
        return None
    for top, key in _AQI_TOPS:
        if readings.aqi <= top:
            return key
    return "hazardous"


def _header(image: Image.Image, draw: ImageDraw.ImageDraw, label: str, page: int) -> None:
    """Draw the page label and one dot per page, the current one lit."""
    _text(image, label, _HEADER, GREY, max_size=12, align="left")
    for index in range(READINGS_PAGES):
        x = WIDTH - MARGIN - 6 - (READINGS_PAGES - 1 - index) * 7
        draw.ellipse((x, 5, x + 4, 9), fill=WHITE if index == page else DIM)


def render_readings(page: int, readings: Readings) -> Image.Image:
    """Render readings page ``page`` (taken modulo READINGS_PAGES, so a counter works).

    Page 0 shows the temperature, page 1 the humidity, page 2 PM2.5 with a footer in
    the US EPA colour of the air-quality category.
    """
    page %= READINGS_PAGES
    image, draw = _canvas()
    value_box = Box(MARGIN, 16, WIDTH - 2 * MARGIN, HEIGHT - 16 - MARGIN)
    if page == 0:
        _header(image, draw, "Temperature", page)
        value = _format(readings.temperature, ".1f", "°C")
    elif page == 1:
        _header(image, draw, "Humidity", page)
        value = _format(readings.humidity, ".0f", "%")
    else:
        _header(image, draw, "PM2.5 µg/m³", page)
        pm2_5 = readings.pm2_5
        # A tenth matters in clean air; above 10 µg/m³ it is sensor noise.
        value = _format(pm2_5, ".1f" if pm2_5 is not None and abs(pm2_5) < 10 else ".0f")
        value_box = Box(MARGIN, 16, WIDTH - 2 * MARGIN, _FOOTER_TOP - 16 - 1)
        category = _category(readings)
        band = AQI_COLORS[category] if category else DIM
        draw.rectangle((0, _FOOTER_TOP, WIDTH - 1, HEIGHT - 1), fill=band)
        index = MISSING if readings.aqi is None else str(readings.aqi)
        label = f"AQI {index}" + (f" · {_AQI_LABELS[category]}" if category else "")
        footer = Box(MARGIN, _FOOTER_TOP, WIDTH - 2 * MARGIN, HEIGHT - _FOOTER_TOP)
        _text(image, label, footer, _contrast(band), max_size=13)
    _text(image, value, value_box, WHITE)
    return image


def render_clock(now: datetime) -> Image.Image:
    """Render the time as HH:MM (24 h), large, over the date (weekday and ISO date)."""
    image = _canvas()[0]
    _text(image, f"{now:%H:%M}", Box(MARGIN, MARGIN, WIDTH - 2 * MARGIN, 56), WHITE, max_size=60)
    date = f"{_WEEKDAYS[now.weekday()]} {now:%Y-%m-%d}"
    _text(image, date, Box(MARGIN, 60, WIDTH - 2 * MARGIN, 18), GREY, max_size=14)
    return image


def render_off() -> Image.Image:
    """Render an all-black frame, for a panel that should look switched off."""
    return _canvas()[0]
