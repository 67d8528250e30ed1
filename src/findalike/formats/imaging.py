"""Decoding untrusted image bytes into a normalised RGB picture, and thumbnails.

Every image findalike reads (a file in a load, a query upload, a video object
reference) goes through :func:`decode_image`, so that all of them get the same
protections and the same normalisation:

- a pixel limit checked from the header *before* any pixel is decoded (a
  decompression bomb gets ``TooLarge`` -> 413, not an exhausted memory);
- EXIF orientation applied (a phone photo taken sideways is stored upright);
- CMYK, greyscale, palette, 16-bit and alpha images become 8-bit RGB; transparent
  pixels are composited on white (what a viewer shows), not on black;
- animated images (GIF, WebP) use their first frame;
- anything Pillow cannot decode (truncated, not an image, empty) gets
  ``Unprocessable`` (422) with a message that says what was wrong.

Pillow is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from findalike.errors import TooLarge, Unprocessable

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image (width x height) decoded; a 50-megapixel image is refused."""
THUMBNAIL_MAX_SIDE_PX = 256
_EXIF_ORIENTATION = 0x0112
READABLE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO", "TIFF"})


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels as displayed (EXIF orientation applied), from the
    header only; ``Unprocessable`` if the bytes are not an image Pillow recognises."""
    img = _open(data)
    width, height = int(img.size[0]), int(img.size[1])
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError):
        orientation = 1
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_side_px: int | None = None
) -> Image.Image:
    """``data`` (jpg, png, webp, gif, bmp bytes) decoded into an upright 8-bit RGB
    image. Raises ``Unprocessable`` for bytes that are not a complete image of a
    readable format and ``TooLarge`` for an image over ``max_pixels``.

    ``max_side_px``: shrink the result so its longer side is at most this (JPEGs are
    then decoded at a reduced scale, several times faster); the whole file is still
    read, so a truncated file is still refused."""
    from PIL import Image, ImageOps

    img = _open(data)
    width, height = img.size
    if width * height > max_pixels:
        raise TooLarge(
            f"image of {width}x{height} pixels ({width * height / 1e6:.1f} MP) is over the "
            f"{max_pixels / 1e6:.0f}-megapixel limit (FINDALIKE_IMAGE_MAX_PIXELS)"
        )
    try:
        if max_side_px is not None and img.format == "JPEG":
            img.draft("RGB", (max_side_px, max_side_px))
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unprocessable(f"image data is damaged or truncated ({exc})") from exc
    img = _to_rgb(img)
    if max_side_px is not None and max(img.size) > max_side_px:
        img.thumbnail((max_side_px, max_side_px), Image.Resampling.BICUBIC)
    return img


def thumbnail_jpeg(img: Image.Image, *, max_side_px: int = THUMBNAIL_MAX_SIDE_PX) -> bytes:
    """A JPEG thumbnail of a decoded RGB image, its longer side at most ``max_side_px``."""
    thumb = img.copy()
    thumb.thumbnail((max_side_px, max_side_px))
    return jpeg_bytes(thumb, quality=85)


def jpeg_bytes(img: Image.Image, *, quality: int = 90) -> bytes:
    """An RGB image encoded as JPEG."""
    out = io.BytesIO()
    img.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise Unprocessable("empty file: 0 bytes is not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise TooLarge(f"image is far over the pixel limit ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise Unprocessable(
            "not an image findalike can read (jpg, png, webp, gif, bmp expected)"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise Unprocessable(f"image header is damaged ({exc})") from exc
    if img.format not in READABLE_FORMATS:
        raise Unprocessable(f"image format {img.format} is not supported")
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    from PIL import Image

    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "RGB" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, F
    return img
