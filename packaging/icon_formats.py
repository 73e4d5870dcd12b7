"""Build the platform icon containers from Stockbridge's PNG renderings.

    python packaging/icon_formats.py            # writes into resources/icons
    python packaging/icon_formats.py --out DIR

Writes:

* ``stockbridge.ico``: Windows icon with 16, 24, 32, 48, 64, 128 and 256 px images. Sizes
  below 256 are stored as 32-bit DIBs and 256 as PNG, the layout Microsoft recommends:
  every Windows version, the resource compiler PyInstaller uses and Inno Setup read it.
* ``stockbridge.icns``: macOS icon with PNG chunks ic07 (128), ic08 (256), ic09 (512),
  ic10 (1024, i.e. 512@2x) plus the other Retina pairs ic11-ic14.
* ``stockbridge-trayTemplate.png`` and ``@2x``: a black-on-transparent silhouette for the
  macOS menu bar, which tints template images itself for light and dark menu bars.

The container code is plain ``struct``/``zlib`` so it needs nothing beyond the standard
library; only rendering (the large sizes and the template) uses Qt, through the same
drawing the app uses, so the icons never drift from what the window shows.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS_DIR = ROOT / "resources" / "icons"

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS chunk type -> pixel size. All are PNG-payload types (macOS 10.7+ for ic07-ic10,
# 10.8+ for ic11-ic14); the older raw-bitmap types are not worth their complexity.
ICNS_TYPES: dict[str, int] = {
    "ic11": 32,  # 16@2x
    "ic12": 64,  # 32@2x
    "ic07": 128,
    "ic13": 256,  # 128@2x
    "ic08": 256,
    "ic14": 512,  # 256@2x
    "ic09": 512,
    "ic10": 1024,  # 512@2x
}
TEMPLATE_SIZE = 22  # points: the height of a macOS menu bar extra's canvas
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- PNG ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Image:
    """Straight (non-premultiplied) RGBA pixels, rows top to bottom."""

    width: int
    height: int
    rgba: bytes

    def __post_init__(self) -> None:
        if len(self.rgba) != self.width * self.height * 4:
            raise ValueError("pixel data does not match the image size")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, without decoding the pixels."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> Image:
    """Decode an 8-bit, non-interlaced PNG (RGBA, RGB, grey or grey+alpha) to RGBA.

    That covers everything Qt and the usual tools write for icons; anything else is
    refused with a clear error rather than decoded wrongly.
    """
    width, height = png_size(data)
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    depth, colour, _, _, interlace = header[8:13]
    channels = {6: 4, 2: 3, 0: 1, 4: 2}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(
            f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})"
        )
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    out = bytearray(height * stride)
    prev = bytearray(stride)
    src = 0
    for y in range(height):
        kind = raw[src]
        line = bytearray(raw[src + 1 : src + 1 + stride])
        src += 1 + stride
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                upper_left = prev[i - channels] if i >= channels else 0
                line[i] = (line[i] + _paeth(left, prev[i], upper_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"bad PNG filter type {kind} on row {y}")
        out[y * stride : (y + 1) * stride] = line
        prev = line
    if channels == 4:
        return Image(width, height, bytes(out))
    rgba = bytearray(width * height * 4)
    for i in range(width * height):
        px = out[i * channels : (i + 1) * channels]
        if channels == 3:
            rgba[i * 4 : i * 4 + 4] = bytes((px[0], px[1], px[2], 255))
        elif channels == 2:
            rgba[i * 4 : i * 4 + 4] = bytes((px[0], px[0], px[0], px[1]))
        else:
            rgba[i * 4 : i * 4 + 4] = bytes((px[0], px[0], px[0], 255))
    return Image(width, height, bytes(rgba))


def encode_png(image: Image) -> bytes:
    """A minimal, valid RGBA PNG (filter 0 on every row; zlib does the work)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    stride = image.width * 4
    rows = b"".join(
        b"\x00" + image.rgba[y * stride : (y + 1) * stride] for y in range(image.height)
    )
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 6, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


