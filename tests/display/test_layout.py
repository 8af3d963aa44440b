"""Tests for the text layout: what a message looks like on the 160x80 panel."""

import logging
import sys
import unicodedata
from collections.abc import Callable, Generator

import font_roboto
import pytest
from PIL import Image, ImageChops, ImageDraw

from custom_components.qiot_enviro.display import EmptyMessageError, render_message
from custom_components.qiot_enviro.display.layout import (
    ELLIPSIS,
    MAX_SIZE,
    MIN_SIZE,
    Box,
    TextBlock,
    Weight,
    draw_line,
    fit_text,
    fold,
    font,
    has_glyph,
    reset_caches,
    sanitize,
    text_width,
)

from .common import ink, ink_box, same

BODY = Box(2, 2, 156, 76)
BLACK = (0, 0, 0)
LONG = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)
# A missing glyph: Supplementary Private Use Area, in no font.
NO_GLYPH = "\U000f0000"
LAYOUT_LOGGER = "custom_components.qiot_enviro.display.layout"
GREEK = "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ αβγδεζηθικλμνξοπρστυφχψω ς άέήίόύώ ΆΈΉΊΌΎΏ ϊϋΐΰ"
CYRILLIC = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ абвгдеёжзийклмнопрстуфхцчшщъыьэюя ЄІЇҐєіїґЎўЂђ"
ACCENTED_PHRASES = (
    "Température élevée à Besançon",
    "Ærøskøbing",
    "Größe µg/m³",
    "Łódź, Kraków, Gdańsk",
    "Čeština, Şişli, Dvořák, Ørsted, Þórshöfn, Ålesund",
    "Việt Nam: Hà Nội, Đà Nẵng",
)


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
        "ÉTÉ",
        "ÅÉÎ ÕÜ Ç Ţ\nĘ Į Ų",
        "Ấp Ỷ Ẫ\nQuý ngày",
        *ACCENTED_PHRASES,
        GREEK,
        "Ёжик Йод",
        "你好世界",
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
    block = fit_text(word, BODY, size=20)
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


def test_text_is_set_in_roboto() -> None:
    """Text uses Roboto from font-roboto: Regular for text, Medium for headings."""
    assert font(20).getname() == ("Roboto", "Regular")
    assert font(13, "medium").getname() == ("Roboto", "Medium")


@pytest.mark.parametrize("text", ["é", "Ærø", "ß", "ñ", "Ł", "Ş", "ő", "Ç", "e\u0301", "q\u0303"])
def test_accented_letters_are_readable(text: str) -> None:
    """Accented Latin letters draw as letters, never as the font's missing-glyph box."""
    image = render_message(text, size=30)
    assert ink(image, BLACK) > 0
    assert not same(image, render_message(NO_GLYPH * len(sanitize(text)), size=30))


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("é", "e"),
        ("è", "e"),
        ("ê", "e"),
        ("à", "a"),
        ("ç", "c"),
        ("É", "E"),
        ("Ç", "C"),
        ("ñ", "n"),
        ("ö", "o"),
        ("ő", "o"),
        ("å", "a"),
        ("ø", "o"),
        ("Æ", "AE"),
        ("æ", "ae"),
        ("ß", "ss"),
        ("Ł", "L"),
        ("Ş", "S"),
        ("Đ", "D"),
        ("µ", "u"),
        ("³", "3"),
        ("q\u0303", "q"),
    ],
)
def test_accented_letters_draw_their_own_glyphs(accented: str, plain: str) -> None:
    """An accented letter is drawn with its own glyph, not folded to its base letter."""
    image = render_message(accented, size=30)
    assert not same(image, render_message(plain, size=30))
    assert fold(sanitize(accented)) == sanitize(accented)


@pytest.mark.parametrize("text", ACCENTED_PHRASES)
def test_accented_text_is_drawn_as_written(text: str) -> None:
    """Whole phrases keep every accent: nothing is folded, and the picture shows it."""
    assert fold(text) == text
    assert all(has_glyph(char) for char in text)
    spelled = {
        "Æ": "AE",
        "æ": "ae",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "Þ": "Th",
        "µ": "u",
    }
    decomposed = unicodedata.normalize("NFKD", "".join(spelled.get(char, char) for char in text))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    assert plain.isascii()
    assert not same(render_message(text), render_message(plain, size=fit_text(text, BODY).size))


@pytest.mark.parametrize("letters", [GREEK, CYRILLIC])
def test_greek_and_cyrillic_draw_real_glyphs(letters: str) -> None:
    """Every Greek and Cyrillic letter has a glyph of its own: no box among them."""
    assert [char for char in letters if not has_glyph(char)] == []
    assert fold(letters) == letters
    for word in letters.split():
        image = render_message(word, size=MIN_SIZE)
        assert not same(image, render_message(NO_GLYPH * len(word), size=MIN_SIZE))


def test_letters_draw_apart() -> None:
    """Letters that differ by their marks only still differ on the panel (é, ê, è; ø, ö)."""
    pairs = [("é", "ê"), ("é", "è"), ("\u0401", "\u0415"), ("\u03ac", "\u03b1"), ("ø", "ö")]
    for first, second in pairs:
        assert not same(render_message(first, size=24), render_message(second, size=24))


@pytest.mark.parametrize("text", ["שלום", "مرحبا", "你好世界", "こんにちは", "😀🎉"])
def test_scripts_roboto_lacks_show_boxes(text: str) -> None:
    """Hebrew, Arabic, CJK and emoji have no glyphs in Roboto: one box per character."""
    assert not any(has_glyph(char) for char in text)
    assert same(render_message(text), render_message(NO_GLYPH * len(text)))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("👍🏽", "👍"),  # skin-tone modifier
        ("❤️ ok", "❤ ok"),  # emoji variation selector
        ("ok\u05b8", "ok"),  # a Hebrew vowel point Roboto lacks
        ("Go → now", "Go -> now"),  # an arrow Roboto lacks has an ASCII spelling
    ],
)
def test_marks_without_glyphs_draw_no_extra_box(text: str, shown: str) -> None:
    """Marks that only modify their neighbour draw nothing of their own when unsupported."""
    assert same(render_message(text, size=20), render_message(shown, size=20))


