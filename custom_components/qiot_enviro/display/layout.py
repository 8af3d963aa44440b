"""Text layout for the Enviro+ LCD: sanitising, glyph fallback, word wrap, automatic size.

Fonts come from Pillow itself: ``ImageFont.load_default(size=...)`` is a FreeType font
(Aileron Regular, embedded in Pillow) that scales to any size, so nothing is read from
the file system and nothing beyond Pillow is needed. Its glyphs cover printable ASCII
plus 16 marks (© « ° ±, the acute accent, the middle dot, », curly quotes, …, single
angle quotes, the fraction slash, ™) and the fi and fl ligatures; nothing else: no accented
letters, no Greek, Cyrillic, Hebrew, Arabic, CJK or emoji. Accented Latin letters are
therefore folded to their base letters (é to e, ß to ss) before drawing, which keeps
words readable; scripts without an ASCII fallback show the font's missing-glyph box.

Pillow's basic layout engine is used on purpose, even where Raqm is installed: with no
Hebrew or Arabic glyphs in the font, shaping and bidirectional reordering would only
move boxes around, and the basic engine draws the same on every install.
"""

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from PIL import Image, ImageDraw, ImageFont

WIDTH: Final = 160
HEIGHT: Final = 80
MARGIN: Final = 2
MAX_SIZE: Final = 40
MIN_SIZE: Final = 9
ELLIPSIS: Final = "…"
# More text than this can never be visible (about 6 lines of 30 characters at the
# smallest size); cutting it first bounds the work for a pathological message.
MAX_INPUT_CHARS: Final = 2000

# Line breaks a sender may use besides "\n": Windows and old Mac line ends, and
# Unicode's line and paragraph separators.
_LINE_BREAKS: Final = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n"})
# Letters with no canonical decomposition, so NFKD cannot fold them to ASCII.
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
}
# Characters whose ink reaches highest and lowest in Latin text, to size a line box.
_INK_PROBE: Final = "Hbdfhklt|()[]{}/gjpqy"


type Color = tuple[int, int, int]


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
class TextBlock:
    """Wrapped lines of text at one font size, ready to draw into a box."""

    lines: tuple[str, ...]
    size: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class _LineMetrics:
    """Vertical metrics of one font size: ink offset, ink height and line gap."""

    top: int
    height: int
    gap: int

    @property
    def pitch(self) -> int:
        """Return the distance from one line's ink top to the next line's."""
        return self.height + self.gap


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """Return Pillow's scalable default font at ``size`` pixels (cached per size)."""
    if size < 1:
        raise ValueError(f"font size must be at least 1 pixel, not {size}")
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):
        # Only a Pillow built without FreeType falls back to the fixed bitmap font;
        # every Pillow wheel has FreeType.
        raise TypeError("Pillow has no FreeType support: the display needs scalable fonts")
    return loaded


