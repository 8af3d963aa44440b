"""Tests for the text layout: what a message looks like on the 160x80 panel."""

import pytest
from PIL import Image, ImageChops, ImageDraw

from custom_components.qiot_enviro.display import EmptyMessageError, render_message
from custom_components.qiot_enviro.display.layout import (
    ELLIPSIS,
    MAX_SIZE,
    MIN_SIZE,
    Box,
    TextBlock,
    draw_line,
    fit_text,
    font,
    sanitize,
    text_width,
)

from .common import ink, ink_box, same

BODY = Box(2, 2, 156, 76)
BLACK = (0, 0, 0)
LONG = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)
# A missing glyph: Supplementary Private Use Area, in no font.
NO_GLYPH = "\U000f0000"


def _fits(block: TextBlock, box: Box) -> bool:
    """Tell whether every line is at most as wide as the box (heights: see the images)."""
    face = font(block.size)
    return bool(block.lines) and all(face.getlength(line) <= box.width for line in block.lines)


@pytest.mark.parametrize(
    "text",
    [
        "Hello",
        "Dinner is ready, come downstairs",
        LONG,
        "Donaudampfschifffahrtsgesellschaftskapitänsmütze",
        "x" * 300,
        "first line\nsecond line\n\nfourth after a blank",
    ],
)
def test_text_stays_inside_the_panel(text: str) -> None:
    """Whatever the message, nothing is drawn in the margin: no line runs off the panel."""
    image = render_message(text)
    box = ink_box(image, BLACK)
    assert box is not None
    left, top, right, bottom = box
    assert left >= 1
    assert top >= 1
    assert right <= 159
    assert bottom <= 79


def test_words_wrap_onto_lines_in_order() -> None:
    """A sentence too wide for one line wraps at spaces, keeping every word in order."""
    text = "Dinner is ready, please come downstairs now"
    block = fit_text(text, BODY, size=20)
    assert len(block.lines) > 1
    assert not block.truncated
    assert " ".join(" ".join(block.lines).split()) == text
    assert _fits(block, BODY)


def test_over_long_word_is_broken() -> None:
    """A word wider than the panel is split over lines instead of running off the edge."""
    word = "Donaudampfschifffahrtsgesellschaft"
    block = fit_text(word, BODY, size=24)
    assert len(block.lines) > 1
    assert "".join(block.lines) == word
    assert _fits(block, BODY)


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("Hi", "Hello there"),
        ("Door open", "The front door has been open for ten minutes"),
        ("Dinner", LONG[:150]),
    ],
)
def test_shorter_text_gets_a_larger_font(short: str, long: str) -> None:
    """Auto size: a short message is drawn larger than a long one."""
    assert fit_text(short, BODY).size > fit_text(long, BODY).size


@pytest.mark.parametrize(
    "text", ["Hi", "Door open", "Dinner is ready, come downstairs", LONG[:120]]
)
def test_auto_size_is_the_largest_that_fits(text: str) -> None:
    """The chosen size fits and one pixel more would not (or it is already the maximum)."""
    block = fit_text(text, BODY)
    assert not block.truncated
    assert _fits(block, BODY)
    if block.size < MAX_SIZE:
        assert fit_text(text, BODY, size=block.size + 1).truncated


def test_short_text_uses_the_room() -> None:
    """A single word fills a good part of the panel's height, not a corner of it."""
    box = ink_box(render_message("Hello"), BLACK)
    assert box is not None
    assert box[3] - box[1] >= 25


def test_text_that_cannot_fit_ends_with_an_ellipsis() -> None:
    """Too much text for the smallest size: cut, and the last visible line ends in "…"."""
    block = fit_text(LONG, BODY)
    assert block.truncated
    assert block.size == MIN_SIZE
    assert block.lines[-1].endswith(ELLIPSIS)
    assert _fits(block, BODY)
    # The lines shown are the start of the message.
    shown = " ".join(" ".join(block.lines).removesuffix(ELLIPSIS).split())
    assert LONG.startswith(shown)


def test_ellipsis_is_drawn() -> None:
    """The "…" shows on the panel: the truncated picture differs from the same lines without it."""
    block = fit_text(LONG, BODY)
    without = "\n".join([*block.lines[:-1], block.lines[-1].removesuffix(ELLIPSIS)])
    assert not same(render_message(LONG), render_message(without, size=block.size))


@pytest.mark.parametrize("size", [MIN_SIZE, 14, 24, MAX_SIZE])
def test_fixed_size_is_kept(size: int) -> None:
    """A fixed size is used as given, even when a larger one would fit."""
    block = fit_text("Hi", BODY, size=size)
    assert block.size == size
    assert not block.truncated


