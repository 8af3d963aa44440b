"""Text layout for the Enviro+ LCD: fonts, sanitising, glyph fallback, word wrap, auto size.

Text is set in Roboto, from the pure-Python ``font-roboto`` package (TrueType files
inside the package, nothing read from the system): Regular for text, Medium for headings. Roboto draws
Latin with its accents (Latin-1, Extended-A and -B, Extended Additional: French, German,
Nordic, Polish, Czech, Turkish, Vietnamese and more), Greek, Cyrillic, the common
punctuation, currency signs, super- and subscript digits and µ. It has no Hebrew, Arabic,
CJK, emoji or arrows: those show as the font's missing-glyph box, except for a few
symbols with an ASCII spelling (→ as ->). Nothing in a message can make drawing fail.

When ``font_roboto`` cannot be imported or its files cannot be read, Pillow's embedded
default font (Aileron: printable ASCII and a few marks) takes over, with one warning in
the log, so the panel keeps working; accented letters are then folded to their base
letters (é to e, ß to ss) before drawing, which keeps words readable.

Pillow's basic layout engine is used on purpose, even where Raqm is installed: with no
Hebrew or Arabic glyphs in either font, shaping and bidirectional reordering would only
move boxes around, and the basic engine draws the same on every install. It applies
neither ligatures nor GPOS kerning, and Roboto has no legacy ``kern`` table, so a line is
exactly as wide as the sum of its characters' whole-pixel advances.
"""

import functools
import importlib
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from PIL import Image, ImageDraw, ImageFont

_LOGGER = logging.getLogger(__name__)

WIDTH: Final = 160
HEIGHT: Final = 80
MARGIN: Final = 2
MAX_SIZE: Final = 40
MIN_SIZE: Final = 9
ELLIPSIS: Final = "…"
# More text than this can never be visible (about 6 lines of 30 characters at the
# smallest size); cutting it first bounds the work for a pathological message.
MAX_INPUT_CHARS: Final = 2000

type Weight = Literal["regular", "medium"]
type Color = tuple[int, int, int]

# font_roboto names each face after its file: Roboto-Medium.ttf is font_roboto.RobotoMedium.
_ROBOTO_FACES: Final[dict[Weight, str]] = {"regular": "Roboto", "medium": "RobotoMedium"}
# Line breaks a sender may use besides "\n": Windows and old Mac line ends, and
# Unicode's line and paragraph separators.
_LINE_BREAKS: Final = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n"})
# Spellings for characters the font in use lacks and NFKD cannot fold (used only then):
# letters without a canonical decomposition, for the fallback font, and a few symbols
# that Roboto lacks too.
_FOLDS: Final = {
    "ß": "ss",
    "ẞ": "SS",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "Ø": "O",
    "ø": "o",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Þ": "Th",
    "þ": "th",
    "\u0131": "i",  # dotless i
    "µ": "u",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2212": "-",  # minus sign
    "\u00d7": "x",  # multiplication sign
    "€": "EUR",
    "£": "GBP",
    "\u2192": "->",  # rightwards arrow
    "\u2190": "<-",  # leftwards arrow
    "\u2194": "<->",  # left right arrow
    "\u21d2": "=>",  # rightwards double arrow
}
# Emoji skin-tone modifiers: they only change the look of the emoji before them.
_EMOJI_MODIFIERS: Final = range(0x1F3FB, 0x1F400)
# Characters whose ink reaches highest and lowest in ASCII text, to size a line box.
# Other characters (accented capitals, Vietnamese stacked marks) are measured when a
# message has them.
_INK_PROBE: Final = "Hbdfhklt|()[]{}/gjpqy$"
# A noncharacter that no font maps: it draws the font's missing-glyph box (".notdef").
_NO_GLYPH: Final = "\uffff"
# Any size does to tell glyphs from the missing-glyph box; this one is big enough to
# show every difference and small enough to be quick.
_PROBE_SIZE: Final = 16


class EmptyMessageError(ValueError):
    """The message has nothing to show once control characters and whitespace are gone."""


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle of the image, in pixels: left and top edge, width and height."""

    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class LineMetrics:
    """Vertical metrics of lines at one size: ink offset, ink height and line gap.

    ``top`` is how far below the pen's top (the ascender line) the highest ink of the
    text starts; negative when accents reach above it.
    """

    top: int
    height: int
    gap: int

    @property
    def pitch(self) -> int:
        """Return the distance from one line's ink top to the next line's."""
        return self.height + self.gap


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Wrapped lines of text at one font size and weight, ready to draw into a box."""

    lines: tuple[str, ...]
    size: int
    truncated: bool
    metrics: LineMetrics
    weight: Weight = "regular"