@functools.cache
def _metrics(size: int) -> _LineMetrics:
    """Measure how tall a line of text is at ``size``; accents are folded, so none count."""
    _, top, _, bottom = font(size).getbbox(_INK_PROBE)
    # FreeType boxes are whole pixels, typed as float by Pillow.
    return _LineMetrics(top=int(top), height=int(bottom - top), gap=max(1, size // 10))


@functools.cache
def _missing_glyph_mask() -> bytes:
    """Return the bitmap the font draws for a character it has no glyph for."""
    # U+FFFF is a noncharacter: no font maps it, so this is the font's ".notdef" box.
    return bytes(font(16).getmask("\uffff"))


@functools.cache
def has_glyph(char: str) -> bool:
    """Tell whether the font draws ``char`` with a glyph of its own (not the box)."""
    return bytes(font(16).getmask(char)) != _missing_glyph_mask()


@functools.cache
def _fold_char(char: str) -> str:
    """Return ``char``, or a plain-letter spelling of it when the font lacks the glyph."""
    if has_glyph(char):
        return char
    if (folded := _FOLDS.get(char)) is not None:
        return folded
    decomposed = unicodedata.normalize("NFKD", char)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    if stripped and stripped != char and all(has_glyph(c) for c in stripped):
        return stripped
    if not stripped:
        # A lone combining mark (or an emoji variation selector) would only draw a box
        # over its neighbour.
        return ""
    return char


def fold(text: str) -> str:
    """Replace characters the font cannot draw with a readable plain spelling if any."""
    return "".join(map(_fold_char, text))


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
def _advances(size: int) -> _Advances:
    """Return the advance-width table of ``size``."""
    return _Advances(font(size))


def text_width(text: str, size: int) -> float:
    """Return how far ``text`` advances at ``size``, in pixels.

    Pillow's basic layout (the only one ``load_default`` uses) puts glyphs at whole-pixel
    advances without kerning, so a line is exactly the sum of its characters (checked
    against ``getlength`` for every size from 9 to 60). Summing cached advances is about
    40 times faster than asking FreeType, which loads every glyph again on each call.
    """
    return sum(map(_advances(size).__getitem__, text))


def ellipsize(text: str, size: int, width: int) -> str:
    """Return ``text`` shortened from the end with "…" so that it fits ``width``."""
    text = text.rstrip()
    if text_width(text + ELLIPSIS, size) <= width:
        return text + ELLIPSIS
    low, high = 0, len(text)
    # Longest prefix that still fits with the ellipsis; width grows with length.
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + ELLIPSIS, size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


@functools.cache
def _word_gap(size: int) -> str:
    """Return the string to put between words at ``size``.

    Below 12 px the font's space is 2 px wide, next to letters that have almost no side
    bearing, so words run together on the panel; two spaces read as a gap.
    """
    return "  " if text_width(" ", size) <= 2 else " "


def _split_word(word: str, size: int, width: int) -> list[str]:
    """Break a word wider than ``width`` into pieces that fit (one character at least)."""
    advances = _advances(size)
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
    paragraphs: Sequence[str], size: int, width: int, max_lines: int
) -> tuple[list[str], bool]:
    """Wrap greedily; return at most ``max_lines`` lines and whether everything fit.

    It stops as soon as a line more than ``max_lines`` is started, so trying a size
    that is far too large costs a few measurements only.
    """
    lines: list[str] = []
    fits = True
    separator = _word_gap(size)
    separator_width = text_width(separator, size)

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
            word_width = text_width(word, size)
            if current and used + separator_width + word_width <= width:
                current, used = f"{current}{separator}{word}", used + separator_width + word_width
                continue
            if current and not emit(current, used):
                return lines, False
            current, used = word, word_width
            if word_width > width:
                *full, current = _split_word(word, size, width)
                for piece in full:
                    if not emit(piece, text_width(piece, size)):
                        return lines, False
                used = text_width(current, size)
        if not emit(current, used):
            return lines, False
    return lines, fits


def _lines_that_fit(size: int, height: int) -> int:
    """Return how many lines of ``size`` fit into ``height`` pixels."""
    metrics = _metrics(size)
    return (height + metrics.gap) // metrics.pitch


@functools.lru_cache(maxsize=256)
def fit_text(
    text: str,
    box: Box,
    *,
    size: int | None = None,
    min_size: int = MIN_SIZE,
    max_size: int = MAX_SIZE,
) -> TextBlock:
    """Lay out ``text`` in ``box`` at the largest size that fits, or at ``size``.

    Sizes are tried from ``max_size`` down to ``min_size``; the first at which every
    line fits wins. When even the last one does not fit, the text is cut after the
    last line that fits and that line ends with "…". Raises EmptyMessageError when
    nothing printable is left, ValueError when not a single line fits in the box.
    """
    clean = sanitize(text)
    if not clean:
        raise EmptyMessageError("the message is empty or only whitespace")
    paragraphs = fold(clean).split("\n")
    sizes = range(max_size, min_size - 1, -1) if size is None else (size,)
    if not sizes:
        raise ValueError(f"no font size between {min_size} and {max_size}")
    for candidate in sizes:
        max_lines = _lines_that_fit(candidate, box.height)
        if max_lines < 1:
            continue
        lines, fits = _wrap(paragraphs, candidate, box.width, max_lines)
        if fits:
            return TextBlock(lines=tuple(lines), size=candidate, truncated=False)
    smallest = sizes[-1]
    max_lines = _lines_that_fit(smallest, box.height)
    if max_lines < 1:
        raise ValueError(f"a line of {smallest} px text does not fit into {box}")
    lines, _ = _wrap(paragraphs, smallest, box.width, max_lines)
    lines[-1] = ellipsize(lines[-1], smallest, box.width)
    return TextBlock(lines=tuple(lines), size=smallest, truncated=True)


@dataclass(frozen=True, slots=True)
class _Glyph:
    """One character rendered once: its coverage mask and where it sits from the pen."""

    mask: Image.Image | None
    left: int
    top: int
    advance: float


@functools.lru_cache(maxsize=4096)
def _glyph(size: int, char: str) -> _Glyph:
    """Render ``char`` at ``size`` into a coverage mask (None for blank characters)."""
    face = font(size)
    advance = text_width(char, size)
    left, top, right, bottom = (int(edge) for edge in face.getbbox(char))
    if right <= left or bottom <= top:
        return _Glyph(mask=None, left=0, top=0, advance=advance)
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).text((-left, -top), char, font=face, fill=255)
    return _Glyph(mask=mask, left=left, top=top, advance=advance)


def draw_line(image: Image.Image, xy: tuple[int, int], line: str, size: int, fill: Color) -> None:
    """Draw ``line`` with its top-left (ascender line) at ``xy``, from cached glyphs.

    This paints what ``ImageDraw.text`` paints with the basic layout (whole-pixel
    advances, no kerning; where two glyphs touch, a pixel may differ by one level of
    256), at a fraction of the cost: FreeType renders each glyph of a size once
    instead of on every frame.
    """
    x: float = xy[0]
    y = xy[1]
    for char in line:
        glyph = _glyph(size, char)
        if glyph.mask is not None:
            image.paste(fill, (round(x) + glyph.left, y + glyph.top), glyph.mask)
        x += glyph.advance


def draw_block(
    image: Image.Image,
    block: TextBlock,
    box: Box,
    fill: Color,
    *,
    align: Literal["left", "center", "right"] = "center",
) -> None:
    """Draw ``block`` centred vertically in ``box``; lines centred, left or right aligned."""
    metrics = _metrics(block.size)
    count = len(block.lines)
    block_height = count * metrics.height + (count - 1) * metrics.gap
    y = box.top + (box.height - block_height) // 2 - metrics.top
    for line in block.lines:
        free = box.width - text_width(line, block.size)
        offset = {"left": 0.0, "right": free}.get(align, free / 2)
        draw_line(image, (box.left + round(offset), y), line, block.size, fill)
        y += metrics.pitch
