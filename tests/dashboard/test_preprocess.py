"""The Draw page's image handling: safe decoding of uploads and MNIST-style preprocessing (no TensorFlow)."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dashboard.draw.preprocess import (
    ImageRejected,
    decode_data_url,
    decode_image,
    preprocess_upload,
    to_mnist,
)

LIMIT = 2 * 1024 * 1024


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def seven(size: int = 200, width: int = 18, offset: tuple[int, int] = (0, 0), ink: int = 255,
          ground: int = 0) -> Image.Image:
    """A '7' drawn with lines (light ink on dark ground by default), moved by ``offset``."""
    image = Image.new("L", (size, size), ground)
    draw = ImageDraw.Draw(image)
    dx, dy = offset
    scale = size / 200
    top = [(50 * scale + dx, 40 * scale + dy), (150 * scale + dx, 40 * scale + dy)]
    stem = [(150 * scale + dx, 40 * scale + dy), (90 * scale + dx, 170 * scale + dy)]
    draw.line(top, fill=ink, width=width)
    draw.line(stem, fill=ink, width=width)
    return image


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


# -- preprocessing --------------------------------------------------------------

@pytest.mark.parametrize("offset", [(-45, -35), (45, 25), (-45, 25)])
def test_a_digit_in_a_corner_comes_back_centred(offset):
    big = np.zeros((400, 400), dtype=np.uint8)
    big[:200, :200] = np.asarray(seven())  # the digit sits in the top-left quarter
    shifted = np.roll(big, offset, axis=(0, 1))
    result = to_mnist(shifted / 255.0)
    row, col = centre_of_mass(result.astype(np.float64))
    assert result.shape == (28, 28) and result.dtype == np.uint8
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1, (row, col)
    # Scaled to fit 20x20: the ink's bounding box is at most 20 pixels on its longer side.
    rows, cols = np.nonzero(result)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21


def test_dark_on_light_and_light_on_dark_give_the_same_input():
    light_on_dark = to_mnist(np.asarray(seven(ink=255, ground=0)) / 255.0)
    dark_on_light = to_mnist(np.asarray(seven(ink=0, ground=255)) / 255.0)
    assert light_on_dark.max() == 255
    assert np.abs(light_on_dark.astype(int) - dark_on_light.astype(int)).max() <= 1


def test_a_one_pixel_stroke_survives_downsampling():
    thin = to_mnist(np.asarray(seven(size=1000, width=1)) / 255.0)
    pen = to_mnist(np.asarray(seven(size=1000, width=45)) / 255.0)  # an MNIST-like stroke
    assert (thin > 0).sum() >= 30
    assert (thin >= 128).sum() >= 20  # bright strokes, not a faint haze
    # Recognisable: the thin stroke traces the same 7 as a pen stroke, within two pixels both ways
    # (a pen stroke's own width makes its box, and so its scale, a little different).
    thin_mask, pen_mask = thin >= 64, pen >= 64
    assert (thin_mask & near(near(pen_mask))).sum() / thin_mask.sum() >= 0.95
    assert (pen_mask & near(near(thin_mask))).sum() / pen_mask.sum() >= 0.95


def near(mask: np.ndarray) -> np.ndarray:
    """The pixels within one pixel (8-neighbourhood) of ``mask``."""
    padded = np.pad(mask, 1)
    return np.any([padded[1 + dy: 29 + dy, 1 + dx: 29 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)


def test_a_real_mnist_digit_survives_a_round_trip_at_4x(mnist_test_set):
    images, _ = mnist_test_set
    errors = []
    for image in images[:50]:
        upscaled = Image.fromarray(image).resize((112, 112), Image.Resampling.BILINEAR)
        result = preprocess_upload(data_url(encode(upscaled)), LIMIT)
        errors.append(np.abs(result.astype(int) - image.astype(int)).mean())
    assert np.median(errors) < 15  # gray levels out of 255: the same digit in the same place


def test_no_ink_is_refused():
    with pytest.raises(ImageRejected, match="No ink"):
        to_mnist(np.full((50, 50), 0.8))


# -- decoding: images that should work ---------------------------------------------

def test_sixteen_bit_png_is_scaled_not_clipped():
    digit = (np.asarray(seven(), dtype=np.uint16) * 257).astype(np.uint16)
    image = Image.fromarray(digit)
    assert image.mode.startswith("I")
    gray = decode_image(encode(image), LIMIT)
    assert gray.max() == pytest.approx(1.0) and gray.min() == 0.0
    assert np.array_equal(to_mnist(gray), to_mnist(np.asarray(seven()) / 255.0))


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255)])
def test_rgba_on_a_transparent_background_keeps_its_ink(ink):
    alpha = np.asarray(seven())
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = alpha
    result = preprocess_upload(data_url(encode(Image.fromarray(rgba, "RGBA"))), LIMIT)
    expected = to_mnist(alpha / 255.0)
    assert np.abs(result.astype(int) - expected.astype(int)).max() <= 2


def test_palette_png_with_and_without_transparency_works():
    expected = to_mnist(np.asarray(seven()) / 255.0)
    palette = seven(ink=0, ground=255).convert("P")
    assert np.abs(preprocess_upload(data_url(encode(palette)), LIMIT).astype(int) - expected).max() <= 2
    with_transparency = seven(ink=1, ground=0).convert("P")
    data = encode(with_transparency, transparency=0)
    assert Image.open(io.BytesIO(data)).info.get("transparency") is not None
    assert (preprocess_upload(data_url(data), LIMIT) > 0).sum() > 30


def test_jpeg_photo_of_a_dark_digit_works():
    photo = seven(ink=30, ground=220).convert("RGB")
    result = preprocess_upload(data_url(encode(photo, "JPEG", quality=70), "image/jpeg"), LIMIT)
    expected = to_mnist(np.asarray(seven()) / 255.0)
    assert ((result >= 128) & (expected >= 128)).sum() / (expected >= 128).sum() >= 0.8


# -- decoding: images that must be refused -------------------------------------------

def test_not_an_image():
    with pytest.raises(ImageRejected, match="not a PNG or JPEG"):
        decode_image(b"hello, this is plain text", LIMIT)


def test_a_gif_is_not_accepted():
    with pytest.raises(ImageRejected, match="not a PNG or JPEG"):
        decode_image(encode(seven(), "GIF"), LIMIT)


def test_truncated_png():
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8)))
    with pytest.raises(ImageRejected, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2], LIMIT)


def test_a_file_over_the_limit_is_refused_before_decoding():
    payload = data_url(b"\0" * (LIMIT + 10))
    with pytest.raises(ImageRejected, match="larger than the 2 MB limit"):
        decode_data_url(payload, LIMIT)
    with pytest.raises(ImageRejected, match="larger than"):
        decode_image(b"\0" * (LIMIT + 1), LIMIT)


def test_a_decompression_bomb_is_refused():
    with pytest.raises(ImageRejected, match="decompression bomb"):
        decode_image(png_header_only(20000, 20000), LIMIT)


def test_an_image_over_the_pixel_limit_is_refused_without_decoding():
    # Between this page's limit and Pillow's own: refused on the header alone.
    with pytest.raises(ImageRejected, match="declares 6000x6000 pixels"):
        decode_image(png_header_only(6000, 6000), LIMIT)


def test_an_animated_png_is_refused():
    frames = [seven(), seven(offset=(10, 10))]
    data = encode(frames[0], save_all=True, append_images=frames[1:])
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    with pytest.raises(ImageRejected, match="Animated or multi-frame"):
        decode_image(data, LIMIT)


@pytest.mark.parametrize("contents", [None, "", 42])
def test_nothing_received(contents):
    with pytest.raises(ImageRejected, match="Nothing was received"):
        decode_data_url(contents, LIMIT)


@pytest.mark.parametrize("contents", ["hello", "data:image/png,rawtext", "data:image/png;base64,@@@@"])
def test_malformed_data_urls(contents):
    with pytest.raises(ImageRejected, match="could not be read"):
        decode_data_url(contents, LIMIT)


def test_a_flat_image_has_no_ink():
    with pytest.raises(ImageRejected, match="No ink"):
        preprocess_upload(data_url(encode(Image.new("RGB", (280, 280), (0, 0, 0)))), LIMIT)


# -- issue 10: phone photos and huge pictures --------------------------------------------


@pytest.mark.parametrize(("orientation", "stored"), [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                                                     (3, Image.Transpose.ROTATE_180)])
def test_a_phone_photo_is_read_upright_from_its_exif_orientation(orientation, stored):
    # A phone stores the sensor's pixels turned and says how to show them in EXIF tag 274.
    upright = seven(size=240, ink=0, ground=255).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = encode(upright.transpose(stored), "JPEG", quality=95, exif=exif.tobytes())
    plain = encode(upright, "JPEG", quality=95)
    expected = to_mnist(decode_image(plain, LIMIT))
    got = to_mnist(decode_image(photo, LIMIT))
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 4
    sideways = to_mnist(decode_image(encode(upright.transpose(stored), "JPEG", quality=95), LIMIT))
    assert np.abs(sideways.astype(int) - expected.astype(int)).mean() > 20  # the check can tell


def test_a_huge_png_is_refused_from_its_header_with_a_clear_message():
    # 6000x4000 of flat white compresses to a few hundred KB but would decode to 96 MB and more.
    data = encode(Image.new("L", (6000, 4000), 255))
    assert len(data) < LIMIT
    with pytest.raises(ImageRejected, match=r"declares 6000x4000 pixels.*4 million.*Scale the picture down"):
        decode_image(data, LIMIT)


def test_a_large_jpeg_photo_is_decoded_at_a_reduced_scale():
    photo = seven(size=4000, width=300, ink=0, ground=255).resize((6000, 4000)).convert("RGB")
    data = encode(photo, "JPEG", quality=60)
    assert len(data) < LIMIT
    gray = decode_image(data, LIMIT)
    assert gray.shape == (1000, 1500)  # the JPEG decoder's 1/4 scale: never 24 million pixels
    digit = to_mnist(gray)
    assert digit.max() == 255 and digit.shape == (28, 28)