@functools.cache
def font_files() -> dict[Weight, str]:
    """Return the Roboto file of each weight; empty (and one warning) when there is none.

    A missing Medium face falls back to Regular; a missing or unreadable Regular face
    means Pillow's default font for everything.
    """
    try:
        package = importlib.import_module("font_roboto")
    except ImportError as err:
        _warn_default_font(f"font_roboto cannot be imported: {err}")
        return {}
    files: dict[Weight, str] = {}
    for weight, name in _ROBOTO_FACES.items():
        path = getattr(package, name, None)
        if not isinstance(path, str):
            continue
        try:
            ImageFont.truetype(path, _PROBE_SIZE)
        except OSError as err:
            _LOGGER.debug("Roboto face %s not usable: %s", path, err)
            continue
        files[weight] = path
    if "regular" not in files:
        _warn_default_font("font_roboto has no readable Roboto Regular file")
        return {}
    files.setdefault("medium", files["regular"])
    return files


def _warn_default_font(reason: str) -> None:
    """Log that the LCD falls back to Pillow's default font (once: the lookup is cached)."""
    _LOGGER.warning(
        "%s; the LCD uses Pillow's default font instead, which has no accented letters",
        reason,
    )


@functools.cache
def font(size: int, weight: Weight = "regular") -> ImageFont.FreeTypeFont:
    """Return Roboto (or Pillow's default font) at ``size`` pixels, cached per size."""
    if size < 1:
        raise ValueError(f"font size must be at least 1 pixel, not {size}")
    path = font_files().get(weight)
    if path is not None:
        return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):
        # Only a Pillow built without FreeType falls back to the fixed bitmap font;
        # every Pillow wheel has FreeType.
        raise TypeError("Pillow has no FreeType support: the display needs scalable fonts")
    return loaded


@functools.cache
def _missing_glyph_mask(weight: Weight) -> bytes:
    """Return the bitmap the font draws for a character it has no glyph for."""
    return bytes(font(_PROBE_SIZE, weight).getmask(_NO_GLYPH))


# Bounded: a stream of CJK or emoji messages would otherwise grow these without limit.
@functools.lru_cache(maxsize=4096)
def has_glyph(char: str, weight: Weight = "regular") -> bool:
    """Tell whether the font draws ``char`` with a glyph of its own (not the box)."""
    return bytes(font(_PROBE_SIZE, weight).getmask(char)) != _missing_glyph_mask(weight)


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str, weight: Weight) -> str:
    """Return ``char``, or a spelling of it the font can draw when it lacks the glyph.

    Characters without a glyph and without a spelling stay, and draw as the box, except
    marks that would only put a box over their neighbour: lone combining marks, emoji
    variation selectors and skin-tone modifiers.
    """
    if char.isascii() or has_glyph(char, weight):
        # Both fonts draw all of printable ASCII; sanitize left no control characters.
        return char
    folded = _FOLDS.get(char)
    if folded is not None and all(has_glyph(c, weight) for c in folded):
        return folded
    decomposed = unicodedata.normalize("NFKD", char)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    if not stripped or unicodedata.category(char) in {"Mn", "Me"}:
        return ""
    if ord(char) in _EMOJI_MODIFIERS:
        return ""
    if stripped != char and all(has_glyph(c, weight) for c in stripped):
        return stripped
    return char


def fold(text: str, weight: Weight = "regular") -> str:
    """Replace characters the font cannot draw with a readable spelling, if there is one."""
    return "".join([_fold_char(char, weight) for char in text])


def sanitize(text: str) -> str:
    """Return ``text`` cleaned for the display; an empty string if nothing is left.

    LF (and CR, CRLF, U+2028, U+2029) break lines; tabs and every other kind of space
    become one space; other control and format characters and lone surrogates are
    dropped; spaces are collapsed, lines trimmed, runs of blank lines kept as one.
    """
    text = unicodedata.normalize("NFC", text[:MAX_INPUT_CHARS])
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    kept: list[str] = []
    for char in text:
        if char == "\n":
            kept.append(char)
        elif char in "\t\v\f" or (char.isspace() and unicodedata.category(char) == "Zs"):
            kept.append(" ")
        elif unicodedata.category(char) not in {"Cc", "Cf", "Cs"}:
            kept.append(char)
    lines: list[str] = []
    for raw in "".join(kept).split("\n"):
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _unusual_ink(text: str, weight: Weight) -> str:
    """Return the characters of ``text`` whose ink may reach beyond the ASCII probe.

    These are the distinct non-ASCII characters, sorted, with every character that has
    no glyph of its own standing for all of them as the missing-glyph box (a CJK message
    needs one measurement, not one per character).
    """
    unusual = {
        char if has_glyph(char, weight) else _NO_GLYPH for char in set(text) if not char.isascii()
    }
    return "".join(sorted(unusual))