def test_fixed_size_changes_the_letters() -> None:
    """Larger fixed size, taller letters on the panel."""
    small = ink_box(render_message("Hi", size=12), BLACK)
    large = ink_box(render_message("Hi", size=30), BLACK)
    assert small is not None
    assert large is not None
    assert large[3] - large[1] > small[3] - small[1]


def test_fixed_size_too_large_for_the_text_truncates() -> None:
    """A fixed size that cannot hold the text cuts it with "…" rather than overflowing."""
    block = fit_text(LONG, BODY, size=20)
    assert block.truncated
    assert block.size == 20
    assert block.lines[-1].endswith(ELLIPSIS)


@pytest.mark.parametrize("size", [MIN_SIZE - 1, MAX_SIZE + 1, 0, -5])
def test_fixed_size_out_of_range_is_refused(size: int) -> None:
    """A size the panel cannot use is a clear ValueError."""
    with pytest.raises(ValueError, match="size"):
        render_message("Hi", size=size)


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("a\x00b\x07c", "abc"),
        ("tab\tseparated", "tab separated"),
        ("windows\r\nline\rends", "windows\nline\nends"),
        ("  lots   of \u00a0 space  ", "lots of space"),
        ("zero\u200bwidth\u200djoiner\ufeff", "zerowidthjoiner"),
        ("esc\x1b[31mred", "esc[31mred"),
        ("\n\n\ntop\n\n\n\nbottom\n\n", "top\n\nbottom"),
        ("lone \ud800 surrogate", "lone surrogate"),
    ],
)
def test_sanitize(dirty: str, clean: str) -> None:
    """Control characters go, line feeds break lines, whitespace is tidied."""
    assert sanitize(dirty) == clean


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [("Door\x07 open\x00", "Door open"), ("Door\topen\x1b", "Door open")],
)
def test_control_characters_draw_nothing(dirty: str, clean: str) -> None:
    """A message with control characters looks exactly like the message without them."""
    assert same(render_message(dirty), render_message(clean))


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t ", "\x00\x07", "\u200b\u200d", "\r\n"])
def test_empty_message_is_refused(text: str) -> None:
    """Nothing to show is an EmptyMessageError, which is a ValueError."""
    with pytest.raises(EmptyMessageError):
        render_message(text)
    with pytest.raises(ValueError, match="empty"):
        render_message(text)


@pytest.mark.parametrize("text", ["é", "Ærø", "ß", "ñ", "Ł", "Ş", "ő", "Ç", "e\u0301"])
def test_accented_letters_are_readable(text: str) -> None:
    """Accented Latin letters draw as letters, never as the font's missing-glyph box."""
    image = render_message(text, size=30)
    assert ink(image, BLACK) > 0
    assert not same(image, render_message(NO_GLYPH * len(sanitize(text)), size=30))


@pytest.mark.parametrize(
    "text",
    [
        "שלום עולם",
        "مرحبا بالعالم",
        "Temp 21° שלום",
        "你好\uff0c世界",  # with a fullwidth comma
        "こんにちは",
        "안녕하세요",
        "😀 👍🏽 🇩🇪 👨‍👩‍👧",
        "\U0001f600" * 40,
        NO_GLYPH,
    ],
)
def test_other_scripts_do_not_crash_and_draw_something(text: str) -> None:
    """Right-to-left, CJK and emoji text render (boxes where the font lacks glyphs)."""
    image = render_message(text)
    assert image.size == (160, 80)
    assert ink(image, BLACK) > 0


def test_layout_is_cached() -> None:
    """Laying out the same message twice returns the very same result object."""
    assert fit_text(LONG, BODY) is fit_text(LONG, BODY)


MIXED = "Wavy fjord: 23°C, «yT'Q%» … ok! \U000f0000"


@pytest.mark.parametrize("size", [MIN_SIZE, 11, 12, 17, 24, 33, MAX_SIZE, 60])
def test_cached_measuring_matches_pillow(size: int) -> None:
    """Line widths from cached character advances equal what Pillow measures."""
    for end in range(1, len(MIXED) + 1):
        assert text_width(MIXED[:end], size) == font(size).getlength(MIXED[:end])


@pytest.mark.parametrize("size", [MIN_SIZE, 11, 12, 17, 24, 33, MAX_SIZE, 60])
def test_cached_glyphs_draw_like_pillow(size: int) -> None:
    """Text drawn from cached glyphs looks like Pillow's own drawing (one level of 256 at most)."""
    ours = Image.new("RGB", (700, 80), (10, 20, 30))
    pillows = ours.copy()
    draw_line(ours, (3, 2), MIXED, size, (250, 200, 100))
    ImageDraw.Draw(pillows).text((3, 2), MIXED, font=font(size), fill=(250, 200, 100))
    difference = ImageChops.difference(ours, pillows).convert("L")
    assert difference.getextrema()[1] <= 1
    assert ink(ours, (10, 20, 30)) > 100