def test_tall_accents_get_room() -> None:
    """Accents over capitals push the line box; with title and body they stay apart."""
    plain = fit_text("ETE A PARIS", BODY, size=30)
    accented = fit_text("ÉTÉ À PARIS", BODY, size=30)
    assert accented.metrics.top < plain.metrics.top
    assert accented.metrics.height > plain.metrics.height
    image = render_message("ÉÅÊ Ấ\nÉÅÊ Ấ", title="Ấp Été Ÿ")
    # The title's accents stay on its band; the body's stay off it, below the margin.
    assert ink(image, (255, 255, 255), (0, 0, 160, 17)) > 20
    assert ink(image, BLACK, (0, 17, 160, 19)) == 0
    body = ink_box(image.crop((0, 17, 160, 80)), BLACK)
    assert body is not None
    assert body[1] >= 1
    assert body[3] <= 62


def test_a_line_slightly_too_tall_is_still_drawn() -> None:
    """Accents that make one line taller than the box still give a line, not an error."""
    ascii_height = fit_text("Hy", Box(0, 0, 150, 40), size=20).metrics.height
    block = fit_text("Ấy", Box(0, 0, 150, ascii_height), size=20)
    assert block.lines == ("Ấy",)
    with pytest.raises(ValueError, match="does not fit"):
        fit_text("Hy", Box(0, 0, 150, ascii_height - 1), size=20)


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
SAMPLES = (
    MIXED,
    *ACCENTED_PHRASES,
    GREEK[:40],
    CYRILLIC[:40],
    "Ấp ǰ q\u0303 fj Tj «j» ffi AVAWAY",
    "你好 😀 שלום",
)
SIZES = [MIN_SIZE, 10, 11, 12, 13, 17, 24, 33, MAX_SIZE, 60]
WEIGHTS: list[Weight] = ["regular", "medium"]


@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("size", SIZES)
def test_cached_measuring_matches_pillow(size: int, weight: Weight) -> None:
    """Line widths from cached character advances equal what Pillow measures."""
    face = font(size, weight)
    for sample in SAMPLES:
        for end in range(1, len(sample) + 1):
            assert text_width(sample[:end], size, weight) == face.getlength(sample[:end])


@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("size", SIZES)
def test_cached_glyphs_draw_like_pillow(size: int, weight: Weight) -> None:
    """Text drawn from cached glyphs is exactly Pillow's own drawing, overlaps included."""
    for sample in SAMPLES:
        ours = Image.new("RGB", (1200, 100), (10, 20, 30))
        pillows = ours.copy()
        draw_line(ours, (10, 20), sample, size, (250, 200, 100), weight=weight)
        ImageDraw.Draw(pillows).text(
            (10, 20), sample, font=font(size, weight), fill=(250, 200, 100)
        )
        assert ImageChops.difference(ours, pillows).getbbox() is None, sample
        assert ink(ours, (10, 20, 30)) > 30


@pytest.fixture
def roboto_gone(monkeypatch: pytest.MonkeyPatch) -> Generator[pytest.MonkeyPatch]:
    """Let a test take Roboto away; every cache is emptied before and after."""
    reset_caches()
    yield monkeypatch
    reset_caches()


@pytest.mark.parametrize(
    "remove",
    [
        pytest.param(
            lambda patch: patch.setitem(sys.modules, "font_roboto", None), id="no-package"
        ),
        pytest.param(lambda patch: patch.delattr(font_roboto, "Roboto"), id="no-regular-face"),
        pytest.param(
            lambda patch: patch.setattr(font_roboto, "Roboto", "/nonexistent/Roboto.ttf"),
            id="unreadable-file",
        ),
    ],
)
def test_without_roboto_the_default_font_takes_over(
    roboto_gone: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    remove: Callable[[pytest.MonkeyPatch], None],
) -> None:
    """No Roboto: Pillow's default font draws everything, accents folded, one warning."""
    remove(roboto_gone)
    with caplog.at_level(logging.WARNING, logger=LAYOUT_LOGGER):
        image = render_message("Température élevée", title="Größe")
        assert ink(image, BLACK) > 100
        for size in (MIN_SIZE, 20, MAX_SIZE):
            render_message("Ærøskøbing", size=size)
        assert same(render_message("é", size=30), render_message("e", size=30))
        assert same(render_message("Größe", size=20), render_message("Grosse", size=20))
        render_message("שלום 你好 😀")
    warnings = [record for record in caplog.records if record.name == LAYOUT_LOGGER]
    assert len(warnings) == 1
    assert "default font" in warnings[0].getMessage()
    assert font(20).getname()[0] != "Roboto"


def test_missing_medium_face_falls_back_to_regular(roboto_gone: pytest.MonkeyPatch) -> None:
    """Without Roboto Medium, headings use Roboto Regular rather than another font."""
    roboto_gone.delattr(font_roboto, "RobotoMedium")
    assert font(13, "medium").getname() == ("Roboto", "Regular")
    assert ink(render_message("Body", title="Été"), (255, 255, 255), (0, 0, 160, 16)) > 20


def test_roboto_is_back_after_a_reset() -> None:
    """Emptying the caches looks for the font again: Roboto, as installed."""
    reset_caches()
    assert font(20).getname() == ("Roboto", "Regular")