@functools.lru_cache(maxsize=8192)
def _ink_rows(size: int, weight: Weight, char: str) -> tuple[int, int] | None:
    """Return the first and past-last row of ``char``'s ink below the pen top, if any."""
    _, top, _, bottom = font(size, weight).getbbox(char)
    # FreeType boxes are whole pixels, typed as float by Pillow.
    return (int(top), int(bottom)) if bottom > top else None


@functools.lru_cache(maxsize=1024)
def _metrics(size: int, weight: Weight, unusual: str = "") -> LineMetrics:
    """Measure how tall lines are at ``size``: ASCII ink plus that of ``unusual``."""
    top, bottom = _ink_rows(size, weight, _INK_PROBE) or (0, size)
    for char in unusual:
        rows = _ink_rows(size, weight, char)
        if rows is not None:
            top, bottom = min(top, rows[0]), max(bottom, rows[1])
    return LineMetrics(top=top, height=bottom - top, gap=max(1, size // 10))


class _Advances(dict[str, float]):
    """Advance widths of single characters at one size, measured on first use."""

    __slots__ = ("_face",)

    def __init__(self, face: ImageFont.FreeTypeFont) -> None:
        """Measure with ``face``."""
        super().__init__()
        self._face = face

    def __missing__(self, char: str) -> float:
        """Measure a character not seen before and remember it."""
        width = self[char] = self._face.getlength(char)
        return width


@functools.cache
def _advances(size: int, weight: Weight) -> _Advances:
    """Return the advance-width table of ``size`` and ``weight``."""
    return _Advances(font(size, weight))


def text_width(text: str, size: int, weight: Weight = "regular") -> float:
    """Return how far ``text`` advances at ``size``, in pixels.

    Pillow's basic layout puts glyphs at whole-pixel advances without kerning (Roboto
    has no ``kern`` table, and GPOS kerning needs Raqm), so a line is exactly the sum of
    its characters (checked against ``getlength`` for every size from 9 to 60). Summing
    cached advances is far faster than asking FreeType, which loads every glyph again on
    each call.
    """
    return sum(map(_advances(size, weight).__getitem__, text))


def ellipsize(text: str, size: int, width: int, weight: Weight = "regular") -> str:
    """Return ``text`` shortened from the end with "…" so that it fits ``width``."""
    text = text.rstrip()
    if text_width(text + ELLIPSIS, size, weight) <= width:
        return text + ELLIPSIS
    low, high = 0, len(text)
    # Longest prefix that still fits with the ellipsis; width grows with length.
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + ELLIPSIS, size, weight) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


@functools.cache
def _word_gap(size: int, weight: Weight) -> str:
    """Return the string to put between words at ``size``.

    Where the font's space is only 2 px wide (Roboto below 11 px, Pillow's default font
    below 12 px), next to letters with almost no side bearing, words run together on
    the panel; two spaces read as a gap.
    """
    return "  " if text_width(" ", size, weight) <= 2 else " "


def _split_word(word: str, size: int, width: int, weight: Weight) -> list[str]:
    """Break a word wider than ``width`` into pieces that fit (one character at least)."""
    advances = _advances(size, weight)
    pieces: list[str] = []
    start = 0
    used = 0.0
    for index, char in enumerate(word):
        advance = advances[char]
        if used + advance > width and index > start:
            pieces.append(word[start:index])
            start, used = index, 0.0
        used += advance
    pieces.append(word[start:])
    return pieces


def _wrap(
    paragraphs: Sequence[str], size: int, weight: Weight, width: int, max_lines: int
) -> tuple[list[str], bool]:
    """Wrap greedily; return at most ``max_lines`` lines and whether everything fit.

    It stops as soon as a line more than ``max_lines`` is started, so trying a size
    that is far too large costs a few measurements only.
    """
    lines: list[str] = []
    fits = True
    separator = _word_gap(size, weight)
    separator_width = text_width(separator, size, weight)

    def emit(line: str, line_width: float) -> bool:
        """Add a line; return False once the box is full."""
        nonlocal fits
        if len(lines) == max_lines:
            fits = False
            return False
        if line_width > width:
            # Only a single character wider than the box gets here.
            fits = False
        lines.append(line)
        return True

    for paragraph in paragraphs:
        current, used = "", 0.0
        for word in paragraph.split(" ") if paragraph else ():
            word_width = text_width(word, size, weight)
            if current and used + separator_width + word_width <= width:
                current, used = f"{current}{separator}{word}", used + separator_width + word_width
                continue
            if current and not emit(current, used):
                return lines, False
            current, used = word, word_width
            if word_width > width:
                *full, current = _split_word(word, size, width, weight)
                for piece in full:
                    if not emit(piece, text_width(piece, size, weight)):
                        return lines, False
                used = text_width(current, size, weight)
        if not emit(current, used):
            return lines, False
    return lines, fits


def _lines_that_fit(metrics: LineMetrics, height: int) -> int:
    """Return how many lines with ``metrics`` fit into ``height`` pixels."""
    return (height + metrics.gap) // metrics.pitch


@functools.lru_cache(maxsize=256)
def fit_text(
    text: str,
    box: Box,
    *,
    size: int | None = None,
    min_size: int = MIN_SIZE,
    max_size: int = MAX_SIZE,
    weight: Weight = "regular",
) -> TextBlock:
    """Lay out ``text`` in ``box`` at the largest size that fits, or at ``size``.

    Sizes are tried from ``max_size`` down to ``min_size``; the first at which every
    line fits wins. When even the last one does not fit, the text is cut after the
    last line that fits and that line ends with "…". Raises EmptyMessageError when
    nothing printable is left, ValueError when not a single line of ASCII fits in the
    box (a line whose accents make it a little taller than the box is still drawn).
    """
    clean = sanitize(text)
    if not clean:
        raise EmptyMessageError("the message is empty or only whitespace")
    folded = fold(clean, weight)
    paragraphs = folded.split("\n")
    unusual = _unusual_ink(folded, weight)
    sizes = range(max_size, min_size - 1, -1) if size is None else (size,)
    if not sizes:
        raise ValueError(f"no font size between {min_size} and {max_size}")
    for candidate in sizes:
        metrics = _metrics(candidate, weight, unusual)
        max_lines = _lines_that_fit(metrics, box.height)
        if max_lines < 1:
            continue
        lines, fits = _wrap(paragraphs, candidate, weight, box.width, max_lines)
        if fits:
            return TextBlock(
                tuple(lines), candidate, truncated=False, metrics=metrics, weight=weight
            )
    smallest = sizes[-1]
    if _lines_that_fit(_metrics(smallest, weight), box.height) < 1:
        raise ValueError(f"a line of {smallest} px text does not fit into {box}")
    metrics = _metrics(smallest, weight, unusual)
    # Tall accents may leave no whole line in the box; one line is drawn all the same.
    max_lines = max(1, _lines_that_fit(metrics, box.height))
    lines, fits = _wrap(paragraphs, smallest, weight, box.width, max_lines)
    if fits:
        return TextBlock(tuple(lines), smallest, truncated=False, metrics=metrics, weight=weight)
    lines[-1] = ellipsize(lines[-1], smallest, box.width, weight)
    return TextBlock(tuple(lines), smallest, truncated=True, metrics=metrics, weight=weight)


@dataclass(frozen=True, slots=True)
class _Glyph:
    """One character rendered once: its coverage mask and where it sits from the pen."""

    mask: Image.Image | None
    left: int
    top: int
    advance: float


@functools.lru_cache(maxsize=4096)
def _glyph(size: int, weight: Weight, char: str) -> _Glyph:
    """Render ``char`` at ``size`` into a coverage mask (None for blank characters).

    The mask is cut to the ink, without the blank side bearings Pillow's box keeps, so
    that neighbouring glyphs overlap only where their ink really comes close.
    """
    face = font(size, weight)
    advance = text_width(char, size, weight)
    left, top, right, bottom = (int(edge) for edge in face.getbbox(char))
    if right <= left or bottom <= top:
        return _Glyph(mask=None, left=0, top=0, advance=advance)
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).text((-left, -top), char, font=face, fill=255)
    ink = mask.getbbox()
    if ink is None:
        return _Glyph(mask=None, left=0, top=0, advance=advance)
    return _Glyph(mask=mask.crop(ink), left=left + ink[0], top=top + ink[1], advance=advance)


