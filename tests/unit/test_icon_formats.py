"""The icon containers written by packaging/icon_formats.py.

Where possible the files are read back by an independent implementation, Qt's own ICO
and ICNS image plugins, rather than by the code that wrote them.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import zlib
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QImageReader

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "resources" / "icons"


def _load_icon_formats():
    spec = importlib.util.spec_from_file_location(
        "icon_formats", ROOT / "packaging" / "icon_formats.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["icon_formats"] = module
    spec.loader.exec_module(module)
    return module


icf = _load_icon_formats()


# -- helpers: an independent PNG writer with every filter type ---------------------------
def _filtered_png(width: int, height: int, pixels: bytes, channels: int, filter_type: int) -> bytes:
    """Encode with one PNG filter on every row (the forward direction of the filters that
    decode_png reverses), for colour types grey (1), grey+alpha (2), RGB (3), RGBA (4)."""
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    stride = width * channels
    prev = bytes(stride)
    raw = bytearray()
    for y in range(height):
        row = pixels[y * stride : (y + 1) * stride]
        out = bytearray()
        for i, value in enumerate(row):
            left = row[i - channels] if i >= channels else 0
            up = prev[i]
            up_left = prev[i - channels] if i >= channels else 0
            if filter_type == 0:
                predictor = 0
            elif filter_type == 1:
                predictor = left
            elif filter_type == 2:
                predictor = up
            elif filter_type == 3:
                predictor = (left + up) // 2
            else:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
            out.append((value - predictor) % 256)
        raw += bytes([filter_type]) + out
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        icf.PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


def _pattern(width: int, height: int, channels: int) -> bytes:
    """Pixels that exercise every filter: gradients, noise-like steps and zero alpha."""
    data = bytearray()
    for y in range(height):
        for x in range(width):
            for c in range(channels):
                data.append((x * 37 + y * 91 + c * 53 + (x * y) % 17) % 256)
    return bytes(data)


def _rgba(image: QImage) -> bytes:
    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    stride = converted.width() * 4
    raw = bytes(converted.constBits())
    return b"".join(
        raw[y * converted.bytesPerLine() : y * converted.bytesPerLine() + stride]
        for y in range(converted.height())
    )


def _qt_images(data: bytes, fmt: bytes) -> list[QImage]:
    array = QByteArray(data)
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer, fmt)
    images = []
    for i in range(reader.imageCount()):
        reader.jumpToImage(i)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        images.append(image)
    return images


def _assert_same_pixels(got: bytes, expected: bytes, label: str) -> None:
    """Equal alpha everywhere; equal colour where it is visible. Qt's ICO reader goes
    through premultiplied alpha, which rounds translucent colours by up to 255/alpha and
    forgets the colour of invisible pixels; a swapped channel or flipped row is far off."""
    assert len(got) == len(expected), label
    for i in range(0, len(expected), 4):
        alpha = expected[i + 3]
        assert got[i + 3] == alpha, f"{label}: alpha of pixel {i // 4}"
        if alpha:
            slack = 255 // alpha + 1
            for c in range(3):
                assert abs(got[i + c] - expected[i + c]) <= slack, f"{label}: pixel {i // 4}"


def _square_png(size: int) -> bytes:
    pixels = bytearray(_pattern(size, size, 4))
    for i in range(3, len(pixels), 4 * 7):  # every 7th pixel fully transparent
        pixels[i] = 0
    return icf.encode_png(icf.Image(size, size, bytes(pixels)))


# -- PNG ---------------------------------------------------------------------------------
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_decode_png_reverses_every_filter_and_colour_type(filter_type, channels):
    width, height = 9, 7
    pixels = _pattern(width, height, channels)
    image = icf.decode_png(_filtered_png(width, height, pixels, channels, filter_type))
    assert (image.width, image.height) == (width, height)
    for i in range(width * height):
        px = pixels[i * channels : (i + 1) * channels]
        if channels == 1:
            expected = (px[0], px[0], px[0], 255)
        elif channels == 2:
            expected = (px[0], px[0], px[0], px[1])
        elif channels == 3:
            expected = (px[0], px[1], px[2], 255)
        else:
            expected = tuple(px)
        assert tuple(image.rgba[i * 4 : i * 4 + 4]) == expected, f"pixel {i}"


def test_decode_png_agrees_with_qt_on_a_rendered_icon():
    data = (ICONS / "stockbridge-48.png").read_bytes()
    ours = icf.decode_png(data)
    (qt,) = _qt_images(data, b"png")
    assert (ours.width, ours.height) == (48, 48)
    assert ours.rgba == _rgba(qt)


def test_encode_png_round_trips_and_qt_reads_it():
    image = icf.Image(5, 3, _pattern(5, 3, 4))
    data = icf.encode_png(image)
    assert icf.decode_png(data) == image
    (qt,) = _qt_images(data, b"png")
    assert _rgba(qt) == image.rgba


def test_unsupported_png_is_refused_not_misread():
    data = bytearray(_filtered_png(2, 2, bytes(16), 4, 0))
    data[24] = 16  # bit depth 16
    body = bytes(data[12:29])
    data[29:33] = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    with pytest.raises(ValueError, match="bit depth 16"):
        icf.decode_png(bytes(data))
    with pytest.raises(ValueError, match="not a PNG"):
        icf.decode_png(b"GIF89a" + bytes(30))


# -- ICO ---------------------------------------------------------------------------------
def test_ico_directory_and_payloads():
    pngs = {size: _square_png(size) for size in (16, 32, 256)}
    data = icf.build_ico(pngs)
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, 3)
    entries = [struct.unpack_from("<BBBBHHII", data, 6 + 16 * i) for i in range(count)]
    assert [(e[0], e[1]) for e in entries] == [(16, 16), (32, 32), (0, 0)]  # 0 means 256
    assert all(e[4:6] == (1, 32) for e in entries)  # planes, bits per pixel
    end = 6 + 16 * count
    for *_, length, offset in entries:
        assert offset == end  # payloads follow each other without gaps
        end += length
    assert end == len(data)
    *_, length, offset = entries[2]
    assert data[offset : offset + length] == pngs[256]  # 256 px stays PNG
    *_, length, offset = entries[0]
    header = struct.unpack_from("<IiiHHI", data, offset)
    assert header == (40, 16, 32, 1, 32, 0)  # DIB: double height for colour + mask
    assert length == 40 + 16 * 16 * 4 + 16 * 4  # BGRA rows + 1-bit mask padded to 32 bits


def test_qt_reads_every_ico_image_with_the_same_pixels(qapp):
    pngs = {size: _square_png(size) for size in (16, 24, 48, 256)}
    images = _qt_images(icf.build_ico(pngs), b"ico")
    assert [(i.width(), i.height()) for i in images] == [(s, s) for s in sorted(pngs)]
    for size, image in zip(sorted(pngs), images, strict=True):
        _assert_same_pixels(_rgba(image), icf.decode_png(pngs[size]).rgba, f"{size} px")


def test_ico_and_mask_marks_exactly_the_transparent_pixels():
    # 3x3, only the top-left pixel transparent. DIB rows are stored bottom-up.
    rgba = bytes([255, 0, 0, 0]) + bytes([0, 255, 0, 255]) * 8
    data = icf.build_ico({3: icf.encode_png(icf.Image(3, 3, rgba))})
    (*_, length, offset) = struct.unpack_from("<BBBBHHII", data, 6)
    dib = data[offset : offset + length]
    colour = dib[40 : 40 + 3 * 3 * 4]
    mask = dib[40 + 3 * 3 * 4 :]
    assert colour[:4] == bytes([0, 255, 0, 255])  # bottom row first, in B, G, R, A order
    assert colour[24:28] == bytes([0, 0, 255, 0])  # the top-left pixel: red, alpha 0
    # One bit a pixel, rows padded to 4 bytes; 1 = transparent; bottom row first.
    assert mask == bytes(4) + bytes(4) + bytes([0b10000000, 0, 0, 0])


def test_ico_refuses_what_windows_could_not_show():
    with pytest.raises(ValueError, match="at least one"):
        icf.build_ico({})
    with pytest.raises(ValueError, match="not 32x32"):
        icf.build_ico({32: _square_png(16)})
    with pytest.raises(ValueError, match="at most 256"):
        icf.build_ico({512: _square_png(512)})


# -- ICNS --------------------------------------------------------------------------------
def test_icns_chunks_hold_the_pngs():
    pngs = {size: _square_png(size) for size in (32, 64, 128, 256, 512, 1024)}
    data = icf.build_icns(pngs)
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    chunks, pos = {}, 8
    while pos < len(data):
        kind = data[pos : pos + 4].decode()
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        chunks[kind] = data[pos + 8 : pos + length]
        pos += length
    assert pos == len(data)
    assert {"ic07", "ic08", "ic09", "ic10"} <= set(chunks)
    for kind, size in icf.ICNS_TYPES.items():
        assert chunks[kind] == pngs[size], kind


def test_icns_with_only_some_sizes_and_qt_reads_it(qapp):
    pngs = {128: _square_png(128), 256: _square_png(256)}
    data = icf.build_icns(pngs)
    sizes = sorted(i.width() for i in _qt_images(data, b"icns"))
    assert sizes == [128, 256, 256]  # ic07, ic08 and ic13 (128@2x)
    with pytest.raises(ValueError, match="at least one"):
        icf.build_icns({48: _square_png(48)})


# -- rendering and the committed files ---------------------------------------------------
def test_tray_template_is_a_black_silhouette_at_1x_and_2x(qapp):
    for size in (22, 44):
        image = icf.decode_png(icf.render_tray_template(size))
        assert (image.width, image.height) == (size, size)
        alphas = image.rgba[3::4]
        assert min(alphas) == 0 and max(alphas) == 255  # shape and background both there
        for i in range(0, len(image.rgba), 4):
            if image.rgba[i + 3]:
                assert image.rgba[i : i + 3] == b"\x00\x00\x00", "template images are black"
        # The glyph spans the width and sits in the middle: a menu bar icon that hugs
        # one edge or shrinks into a corner looks wrong next to the system's.
        columns = [any(alphas[y * size + x] for y in range(size)) for x in range(size)]
        rows = [any(alphas[y * size : (y + 1) * size]) for y in range(size)]
        left, right = columns.index(True), size - 1 - columns[::-1].index(True)
        top, bottom = rows.index(True), size - 1 - rows[::-1].index(True)
        assert left <= 1 and right >= size - 2, (left, right)
        assert abs(top - (size - 1 - bottom)) <= max(1, size // 22), (top, bottom)


def test_write_all_produces_every_file(qapp, tmp_path):
    written = icf.write_all(tmp_path, ICONS)
    names = sorted(p.name for p in written)
    assert names == [
        "stockbridge-trayTemplate.png",
        "stockbridge-trayTemplate@2x.png",
        "stockbridge.icns",
        "stockbridge.ico",
    ]
    assert all(p.stat().st_size > 0 for p in written)


def test_committed_windows_icon_is_current():
    """resources/icons/stockbridge.ico must be the multi-size icon built from the committed
    PNGs; if this fails, run `python packaging/icon_formats.py`."""
    pngs = {size: (ICONS / f"stockbridge-{size}.png").read_bytes() for size in icf.ICO_SIZES}
    assert (ICONS / "stockbridge.ico").read_bytes() == icf.build_ico(pngs)


def test_committed_mac_icons_exist_and_are_well_formed(qapp):
    icns = (ICONS / "stockbridge.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    sizes = sorted({i.width() for i in _qt_images(icns, b"icns")})
    assert sizes == [32, 64, 128, 256, 512, 1024]
    assert icf.png_size((ICONS / "stockbridge-trayTemplate.png").read_bytes()) == (22, 22)
    assert icf.png_size((ICONS / "stockbridge-trayTemplate@2x.png").read_bytes()) == (44, 44)
