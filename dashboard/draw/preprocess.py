"""Turn an uploaded or drawn image into the 28x28 digit a model trained on MNIST expects.

Pillow and scipy.ndimage, no TensorFlow. Two steps:

- :func:`decode_data_url` and :func:`decode_image` open untrusted bytes safely: only PNG
  and JPEG, a size cap, a cap on decoded pixels checked from the header (a JPEG photo is
  decoded at a reduced scale, anything else larger is refused), Pillow's pixel limit
  (decompression bombs are errors), one frame, and the EXIF orientation applied (phone
  photos). Every refusal is an :class:`ImageRejected` whose message can be shown to a user as is.
- :func:`to_mnist` prepares the picture the way MNIST was made: grayscale, light ink on a
  dark ground, cropped to the ink, scaled to fit 20x20 keeping the aspect ratio, and placed
  in a 28x28 frame so that its centre of mass is at the centre.

:func:`preprocess_upload` chains both; the Draw page's callbacks call exactly that. A drawing made
on the board's 28x28 grid is already at the network's resolution: :func:`grid_to_mnist` only moves
it so its centre of mass is in the middle, and :func:`preprocess_canvas` picks that for a 28x28 board.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

FORMATS = ["PNG", "JPEG"]
# A digit needs no more than 2000x2000 pixels: nothing larger is ever decoded (its float copy is 16 MB).
MAX_PIXELS = 4_000_000
# A JPEG decodes at 1/2, 1/4 or 1/8 scale for free (Image.draft), so photos up to 8x8 times the
# cap are accepted and read small; Pillow's own bomb limit (89 million) is far above.
JPEG_SCALES = (1, 2, 4, 8)
FRAME = 28  # MNIST's image side
BOX = 20  # MNIST scaled each digit to fit this box, then centred it in the frame
WORK = 4 * BOX  # side of the working resolution where thin strokes are widened
INK_FRACTION = 0.2  # pixels fainter than this share of the brightest one are not ink
MIN_CONTRAST = 24 / 255  # ink must differ this much from the ground to count at all
TARGET_STROKE = 2.0  # MNIST strokes are about two pixels wide in the 20-pixel box
DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.ASCII)


class ImageRejected(ValueError):
    """An image that cannot be used; ``str(error)`` is a plain-English message for the page."""


def decode_data_url(contents: object, max_bytes: int) -> bytes:
    """Return the bytes of a ``data:...;base64,...`` URL (what dcc.Upload and the canvas send).

    Args:
        contents: the data URL.
        max_bytes: the largest accepted file; checked before decoding.

    Raises:
        ImageRejected: not a base64 data URL, or larger than ``max_bytes``.
    """
    if not isinstance(contents, str) or not contents:
        raise ImageRejected("Nothing was received: draw a digit or choose a PNG or JPEG file.")
    match = DATA_URL.match(contents[:200])
    if match is None:
        raise ImageRejected("The upload could not be read: it is not an encoded file.")
    payload = contents[match.end():]
    # Four base64 characters carry three bytes: refuse before allocating the decoded copy.
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise ImageRejected(f"The file is larger than the {_megabytes(max_bytes)} limit.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected("The upload could not be read: its encoding is damaged.") from None
    if len(data) > max_bytes:
        raise ImageRejected(f"The file is larger than the {_megabytes(max_bytes)} limit.")
    if not data:
        raise ImageRejected("The file is empty.")
    return data


def decode_image(data: bytes, max_bytes: int, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Open PNG or JPEG bytes and return their gray levels, upright and at most ``max_pixels``.

    Transparent pixels are laid over a ground that contrasts with the opaque ones, so a
    digit drawn on a transparent background keeps its ink. 16-bit images are scaled, not
    clipped. The EXIF orientation of a photo is applied. The size is checked from the
    header before anything is decoded: a larger JPEG is decoded at 1/2, 1/4 or 1/8 scale,
    any other larger image is refused.

    Args:
        data: the file's bytes.
        max_bytes: the largest accepted file.
        max_pixels: the most pixels (width x height) ever decoded.

    Returns:
        float32 (height, width) in [0, 1], height x width <= ``max_pixels``.

    Raises:
        ImageRejected: too large, not PNG/JPEG, damaged or truncated, a decompression
            bomb, animated or multi-frame.
    """
    if len(data) > max_bytes:
        raise ImageRejected(f"The file is larger than the {_megabytes(max_bytes)} limit.")
    try:
        # Turning the warning into an error refuses images between Pillow's two bomb limits too.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                if getattr(image, "n_frames", 1) > 1 or getattr(image, "is_animated", False):
                    raise ImageRejected("Animated or multi-frame images are not supported: upload a single picture.")
                _shrink_while_decoding(image, max_pixels)
                image.load()
                return _gray(ImageOps.exif_transpose(image))
    except ImageRejected:
        raise
    except UnidentifiedImageError:
        raise ImageRejected("This is not a PNG or JPEG image.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            "The image declares far more pixels than its file size allows (a decompression bomb); it was refused."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError):
        raise ImageRejected("The image file is damaged or incomplete (truncated) and cannot be read.") from None


def _shrink_while_decoding(image: Image.Image, max_pixels: int) -> None:
    """Make an opened (not yet loaded) image decode to at most ``max_pixels``, or refuse it.

    Only the header has been read here. A JPEG is told to decode at the smallest of its
    DCT scales that fits (no full-size copy is ever made); other formats cannot, so a
    larger one is refused.

    Raises:
        ImageRejected: the image cannot be decoded within ``max_pixels``.
    """
    width, height = image.size
    if width * height <= max_pixels:
        return
    if image.format == "JPEG":
        scale = next((k for k in JPEG_SCALES if (width // k) * (height // k) <= max_pixels), None)
        if scale is not None:
            # draft picks the largest reduction that keeps at least the requested size.
            image.draft(image.mode if image.mode in ("L", "RGB") else None, (width // scale, height // scale))
            if image.size[0] * image.size[1] <= max_pixels:
                return
    side = int(max_pixels**0.5)
    raise ImageRejected(
        f"The image declares {width}x{height} pixels, more than the {max_pixels / 1_000_000:g} million "
        f"(about {side}x{side}) this page decodes{'' if image.format == 'JPEG' else ' from a PNG'}; "
        "a digit needs far fewer. Scale the picture down and upload it again."
    )


def _gray(image: Image.Image) -> np.ndarray:
    """Return float32 gray levels in [0, 1] of a loaded image, alpha resolved."""
    if image.mode.startswith("I;16") or image.mode == "I":
        # Pillow's convert("L") clips 16-bit values at 255 instead of scaling them.
        return np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        return np.clip(values / max(float(values.max()), 1.0), 0.0, 1.0)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    rgba = np.asarray(image.convert("LA"), dtype=np.float32) / 255.0
    gray, alpha = rgba[..., 0], rgba[..., 1]
    if alpha.sum() < 1e-6:
        return np.zeros_like(gray)
    # Dark strokes on a transparent sheet belong on white paper, light ones on black.
    ground = 1.0 if float((gray * alpha).sum() / alpha.sum()) < 0.5 else 0.0
    return gray * alpha + ground * (1.0 - alpha)


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Return the MNIST-style 28x28 digit of a grayscale picture.

    Steps: make the ink light on a dark ground (inverting when the border is light), crop
    to the ink's bounding box, widen strokes thinner than MNIST's, scale to fit 20x20 with
    area resampling (keeping the aspect ratio), then place it in a 28x28 frame with its
    centre of mass at the centre.

    Args:
        gray: (height, width) gray levels in [0, 1] (or 0-255).

    Returns:
        uint8 (28, 28), ink 0-255 on 0, brightest pixel 255.

    Raises:
        ImageRejected: the picture has no ink.
    """
    values = np.asarray(gray, dtype=np.float32)
    if values.ndim != 2 or values.size == 0:
        raise ImageRejected("The image is empty.")
    if values.max() > 1.0:
        values = values / 255.0
    ink = _ink(values)
    rows, cols = np.nonzero(ink >= INK_FRACTION)
    ink = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    ink = _resize(ink, _fit(ink.shape, WORK))
    ink = _widen(_saturate(ink), WORK / BOX)
    digit = _resize(ink, _fit(ink.shape, BOX))
    digit = digit / max(float(digit.max()), 1e-6)
    return _centre(digit)


def preprocess_upload(contents: object, max_bytes: int) -> np.ndarray:
    """Return the 28x28 uint8 model input for a data URL from dcc.Upload or the canvas.

    Raises:
        ImageRejected: any reason the image cannot be used (message for the page).
    """
    return to_mnist(decode_image(decode_data_url(contents, max_bytes), max_bytes))


def grid_to_mnist(gray: np.ndarray) -> np.ndarray:
    """Return a digit drawn on the 28x28 grid as the network's input: each cell is one input pixel.

    Nothing is cropped, scaled or widened (a one-cell stroke stays one pixel wide); the ink is
    made light on dark and moved by whole pixels so its centre of mass is at the centre, as far
    as that keeps every lit cell in the frame.

    Args:
        gray: (28, 28) gray levels in [0, 1] (or 0-255).

    Returns:
        uint8 (28, 28), ink 0-255 on 0, brightest pixel 255.

    Raises:
        ImageRejected: the picture is not 28x28 or has no ink.
    """
    values = np.asarray(gray, dtype=np.float32)
    if values.shape != (FRAME, FRAME):
        raise ImageRejected(f"A drawing on the 28x28 grid must be 28x28 pixels, not {values.shape}.")
    if values.max() > 1.0:
        values = values / 255.0
    ink = _ink(values)
    rows, cols = np.nonzero(ink > 0)
    centre_row, centre_col = ndimage.center_of_mass(ink)
    down = int(np.clip(round(FRAME / 2 - centre_row), -rows.min(), FRAME - 1 - rows.max()))
    right = int(np.clip(round(FRAME / 2 - centre_col), -cols.min(), FRAME - 1 - cols.max()))
    moved = np.roll(ink, (down, right), axis=(0, 1))  # no wrap-around: the shift keeps every lit cell inside
    return np.clip(np.rint(moved * 255.0), 0, 255).astype(np.uint8)


def preprocess_canvas(contents: object, max_bytes: int) -> np.ndarray:
    """Return the model input for the Draw board's data URL: a 28x28 board is the grid, any other size a drawing.

    Raises:
        ImageRejected: any reason the image cannot be used (message for the page).
    """
    gray = decode_image(decode_data_url(contents, max_bytes), max_bytes)
    return grid_to_mnist(gray) if gray.shape == (FRAME, FRAME) else to_mnist(gray)


def _ink(values: np.ndarray) -> np.ndarray:
    """Return ink strength in [0, 1]: light strokes on a zero ground, normalised to max 1."""
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    ground = float(np.median(border))
    if ground > 0.5:
        values, ground = 1.0 - values, 1.0 - ground
    ink = np.clip(values - ground, 0.0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ImageRejected("No ink was found: the image is a single flat colour. Draw or upload a digit.")
    return ink / peak


def _saturate(ink: np.ndarray) -> np.ndarray:
    """Scale ink so a typical stroke pixel is 1 (clipped), not only the brightest one.

    Area resampling turns a thin stroke into faint coverage, twice as strong where two
    strokes cross; dividing by the maximum would leave the strokes at half strength.
    """
    strokes = ink[ink > INK_FRACTION * float(ink.max())]
    level = float(np.percentile(strokes, 90)) if strokes.size else float(ink.max())
    return np.clip(ink / max(level, 1e-6), 0.0, 1.0)


def _fit(shape: tuple[int, int], side: int) -> tuple[int, int]:
    """Return (height, width) scaled so the longer side is ``side``, keeping the aspect ratio."""
    height, width = shape
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize float values: box (area) filter when shrinking, so every ink pixel counts."""
    if values.shape == shape:
        return values
    image = Image.fromarray(values.astype(np.float32), mode="F")
    shrinking = shape[0] <= values.shape[0] and shape[1] <= values.shape[1]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(image.resize((shape[1], shape[0]), resample), dtype=np.float32)


def _widen(ink: np.ndarray, scale: float) -> np.ndarray:
    """Dilate strokes narrower than MNIST's (``TARGET_STROKE`` final pixels) at ``scale`` pixels per final pixel."""
    mask = ink >= 0.5
    area = int(mask.sum())
    if area == 0:
        return ink
    inner = _max_filter(~mask, 3)  # pixels next to the ground
    edge = int((mask & inner).sum())
    # A stroke of width w and length L has area w*L and about 2*L edge pixels.
    width = 2.0 * area / max(edge, 1)
    missing = TARGET_STROKE * scale - width
    if missing < 1:
        return ink
    return _max_filter(ink, int(missing) + 1)


def _max_filter(values: np.ndarray, size: int) -> np.ndarray:
    """Return the maximum over a size x size window around each pixel (outside the image counts as 0).

    An even window reaches one pixel further after the centre than before it (``origin=-1``).
    """
    return ndimage.maximum_filter(values, size=size, mode="constant", cval=0, origin=0 if size % 2 else -1)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place a digit of at most 20x20 in a 28x28 frame with its centre of mass at (14, 14)."""
    height, width = digit.shape
    centre_row, centre_col = ndimage.center_of_mass(digit)
    # Real MNIST test digits have their centre of mass at row and column 14 (0-based), not 13.5.
    top = int(np.clip(round(FRAME / 2 - centre_row), 0, FRAME - height))
    left = int(np.clip(round(FRAME / 2 - centre_col), 0, FRAME - width))
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    frame[top: top + height, left: left + width] = digit
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"