def _over(under: Image.Image, over: Image.Image) -> Image.Image:
    """Lay the coverage ``over`` on ``under`` as Pillow's text renderer does.

    Where both have ink the result is ``over + under * (255 - over) / 255``, rounded
    the way Pillow rounds (its MULDIV255), so overlapping glyphs match to the level.
    """
    combined = bytearray(over.tobytes())
    for index, below in enumerate(under.tobytes()):
        if below:
            above = combined[index]
            product = below * (255 - above) + 128
            combined[index] = above + (((product >> 8) + product) >> 8)
    return Image.frombytes("L", over.size, bytes(combined))


@dataclass(frozen=True, slots=True)
class _Coverage:
    """A whole line's coverage mask and where it sits from the pen's start."""

    mask: Image.Image
    left: int
    top: int


# Bounded: a line is about 160 x 60 one-byte pixels at most, so this holds 2-3 MB at worst.
@functools.lru_cache(maxsize=256)
def _line_coverage(size: int, weight: Weight, line: str) -> _Coverage | None:
    """Assemble the coverage of ``line`` from cached glyphs (None when nothing shows).

    As in Pillow, glyphs are laid at whole-pixel pens and, where their boxes overlap
    (Roboto's f, j and some accents reach into their neighbours), each one goes over
    what is already there.
    """
    placed: list[tuple[Image.Image, int, int]] = []
    pen = 0.0
    for char in line:
        glyph = _glyph(size, weight, char)
        if glyph.mask is not None:
            placed.append((glyph.mask, round(pen) + glyph.left, glyph.top))
        pen += glyph.advance
    if not placed:
        return None
    left = min(x for _, x, _ in placed)
    top = min(y for _, _, y in placed)
    right = max(x + mask.width for mask, x, _ in placed)
    bottom = max(y + mask.height for mask, _, y in placed)
    coverage = Image.new("L", (right - left, bottom - top))
    reach = left
    for mask, x, y in placed:
        corner_x, corner_y = x - left, y - top
        width, height = mask.size
        # Columns left of ``reach`` may hold earlier glyphs: combine there, copy the rest.
        shared = min(max(reach - x, 0), width)
        if shared:
            region = (corner_x, corner_y, corner_x + shared, corner_y + height)
            overlap = _over(coverage.crop(region), mask.crop((0, 0, shared, height)))
            coverage.paste(overlap, region)
        if shared < width:
            rest = mask.crop((shared, 0, width, height)) if shared else mask
            coverage.paste(rest, (corner_x + shared, corner_y))
        reach = max(reach, x + width)
    return _Coverage(mask=coverage, left=left, top=top)


