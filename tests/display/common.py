"""Helpers for looking at rendered frames the way a person looks at the panel."""

from PIL import Image, ImageChops

type Color = tuple[int, int, int]


def ink(image: Image.Image, bg: Color, box: tuple[int, int, int, int] | None = None) -> int:
    """Count the pixels of ``image`` (inside ``box``) that differ from the background."""
    region = image.crop(box) if box else image
    difference = ImageChops.difference(region, Image.new("RGB", region.size, bg)).convert("L")
    return region.width * region.height - difference.histogram()[0]


def ink_box(image: Image.Image, bg: Color) -> tuple[int, int, int, int] | None:
    """Return the bounding box of everything drawn over the background."""
    return ImageChops.difference(image, Image.new("RGB", image.size, bg)).getbbox()


def dominant(image: Image.Image, box: tuple[int, int, int, int]) -> Color:
    """Return the most frequent colour inside ``box``."""
    counts = image.crop(box).getcolors(maxcolors=box[2] * box[3] + 1) or []
    _, color = max(counts)
    assert isinstance(color, tuple)
    red, green, blue = color
    return (red, green, blue)


def same(first: Image.Image, second: Image.Image) -> bool:
    """Tell whether two frames are pixel for pixel the same."""
    return ImageChops.difference(first, second).getbbox() is None
