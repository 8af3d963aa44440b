"""Draw the brand images in custom_components/qiot_enviro/brand/ with Pillow.

The mark: a rounded teal tile holding a white board outline with three air waves
above a small LCD bar, drawn at 4x and downsampled for clean edges.

Usage: .venv/bin/python scripts/make_brand.py
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "custom_components" / "qiot_enviro" / "brand"
TEAL = (0, 122, 120, 255)
TEAL_DARK = (0, 84, 82, 255)
WHITE = (255, 255, 255, 255)
AMBER = (255, 190, 60, 255)
SCALE = 4


def mark(size: int) -> Image.Image:
    """Return the square mark at size x size pixels."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 32
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=int(7 * unit), fill=TEAL)
    draw.rounded_rectangle(
        (int(1 * unit), int(18 * unit), big - int(1 * unit), big - int(1 * unit)),
        radius=int(6 * unit),
        fill=TEAL_DARK,
    )
    stroke = max(SCALE, int(2.2 * unit))
    for row, inset in ((6.5, 6), (11, 4), (15.5, 6)):
        y = int(row * unit)
        points = []
        for step in range(41):
            x = inset * unit + step * (big - 2 * inset * unit) / 40
            phase = step / 40 * 2 * 3.14159 * 1.5
            points.append((x, y + int(1.2 * unit * math.sin(phase))))
        draw.line(points, fill=WHITE, width=stroke, joint="curve")
    draw.rounded_rectangle(
        (int(8 * unit), int(21 * unit), big - int(8 * unit), int(27 * unit)),
        radius=int(1.5 * unit),
        fill=WHITE,
    )
    draw.rectangle(
        (int(10 * unit), int(23 * unit), int(17 * unit), int(25 * unit)),
        fill=AMBER,
    )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int) -> Image.Image:
    """Return the mark followed by the name, height pixels tall."""
    font = ImageFont.load_default(size=int(height * 0.42))
    text = "QIoT Enviro"
    left, top, right, bottom = font.getbbox(text)
    width = height + int(height * 0.2) + (right - left) + int(height * 0.1)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.alpha_composite(mark(height))
    draw = ImageDraw.Draw(image)
    draw.text(
        (height + int(height * 0.2), (height - (bottom - top)) // 2 - top),
        text,
        font=font,
        fill=TEAL_DARK,
    )
    return image


def main() -> None:
    """Write every brand image."""
    OUT.mkdir(parents=True, exist_ok=True)
    mark(256).save(OUT / "icon.png", optimize=True)
    mark(512).save(OUT / "icon@2x.png", optimize=True)
    logo(128).save(OUT / "logo.png", optimize=True)
    logo(256).save(OUT / "logo@2x.png", optimize=True)


if __name__ == "__main__":
    main()