def draw_line(
    image: Image.Image,
    xy: tuple[int, int],
    line: str,
    size: int,
    fill: Color,
    *,
    weight: Weight = "regular",
) -> None:
    """Draw ``line`` with its top-left (ascender line) at ``xy``, from cached glyphs.

    This paints exactly what ``ImageDraw.text`` paints with the basic layout, at a
    fraction of the cost: FreeType renders each glyph of a size once instead of on
    every frame, and a line drawn again (a page label, a clock's date) is one paste.
    """
    coverage = _line_coverage(size, weight, line)
    if coverage is not None:
        image.paste(fill, (xy[0] + coverage.left, xy[1] + coverage.top), coverage.mask)


def draw_block(
    image: Image.Image,
    block: TextBlock,
    box: Box,
    fill: Color,
    *,
    align: Literal["left", "center", "right"] = "center",
) -> None:
    """Draw ``block`` centred vertically in ``box``; lines centred, left or right aligned."""
    metrics = block.metrics
    count = len(block.lines)
    block_height = count * metrics.height + (count - 1) * metrics.gap
    y = box.top + (box.height - block_height) // 2 - metrics.top
    for line in block.lines:
        free = box.width - text_width(line, block.size, block.weight)
        offset = {"left": 0.0, "right": free}.get(align, free / 2)
        draw_line(image, (box.left + round(offset), y), line, block.size, fill, weight=block.weight)
        y += metrics.pitch


def reset_caches() -> None:
    """Forget every font, measurement, glyph and layout, and look for Roboto again."""
    for cached in (
        font_files,
        font,
        _missing_glyph_mask,
        has_glyph,
        _fold_char,
        _ink_rows,
        _metrics,
        _advances,
        _word_gap,
        _glyph,
        _line_coverage,
        fit_text,
    ):
        cached.cache_clear()