# -- ICO ---------------------------------------------------------------------------------
def _dib(image: Image) -> bytes:
    """An ICO image entry as a 32-bit BGRA DIB plus its 1-bit AND mask.

    The DIB header states twice the height because ICO stores the colour bitmap and the
    mask one above the other; both are bottom-up. Windows uses the alpha channel, but
    the mask is still filled in (transparent where alpha is 0) for tools that do not.
    """
    w, h = image.width, image.height
    mask_stride = ((w + 31) // 32) * 4  # 1 bit a pixel, rows padded to 32 bits
    colour = bytearray()
    mask = bytearray()
    for y in range(h - 1, -1, -1):
        row = image.rgba[y * w * 4 : (y + 1) * w * 4]
        mask_row = bytearray(mask_stride)
        for x in range(w):
            r, g, b, a = row[x * 4 : x * 4 + 4]
            colour += bytes((b, g, r, a))
            if a == 0:
                mask_row[x // 8] |= 0x80 >> (x % 8)
        mask += mask_row
    header = struct.pack(
        "<IiiHHIIiiII", 40, w, h * 2, 1, 32, 0, len(colour) + len(mask), 0, 0, 0, 0
    )
    return header + bytes(colour) + bytes(mask)


def build_ico(pngs: Mapping[int, bytes], *, png_from: int = 256) -> bytes:
    """An ICO file holding one image per size, smallest first.

    ``pngs`` maps pixel size to PNG bytes of a square image of that size. Sizes at or
    above ``png_from`` are embedded as PNG, smaller ones as DIBs.
    """
    if not pngs:
        raise ValueError("an icon needs at least one image")
    entries: list[tuple[int, bytes]] = []
    for size in sorted(pngs):
        data = pngs[size]
        if png_size(data) != (size, size):
            raise ValueError(f"the {size} px image is {png_size(data)}, not {size}x{size}")
        if size > 256:
            raise ValueError("ICO images are at most 256 px")
        entries.append((size, data if size >= png_from else _dib(decode_png(data))))
    out = bytearray(struct.pack("<HHH", 0, 1, len(entries)))  # reserved, type 1 = icon, count
    offset = 6 + 16 * len(entries)
    for size, payload in entries:
        side = 0 if size == 256 else size  # a byte holds 0-255; 0 means 256
        out += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(payload), offset)
        offset += len(payload)
    for _, payload in entries:
        out += payload
    return bytes(out)


# -- ICNS --------------------------------------------------------------------------------
def build_icns(pngs: Mapping[int, bytes]) -> bytes:
    """An ICNS file with a PNG chunk for every type in ICNS_TYPES whose size is given."""
    chunks = bytearray()
    for kind, size in ICNS_TYPES.items():
        data = pngs.get(size)
        if data is None:
            continue
        if png_size(data) != (size, size):
            raise ValueError(f"the {size} px image is {png_size(data)}, not {size}x{size}")
        chunks += kind.encode("ascii") + struct.pack(">I", 8 + len(data)) + data
    if not chunks:
        raise ValueError(
            f"an ICNS needs at least one of the sizes {sorted(set(ICNS_TYPES.values()))}"
        )
    return b"icns" + struct.pack(">I", 8 + len(chunks)) + bytes(chunks)


# -- rendering (Qt) ----------------------------------------------------------------------
def _qt_app():
    """A QGuiApplication for painting; offscreen so this runs on build machines too."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([])


def _pixmap_png(pixmap) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def render_app_icon(size: int) -> bytes:
    """The app icon at ``size`` px as PNG, drawn by app.ui.icons.draw."""
    _qt_app()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app.ui.icons import draw

    return _pixmap_png(draw(size))


def render_tray_template(size: int) -> bytes:
    """The icon's glyph (bridge arch over stacked boxes) in black on transparent.

    Same geometry as app.ui.icons.draw on its 64-unit grid, minus the coloured tile: a
    menu bar icon is a silhouette. The window is the glyph's bounding square so it fills
    the small canvas, and strokes are a little heavier so they hold up at 22 px.
    """
    _qt_app()
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap

    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    # With 5-unit strokes the glyph spans x 5.5..58.5 and y 19.5..57.5 on the 64-unit
    # grid (the arch peaks at y 22); centre that in a 54-unit square.
    p.scale(size / 54.0, size / 54.0)
    p.translate(-5.0, -11.5)
    black = QColor("black")
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(black)
    for x, y in ((14, 36), (30, 36), (22, 22)):
        p.drawRoundedRect(QRectF(x, y, 14, 12), 2, 2)
    pen = QPen(black, 5)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    arch = QPainterPath(QPointF(8, 52))
    arch.cubicTo(QPointF(18, 12), QPointF(46, 12), QPointF(56, 52))
    p.drawPath(arch)
    p.drawLine(QPointF(8, 55), QPointF(56, 55))
    p.end()
    return _pixmap_png(pix)


def app_icon_pngs(folder: Path, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """PNG bytes per size: the rendered files in ``folder`` where they exist (the ones the
    app itself loads), freshly drawn otherwise."""
    pngs: dict[int, bytes] = {}
    for size in sizes:
        path = folder / f"stockbridge-{size}.png"
        pngs[size] = path.read_bytes() if path.exists() else render_app_icon(size)
    return pngs


def write_all(out: Path = ICONS_DIR, source: Path = ICONS_DIR) -> list[Path]:
    """Write the .ico, .icns and tray template PNGs into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = tuple(sorted(set(ICO_SIZES) | set(ICNS_TYPES.values())))
    pngs = app_icon_pngs(source, sizes)
    written = {
        out / "stockbridge.ico": build_ico({s: pngs[s] for s in ICO_SIZES}),
        out / "stockbridge.icns": build_icns(pngs),
        out / "stockbridge-trayTemplate.png": render_tray_template(TEMPLATE_SIZE),
        out / "stockbridge-trayTemplate@2x.png": render_tray_template(TEMPLATE_SIZE * 2),
    }
    for path, data in written.items():
        path.write_bytes(data)
    return list(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ICONS_DIR, help="folder to write into")
    parser.add_argument(
        "--source", type=Path, default=ICONS_DIR, help="folder with stockbridge-<size>.png"
    )
    args = parser.parse_args(argv)
    for path in write_all(args.out, args.source):
        print(f"{path}  ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
