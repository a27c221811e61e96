"""Images from the world -> the 28x28 light-on-black grey images Fashion-MNIST is made of.

The steps follow the dataset's published conversion (Xiao, Rasul & Vollgraf, "Fashion-MNIST: a Novel
Image Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, section 2; the same list
is in zalandoresearch/fashion-mnist's README): 1 convert to PNG, 2 trim the edges close to the corner
colour (5 % of the maximum intensity in RGB space), 3 resize the longest edge to 28, 4 sharpen with a
Gaussian operator of radius and sigma 1.0, 5 extend the shortest edge to 28 and centre, 6 negate,
7 8-bit grey. Before them, what a photo from a phone or a saved cut-out needs and a product shot on
a studio background did not: a format allow-list and a memory budget checked before any decoder runs,
the EXIF orientation, transparency composited, and the paper's colour or light fall-off removed.

    image = load_image("my_shirt.jpg")                     # uint8 (28, 28), light garment on black
    prepared = prepare_image(data, "upload", fit="trim")   # .image, and .original to show beside it
    decode_image(data, "upload", fit="none")               # for images already cropped by hand
"""
from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import re
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from . import files
from .constants import IMAGE_SIZE
from .errors import RowrnnError
from .files import display_name  # noqa: F401  (a file name safe to print: moved to files, below config)

FITS = ("trim", "none")
MAX_FILE_BYTES = 64 * 2**20      # files larger than this are refused before reading them
MAX_PIXELS = 50_000_000          # pixels one decode may produce (after a JPEG's reduced-size decoding)
MAX_DECODE_BYTES = 128 * 2**20   # the most memory one decode may take (32 Mpx at 4 bytes a pixel): Pillow's
                                 # buffer and the decoder's own whole-image buffers, counted from the header
                                 # (decode_cost); everything after it works on at most 2 x WORK_SIZE a side
WORK_SIZE = 512                  # longest side the pipeline works at: 18x the output, far above what 28 px keep
TILE_PIXELS = 2**18              # a full-size picture is converted and reduced this many pixels at a time (1 MB a copy)
ANALYSIS_SIZE = 256              # longest side at which the background and the garment's box are found
ORIGINAL_SIZE = 512              # longest side of the picture kept to show beside the 28x28
CORNER_TOLERANCE = 0.05 * 255 * math.sqrt(3)   # the paper's "5 % of the maximum intensity in RGB space"
SHARPEN_PERCENT = 50             # unsharp-mask strength of step 4: half of ImageMagick's -sharpen 1x1 (see sharpen)
PASS_THROUGH_SPAN = 24           # a 28x28 light-on-black grey image whose garment spans this many pixels or more
                                 # is already converted (every Fashion-MNIST test image spans 26-28)

# The allow-list, by signature: Pillow's format names. Anything else (EPS/PS and PDF, which Pillow hands to
# Ghostscript, ICO, PSD, SVG, AVIF, ...) is refused before Pillow sees a byte, naming what it is (identify_format).
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
              (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
ALLOWED = "PNG, JPEG, WebP, GIF, BMP or TIFF"


@dataclass(frozen=True)
class PreparedImage:
    """What the network reads and what the person gave.

    image: uint8 tensor (28, 28), light garment on black, as Fashion-MNIST.
    original: uint8 numpy array (h, w, 3), the upright picture with transparency composited,
    at most ORIGINAL_SIZE pixels on a side (for showing beside `image`).
    """
    image: torch.Tensor
    original: np.ndarray


# ----------------------------------------------------------------------------- decoding, bounded and safe

def sniff_format(data: bytes, source: str = "image") -> str:
    """Pillow's format name for `data`, from its first bytes only, or a RowrnnError naming what the file is.

    Step 1 of the paper ("convert the input to a PNG image") assumes a product photo; here the input is
    anything a person uploads, so the decoder is chosen from the allow-list (SIGNATURES, WebP) before any
    decoder runs. A refusal names the format seen (identify_format: HEIC, AVIF, PDF, a camera's RAW file
    inside a TIFF, ...) and what to do instead, in one line.
    """
    name = display_name(source)
    if not data:
        raise RowrnnError(f"{name}: empty file (0 bytes): give a PNG or JPEG image")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for signature, fmt in SIGNATURES:
        if data.startswith(signature):
            if fmt == "TIFF" and (raw := _tiff_raw_kind(data)) is not None:
                seen, advice = raw, _RAW_ADVICE
                break
            return fmt
    else:
        seen, advice = identify_format(data)
    raise RowrnnError(f"{name}: {seen}, not one of the formats rowrnn reads ({ALLOWED}): {advice}")


_SAVE = "save it as PNG or JPEG"
_RAW_ADVICE = "export it as JPEG from the camera's app or a photo editor"
_HEIC_ADVICE = ("share or export it as JPEG (on an iPhone, Settings > Camera > Formats > Most Compatible "
                "takes JPEG photos from then on), or " + _SAVE)
# AVIF is read by the installed Pillow (libavif with dav1d) but not accepted: the size Pillow reports is the
# file's 'ispe' box, which the decoder does not hold the picture to (a file whose header says 64x64 had its
# 3000x2000 frame decoded, +15 MB, and came back as 64x64: tests/test_images.py), and Pillow exposes no
# limit of its own (libavif's imageSizeLimit stays at 16384 x 16384), so MAX_PIXELS and MAX_DECODE_BYTES
# cannot be checked before the decode as they are for every accepted format.
_AVIF_ADVICE = _SAVE + " (AVIF's decoded size cannot be checked before decoding, so rowrnn does not decode it)"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
                b"mif2", b"miaf"}
_VIDEO_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"qt  ", b"M4V ",
                 b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash", b"MSNV", b"f4v "}

# (prefix, what it is, what to do), checked in order after the allow-list; identify_format adds the cases a
# prefix cannot tell (ISO media brands, text, ZIP contents, TGA's footer, TIFF-based RAW files).
_PREFIXES = (
    (b"%PDF-", "a PDF document", "export the page or the picture in it as PNG or JPEG"),
    (b"%!PS", "a PostScript/EPS file", "export it as PNG or JPEG"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file (binary PostScript)", "export it as PNG or JPEG"),
    (b"8BPS", "a Photoshop document (PSD)", "export it as PNG or JPEG"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image", _SAVE),
    (b"\xff\x0a", "a JPEG XL image", _SAVE),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image", _SAVE),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image", _SAVE),
    (b"\x00\x00\x01\x00", "a Windows icon (ICO)", _SAVE),
    (b"\x00\x00\x02\x00", "a Windows cursor (CUR)", _SAVE),
    (b"icns", "a macOS icon (ICNS)", _SAVE),
    (b"qoif", "a QOI image", _SAVE),
    (b"DDS ", "a DirectDraw texture (DDS)", _SAVE),
    (b"gimp xcf", "a GIMP document (XCF)", "export it as PNG or JPEG"),
    (b"v/1\x01", "an OpenEXR image", _SAVE),
    (b"#?RADIANCE", "a Radiance HDR image", _SAVE),
    (b"SIMPLE  =", "a FITS image", _SAVE),
    (b"IIRO", "a camera RAW file (Olympus ORF)", _RAW_ADVICE),
    (b"IIRS", "a camera RAW file (Olympus ORF)", _RAW_ADVICE),
    (b"MMOR", "a camera RAW file (Olympus ORF)", _RAW_ADVICE),
    (b"IIU\x00", "a camera RAW file (Panasonic RW2)", _RAW_ADVICE),
    (b"FUJIFILMCCD-RAW", "a camera RAW file (Fujifilm RAF)", _RAW_ADVICE),
    (b"II\x1a\x00\x00\x00HEAPCCDR", "a camera RAW file (Canon CRW)", _RAW_ADVICE),
    (b"FOVb", "a camera RAW file (Sigma X3F)", _RAW_ADVICE),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Microsoft Office document (DOC, XLS or PPT)",
     "save the picture in it as PNG or JPEG"),
    (b"\x1f\x8b", "a gzip-compressed file", "uncompress it and give the image inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive", "unpack it and give the image files inside"),
    (b"Rar!\x1a\x07", "a RAR archive", "unpack it and give the image files inside"),
    (b"\x1a\x45\xdf\xa3", "a video (WebM/MKV)", "take a screenshot of the frame you want and save it as PNG or JPEG"),
)
_VIDEO_ADVICE = "take a screenshot of the frame you want and save it as PNG or JPEG"


def identify_format(data: bytes) -> tuple[str, str]:
    """(what the file is, what to do) for a file outside the allow-list, from its bytes alone (no decoder runs).

    Names HEIC/HEIF and AVIF (from the ISO media 'ftyp' box's brands), videos, PDF, PostScript/EPS, PSD,
    JPEG XL, JPEG 2000, ICO, TGA, camera RAW files, SVG, HTML and other text, ZIP (Word, Excel, PowerPoint,
    OpenDocument) and other archives; anything else is "an unrecognized format" with its first bytes in hex.
    """
    if data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        major = data[8:12]
        brands = {major} | {data[i:i + 4] for i in range(16, min(max(size, 16), 256, len(data)) - 3, 4)}
        if brands & {b"avif", b"avis"}:
            return "an AVIF image", _AVIF_ADVICE
        if brands & _HEIF_BRANDS:
            return "a HEIC/HEIF photo (the iPhone camera's format)", _HEIC_ADVICE
        if b"crx " in brands:
            return "a camera RAW file (Canon CR3)", _RAW_ADVICE
        if brands & _VIDEO_BRANDS:
            return "a video (MP4/MOV)", _VIDEO_ADVICE
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "a video (AVI)", _VIDEO_ADVICE
    if len(data) >= 44 and data[-18:] == b"TRUEVISION-XFILE.\x00":   # TGA 2.0's footer (before ICO/CUR: a TGA
        return "a TGA image", _SAVE                                    # starts 00 00 02 00 as a cursor does)
    for prefix, seen, advice in _PREFIXES:
        if data.startswith(prefix):
            return seen, advice
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    text = _text_head(data)
    if text is not None:
        head = text.lstrip().lower()
        if head.startswith("<svg") or head.startswith(("<?xml", "<!doctype svg")) and "<svg" in head:
            return "an SVG drawing (vector graphics)", "export it as PNG"
        if head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in head[:1024]:
            return "an HTML web page", "save the picture itself (right-click > Save image as) as PNG or JPEG"
        if head.startswith("<?xml"):
            return "an XML file", _SAVE
        if head.startswith(("p1", "p2", "p3")) and head[2:3].isspace():
            return "a Netpbm image (PBM/PGM/PPM)", _SAVE
        return "plain text", "give the picture's own file, saved as PNG or JPEG"
    if data[:1] == b"P" and data[1:2] in b"456" and data[2:3].isspace():
        return "a Netpbm image (PBM/PGM/PPM)", _SAVE
    return f"an unrecognized format (first bytes {data[:8].hex(' ')})", _SAVE


def _text_head(data: bytes) -> str | None:
    """The first 4 KB as text when the file looks like text (UTF-8 or UTF-16 with a BOM, no control bytes)."""
    head = data[:4096]
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head, encoding = head[len(bom):], codec
            break
    else:
        encoding = "utf-8"
    text = head.decode(encoding, "ignore")
    if not text.strip() or any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    if encoding == "utf-8" and len(text.encode()) < len(head) - 3:   # more than a character cut at the end
        return None
    return text


def _zip_kind(data: bytes) -> tuple[str, str]:
    """What a ZIP file is, from the member names in its local headers (Office and OpenDocument files are ZIPs)."""
    inside = "save or export the picture in it as PNG or JPEG"
    if b"mimetypeapplication/vnd.oasis.opendocument" in data[:200]:
        return "an OpenDocument file (ODT, ODS or ODP)", inside
    for member, seen in ((b"word/", "a Word document (DOCX)"), (b"xl/", "an Excel workbook (XLSX)"),
                         (b"ppt/", "a PowerPoint presentation (PPTX)")):
        if re.search(rb"PK\x03\x04.{26}" + re.escape(member), data, flags=re.DOTALL):
            return seen, inside
    return "a ZIP archive", "unpack it and give the image files inside"


def _tiff_raw_kind(data: bytes) -> str | None:
    """'a camera RAW file (...)' when a file with a TIFF signature is a camera's RAW file, None for a plain TIFF.

    Canon's CR2, Nikon's NEF, Sony's ARW, Pentax's PEF and Adobe's DNG are TIFF files whose first image is a
    small preview or undeveloped sensor data; Pillow would read the first as the photo. Told apart by the
    first IFD's tags: 'CR' at byte 8 (CR2), DNGVersion (50706), a colour filter array (Photometric 32803),
    or SubIFDs (330) beside the camera's Make (271), which a scanned or exported TIFF does not have.
    """
    if data[8:10] == b"CR":
        return "a camera RAW file (Canon CR2)"
    order = "<" if data[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, offset)
        tags = {}
        for i in range(min(count, 512)):
            tag, kind, _, value = struct.unpack_from(order + "HHI4s", data, offset + 2 + 12 * i)
            tags[tag] = struct.unpack(order + "H", value[:2])[0] if kind == 3 else None
    except struct.error:
        return None                      # a damaged TIFF: Pillow's decoder says what is wrong with it
    if 50706 in tags:
        return "a camera RAW file (DNG)"
    if tags.get(262) == 32803 or (330 in tags and 271 in tags):
        return "a camera RAW file (TIFF-based, such as NEF, ARW or PEF)"
    return None


_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}  # Pillow's storage;
# every other mode (RGB, LA and PA included) is stored as 4 bytes a pixel
WEBP_BYTES_PER_PIXEL = 14  # beyond Pillow's buffer: libwebp's two RGBA canvases (WebPAnimDecoder, which Pillow
                           # always uses), its decode buffer and the bytes object Pillow copies the frame from


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """Bytes Pillow's buffer takes for an image of this size and mode."""
    return width * height * _BYTES_PER_PIXEL.get(mode, 4)


def decode_cost(im, fmt: str, data: bytes, full_size: tuple[int, int] | None = None) -> int:
    """Bytes one decode of the opened (not yet loaded) `im` takes, from its header: what MAX_DECODE_BYTES bounds.

    Pillow's buffer (decoded_bytes at im.size, a JPEG's drafted size), plus the decoders' own whole-image
    buffers, measured with tests/test_images.py's worst cases: a progressive or multi-scan JPEG keeps
    every DCT coefficient of the full-size picture (libjpeg's coefficient buffer: 2 bytes a coefficient,
    whatever size it is drafted to); a WebP costs WEBP_BYTES_PER_PIXEL more a pixel; a compressed TIFF one
    decoded strip or tile (libtiff's buffer). Conversions after the decode (a palette to RGBA, 16 bits to
    32) never take a full-size copy: reduce_in_tiles does them a tile at a time.
    full_size: a JPEG's size before Image.draft.
    """
    width, height = im.size
    cost = decoded_bytes(width, height, im.mode)
    if fmt == "JPEG" and _jpeg_is_multi_scan(im, data):
        cost += _jpeg_coefficient_bytes(full_size or im.size, im.layer)
    elif fmt == "WEBP":
        cost += width * height * WEBP_BYTES_PER_PIXEL
    elif fmt == "TIFF" and getattr(im, "use_load_libtiff", False):
        tag = im.tag_v2
        samples, bits = tag.get(277, 1), max(tag.get(258, (8,)) or (8,))
        if 322 in tag and 323 in tag:                               # TileWidth, TileLength
            block = tag[322] * tag[323]
        else:                                                       # RowsPerStrip (2**32 - 1: one strip)
            block = width * min(height, tag.get(278, height))
        per_pixel = samples * math.ceil(bits / 8)
        if tag.get(259) in (6, 7) or tag.get(262) == 6:             # JPEG or YCbCr: decoded as RGBA strips
            per_pixel = max(per_pixel, 4)
        cost += block * per_pixel
    return cost


_JPEG_NEXT_MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")   # entropy-coded data ends at a marker that is
# neither a stuffed 0xff00, a restart marker nor fill


def _jpeg_is_multi_scan(im, data: bytes) -> bool:
    """Whether libjpeg must buffer the whole picture's coefficients: a progressive JPEG, or a sequential
    one whose first scan does not hold every component (more than one scan before the first EOI)."""
    if im.info.get("progressive"):
        return True
    pos, scans = 2, 0
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:                                          # fill byte
            pos += 1
        elif marker == 0xD9:                                        # EOI: the first picture ends (MPO's too)
            break
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:             # no length
            pos += 2
        else:
            pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
            if marker == 0xDA:                                      # SOS: skip its entropy-coded data
                scans += 1
                if scans > 1:
                    return True
                found = _JPEG_NEXT_MARKER.search(data, pos)
                if found is None:
                    break
                pos = found.end() - 2
    return False


def _jpeg_coefficient_bytes(size: tuple[int, int], layers) -> int:
    """libjpeg's whole-image coefficient buffer (jdcoefct.c): each component's 8x8 blocks, padded to whole
    MCUs, 64 coefficients of 2 bytes each. layers: Pillow's JpegImageFile.layer, (id, H, V, table)."""
    width, height = size
    h_max, v_max = max(layer[1] for layer in layers), max(layer[2] for layer in layers)
    total = 0
    for _, h, v, _ in layers:
        blocks_w = math.ceil(math.ceil(width * h / h_max) / 8)
        blocks_h = math.ceil(math.ceil(height * v / v_max) / 8)
        total += math.ceil(blocks_w / h) * h * math.ceil(blocks_h / v) * v * 128
    return total


# Pillow's DecompressionBombWarning is made an error with a warnings filter, and warnings filters are one
# process-wide list: two threads inside warnings.catch_warnings at once restore each other's state in the
# wrong order and can leave the filter on (or off) for good. rowrnn serve decodes in threads, so every
# decode holds this lock while its filter is in place. It also means the server holds one full-size picture
# at a time, whatever its concurrency: the rest of the pipeline works on a reduced copy, outside the lock.
_PILLOW_LOCK = threading.Lock()


@contextlib.contextmanager
def _returning_freed_memory():
    """Gives the memory of a freed full-size picture back to the system when the block ends (glibc's malloc_trim).

    Pillow allocates a picture in 16 MB blocks; once glibc has freed one such block it raises its mmap
    threshold and serves the next ones from the calling thread's arena, which keeps them after free().
    rowrnn serve decodes in a pool of threads, each with its own arena: measured, eight 121 MB decodes
    in turn left 660 MB resident. malloc_trim(0) returns the free pages of every arena. Elsewhere than
    glibc there is no such function and nothing is done.
    """
    try:
        yield
    finally:
        trim = _malloc_trim()
        if trim is not None:
            trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim from the symbols already loaded (dlopen(NULL)), or None (macOS, musl, Windows)."""
    import ctypes
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


@contextlib.contextmanager
def _decoder_errors(name: str):
    """Every way a decoder can fail on a hostile or damaged file -> one RowrnnError line naming the file.

    Pillow's DecompressionBombWarning is made an error here, locally (warnings.catch_warnings; the global
    Image.MAX_IMAGE_PIXELS is left alone), under _PILLOW_LOCK, so concurrent decodes in threads never
    interleave their filters; MAX_PIXELS, checked from the header, refuses such an image anyway. Code
    outside rowrnn that emits a UserWarning in another thread during a decode has it ignored meanwhile.
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with _PILLOW_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd metadata: the error says enough
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RowrnnError(f"{name}: the image is over the limit of {MAX_PIXELS // 1_000_000} megapixels: "
                          "shrink it first") from None
    except UnidentifiedImageError:  # the signature was right, so the header after it is broken
        raise RowrnnError(f"{name}: damaged or unreadable image (its header cannot be read): "
                          f"give a {ALLOWED} image") from None
    except ValueError as e:  # PngImagePlugin's MAX_TEXT_CHUNK / MAX_TEXT_MEMORY among others
        if "Decompressed" in str(e) or "Too much memory" in str(e):
            raise RowrnnError(f"{name}: a text chunk of the PNG is over Pillow's size limit: "
                              "save the image again without metadata") from None
        raise RowrnnError(f"{name}: damaged or unreadable image ({e}): give a {ALLOWED} image") from None
    except (OSError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError, ZeroDivisionError,
            zlib.error, MemoryError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RowrnnError(f"{name}: damaged or unreadable image ({display_name(reason)}): "
                          f"give a {ALLOWED} image") from None


def open_image(data: bytes, source: str = "image"):
    """Bytes -> an upright, loaded PIL image of at most WORK_SIZE pixels on a side, in mode L, LA, RGB, RGBA or F.

    The format is sniffed first (sniff_format), then Image.open(formats=[that one]) reads the header only;
    a JPEG larger than WORK_SIZE is decoded at reduced size (Image.draft: 1/2, 1/4 or 1/8 in the decoder);
    the pixels and bytes the decode will take (MAX_PIXELS; decode_cost against MAX_DECODE_BYTES) are
    checked before load(). Right after load() a picture of 2 x WORK_SIZE or more on a side is reduced by
    an integer factor (reduce_in_tiles), so the decoder's buffer is the only full-size copy ever made.
    Animated GIF, PNG and WebP give their first frame. The EXIF orientation is applied (orient: all eight
    orientations, TIFF's own tag included). Raises RowrnnError (one line, naming source) for a format not
    allowed, a picture over the pixel or memory budget, damaged or truncated data, or a decoder's bomb warning.
    """
    from PIL import Image
    name = display_name(source)
    fmt = sniff_format(data, source)
    with _decoder_errors(name), _returning_freed_memory():
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
            if width < 1 or height < 1:
                raise RowrnnError(f"{name}: the image is {width}x{height} pixels: give a picture")
            full_size = im.size
            if fmt == "JPEG" and max(width, height) > WORK_SIZE:
                k = WORK_SIZE / max(width, height)
                im.draft(im.mode, (math.ceil(width * k), math.ceil(height * k)))
                width, height = im.size
            if width * height > MAX_PIXELS:
                raise RowrnnError(f"{name}: {width}x{height} pixels is over the limit of "
                                  f"{MAX_PIXELS // 1_000_000} megapixels: shrink it first")
            cost = decode_cost(im, fmt, data, full_size)
            if cost > MAX_DECODE_BYTES:
                raise RowrnnError(f"{name}: {full_size[0]}x{full_size[1]} pixels in mode {im.mode} would take "
                                  f"{math.ceil(cost / 2**20)} MB to decode, over the limit "
                                  f"of {MAX_DECODE_BYTES // 2**20} MB: shrink it first")
            im.load()
            orientation = exif_orientation(im)          # read now: the reduced copy below has no metadata
            sixteen_bit = im.mode.startswith("I;16")
            factor = max(im.size) // WORK_SIZE
            # -> L, LA, RGB, RGBA, I or F; of less than 2 x WORK_SIZE a side
            im = reduce_in_tiles(im, factor, name=name) if factor > 1 else _pixel_mode(im, name)
    im = orient(im, orientation)
    if im.mode in ("I", "F"):                # shrunk first, so the float copy is of WORK_SIZE
        return _standard_mode(shrink(im, WORK_SIZE), name, sixteen_bit=sixteen_bit)
    return shrink(im, WORK_SIZE)


_TRANSPOSE_FOR_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}   # ImageOps.exif_transpose's table


def exif_orientation(im) -> int:
    """The EXIF Orientation tag (1-8) of an opened image; 1 (as stored) when there is none or the EXIF is damaged.

    Viewers show a picture whose EXIF block is truncated or garbage as stored, so the picture is read, not
    refused: Pillow parses a PNG's or WebP's eXIf chunk only when asked and raises on a broken one.
    """
    try:
        return im.getexif().get(0x0112, 1)
    except (SyntaxError, OSError, ValueError, EOFError, struct.error, KeyError, IndexError, TypeError):
        return 1


def orient(im, orientation: int | None = None):
    """The picture as a viewer shows it: the EXIF Orientation tag (1-8) applied to the pixels.

    Phones store pixels as the sensor read them and record the turn in the tag; every viewer honours it,
    so the person never saw the stored pixels. orientation: the tag's value, read from `im` when None
    (Pillow's ImageOps.exif_transpose then does all eight cases). Given, it is applied with the same
    table, so that it can be read from the full-size picture and applied to its reduced copy.
    """
    from PIL import Image, ImageOps
    if orientation is None:
        return ImageOps.exif_transpose(im)
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation) if isinstance(orientation, int) else None  # damaged: none
    return im.transpose(Image.Transpose[method]) if method else im


def _pixel_mode(im, name: str = "image"):
    """Pillow's per-pixel conversions: any mode -> L, LA, RGB, RGBA (8 bits), I or F.

    Palette, 1-bit, CMYK, YCbCr, LAB and HSV images are converted by Pillow; a tRNS transparency key
    (L, RGB or P with info['transparency'], what PNG optimisers write) becomes an alpha channel; 16-bit
    grey becomes 32-bit I. Each pixel is converted on its own, so this may run a tile at a time.
    """
    mode = im.mode
    if mode in ("L", "RGB", "P", "1") and "transparency" in im.info:
        return im.convert("RGBA")
    if mode in ("L", "RGB", "LA", "RGBA", "I", "F"):
        return im
    if mode in ("1",):
        return im.convert("L")
    if mode in ("P",):
        return im.convert("RGB")
    if mode in ("PA", "RGBa", "La"):
        return im.convert("RGBA" if mode != "La" else "LA")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return im.convert("RGB")
    if mode.startswith("I;16"):
        return im.convert("I")               # 32-bit integers: Pillow resamples those, not 16-bit ones
    raise RowrnnError(f"{name}: images in Pillow's mode {mode} are not supported: save it as an 8-bit PNG")


def reduce_in_tiles(im, factor: int, tile_pixels: int = TILE_PIXELS, name: str = "image"):
    """A loaded full-size picture -> 1/factor of its size (box averages, Image.reduce), in L, LA, RGB, RGBA, I or F.

    Converting the whole picture first (a palette to RGBA, 16 bits to 32, alpha premultiplied for the
    averaging) would make one or two more full-size copies, up to 4x the decoder's buffer for a palette
    image; here each tile of about `tile_pixels` (whole factor x factor boxes) is cropped, converted
    (_pixel_mode), premultiplied and reduced, and the full-size picture is the only large buffer.
    The result is what Image.reduce(factor) of the converted whole would give: boxes never straddle a tile.
    """
    from PIL import Image
    width, height = im.size
    step = factor * max(1, math.isqrt(tile_pixels) // factor)          # a tile's side: whole boxes
    out = None
    for top in range(0, height, step):
        for left in range(0, width, step):
            tile = _pixel_mode(im.crop((left, top, min(width, left + step), min(height, top + step))), name)
            if tile.mode in ("LA", "RGBA"):                            # premultiplied, as Image.resize does
                tile = tile.convert(tile.mode[:-1] + "a")
            small = tile.reduce(factor)
            if out is None:
                out = Image.new(small.mode, (math.ceil(width / factor), math.ceil(height / factor)))
            out.paste(small, (left // factor, top // factor))
    return out.convert(out.mode[:-1] + "A") if out.mode in ("La", "RGBa") else out


def _standard_mode(im, name: str, sixteen_bit: bool = False):
    """Any Pillow mode -> L, LA, RGB, RGBA (8 bits) or F (grey at 0-255, for 16-bit, 32-bit and float images).

    The per-pixel conversions are _pixel_mode's; then 16-bit grey (sixteen_bit: an I;16 image already
    widened to I) is scaled by 1/257; other 32-bit integers are read as 8-bit when they fit, else as
    16-bit; float images are read as 0-1 when they fit there, else as 0-255; NaN, infinities and other
    ranges are refused. These look at the whole picture, so they run on the reduced one.
    """
    from PIL import Image
    mode = im.mode
    sixteen_bit = sixteen_bit or mode.startswith("I;16")
    im = _pixel_mode(im, name)
    if im.mode == "I":
        values = np.asarray(im, dtype=np.float64)
        deep = sixteen_bit or values.max(initial=0) > 255
        scale = 65535.0 if deep else 255.0
        return Image.fromarray((np.clip(values, 0, scale) * (255.0 / scale)).astype(np.float32), mode="F")
    if im.mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if not np.isfinite(values).all():
            raise RowrnnError(f"{name}: a float image with NaN or infinite pixels: save it as an 8-bit PNG")
        low, high = values.min(initial=0), values.max(initial=0)
        if low < 0 or high > 255:
            raise RowrnnError(f"{name}: a float image with pixels from {low:g} to {high:g}, outside both 0-1 "
                              "and 0-255: save it as an 8-bit PNG")
        return Image.fromarray((values * (255.0 if high <= 1 else 1.0)).astype(np.float32), mode="F")
    return im


def shrink(im, longest: int):
    """The image with its longest side at most `longest`, by area averaging (Pillow's BOX filter).

    Area averaging, not the paper's subsampling, for photos: a phone photo is 4000 px wide and skipping
    rows and columns keeps its sensor noise and JPEG blocks at full strength. Pillow premultiplies alpha
    while resizing LA and RGBA, so transparent pixels' hidden colours do not bleed in.
    """
    from PIL import Image
    width, height = im.size
    if max(width, height) <= longest:
        return im
    k = longest / max(width, height)
    return im.resize((max(1, round(width * k)), max(1, round(height * k))), Image.Resampling.BOX)


# ----------------------------------------------------------------------------- pixels: arrays from here on

def to_arrays(im) -> tuple[np.ndarray, np.ndarray | None]:
    """A standard-mode image -> (float32 colour (H, W, 3) or grey (H, W, 1) at 0-255, alpha (H, W) at 0-1 or None)."""
    a = np.asarray(im, dtype=np.float32)
    if a.ndim == 2:
        return a[:, :, None], None
    if im.mode in ("LA", "RGBA"):
        return a[:, :, :-1], a[:, :, -1] / 255.0
    return a, None


def composite(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Transparency over a backdrop that contrasts with the garment: black under a light garment, else white.

    The backdrop's shade is chosen from the opaque pixels' mean grey (weighted by alpha): a white
    garment cut out and composited over white would vanish, over black it reads as Fashion-MNIST's own
    light-on-black. A fully transparent picture is composited over white.
    """
    if alpha is None:
        return colour
    weight = float(alpha.sum())
    grey = _grey(colour)[:, :, 0]
    mean = float((grey * alpha).sum() / weight) if weight > 0 else 0.0
    backdrop = 0.0 if weight > 0 and mean > 127.5 else 255.0
    return colour * alpha[:, :, None] + backdrop * (1.0 - alpha[:, :, None])


def _grey(colour: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W, 1) -> (H, W, 1): ITU-R 601 luma, the weights Pillow's convert('L') uses."""
    if colour.shape[2] == 1:
        return colour
    return (colour @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]


def _border(a: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the outer ring `width` wide, (N, C)."""
    h, w = a.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[:width], mask[-width:], mask[:, :width], mask[:, -width:] = True, True, True, True
    return a[mask], mask


def _design(y: np.ndarray, x: np.ndarray, h: int, w: int) -> np.ndarray:
    """The quadratic surface's terms (1, u, v, u^2, uv, v^2) at pixel centres, u and v scaled to -1..1."""
    u, v = (x + 0.5) / w * 2 - 1, (y + 0.5) / h * 2 - 1
    return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=-1)


def estimate_background(colour: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The paper or backdrop behind the garment, (H, W, C): a smooth surface fitted to the image's border.

    The paper (step 2) compares each edge with the corner pixels; a phone photo's corners are the
    darkest part of the paper (light fall-off), noisy, and sometimes the garment's. Instead: the outer
    ring (2 % of the short side), a per-channel median as a first guess, then twice a least-squares
    quadratic surface (1, x, y, x^2, xy, y^2: vignetting and a lamp's gradient are close to quadratic)
    fitted to the ring pixels within max(CORNER_TOLERANCE, 3 x their median distance) of the current
    surface, so the parts of the garment that touch the border and stray specks do not pull it. When
    more than a third of the ring disagrees with the first guess (a shadow over a whole side), the
    border itself is interpolated instead (_border_patch); when fewer than half the ring pixels agree
    with the quadratic, a flat colour (their median) is used.
    shape: evaluate the surface at another size (the same picture, resized), default colour's own.
    """
    return background_surface(colour)(shape or colour.shape[:2])


def background_surface(colour: np.ndarray):
    """estimate_background's fit, as a function (height, width) -> the surface (height, width, C) at that size."""
    h, w, c = colour.shape
    width = max(1, round(0.02 * min(h, w)))
    ring, mask = _border(colour, width)                                     # (N, C)
    flat = np.median(ring, axis=0)                                         # (C,)

    def level(value):
        return lambda shape: np.broadcast_to(np.asarray(value, np.float32), (*shape, c)).copy()

    if len(ring) < 24 or min(h, w) < 8:
        return level(flat)
    ys, xs = np.nonzero(mask)
    features = _design(ys.astype(np.float64), xs.astype(np.float64), h, w)  # (N, 6)
    predicted = np.broadcast_to(flat, ring.shape)
    coef = None
    for attempt in range(2):
        distance = np.sqrt(((ring - predicted) ** 2).sum(axis=1))
        keep = distance <= max(CORNER_TOLERANCE, 3 * float(np.median(distance)))
        if attempt == 0 and keep.mean() < 2 / 3:
            return _border_patch(colour, width)
        if keep.mean() < 0.5:
            return level(np.median(ring[keep], axis=0) if keep.any() else flat)
        f = features[keep]                                                  # least squares, normal equations:
        coef = np.linalg.solve(f.T @ f + 1e-6 * np.eye(6), f.T @ ring[keep])  # (6, C); 6x6, always tiny
        predicted = features @ coef

    def surface(shape):
        out_h, out_w = shape
        # pixel centres of the requested size, in the fitted image's pixel coordinates
        y = ((np.arange(out_h) + 0.5) * (h / out_h) - 0.5).astype(np.float32)
        x = ((np.arange(out_w) + 0.5) * (w / out_w) - 0.5).astype(np.float32)
        u, v = ((x + 0.5) / w * 2 - 1)[None, :, None], ((y + 0.5) / h * 2 - 1)[:, None, None]
        c0, cu, cv, cuu, cuv, cvv = coef.astype(np.float32)                 # each (C,); broadcast to (H, W, C)
        values = c0 + cu * u + cv * v + cuu * u * u + cuv * u * v + cvv * v * v
        return np.clip(values.astype(np.float32), 1.0, 255.0)
    return surface


def _running_median(profile: np.ndarray, fraction: float = 1 / 3) -> np.ndarray:
    """(n, C) -> (n, C): the median over a window of `fraction` of n, the ends repeated; a garment touching
    the border for less than half the window is replaced by the paper on either side of it."""
    from numpy.lib.stride_tricks import sliding_window_view
    window = max(3, int(fraction * len(profile)) | 1)
    half = window // 2
    padded = np.concatenate([profile[:1].repeat(half, 0), profile, profile[-1:].repeat(half, 0)])
    return np.median(sliding_window_view(padded, window, axis=0), axis=-1)


def _border_patch(colour: np.ndarray, width: int):
    """The background when more than a third of the border disagrees with one smooth surface -- a shadow or
    a lamp's light across a whole side: the four border profiles (median across the ring, then a running
    median along it) joined by a Coons patch (bilinearly blended transfinite interpolation), which keeps
    whatever the border shows, a shadow's band included, and reproduces vignetting exactly."""
    h, w, c = colour.shape
    top, bottom = (_running_median(np.median(colour[rows], axis=0)) for rows in (slice(0, width), slice(-width, None)))
    left, right = (_running_median(np.median(colour[:, cols], axis=1))
                   for cols in (slice(0, width), slice(-width, None)))
    c00, c01 = (top[0] + left[0]) / 2, (top[-1] + right[0]) / 2            # the corners, each seen by two sides
    c10, c11 = (bottom[0] + left[-1]) / 2, (bottom[-1] + right[-1]) / 2

    def along(profile, positions):
        return np.stack([np.interp(positions, np.arange(len(profile)), profile[:, k]) for k in range(c)], axis=-1)

    def surface(shape):
        out_h, out_w = shape
        y = (np.arange(out_h) + 0.5) * (h / out_h) - 0.5
        x = (np.arange(out_w) + 0.5) * (w / out_w) - 0.5
        u = np.clip(x / max(w - 1, 1), 0, 1)[None, :, None]
        v = np.clip(y / max(h - 1, 1), 0, 1)[:, None, None]
        values = ((1 - v) * along(top, x)[None] + v * along(bottom, x)[None]
                  + (1 - u) * along(left, y)[:, None] + u * along(right, y)[:, None]
                  - ((1 - u) * (1 - v) * c00 + u * (1 - v) * c01 + (1 - u) * v * c10 + u * v * c11))
        return np.clip(values, 1.0, 255.0).astype(np.float32)
    return surface


def area_average(colour: np.ndarray, longest: int) -> np.ndarray:
    """(H, W, C) float -> the longest side at most `longest`, each channel area-averaged (Pillow's BOX)."""
    from PIL import Image
    h, w, c = colour.shape
    if max(h, w) <= longest:
        return colour
    k = longest / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(colour[:, :, i]), mode="F").resize(
        size, Image.Resampling.BOX), np.float32) for i in range(c)], axis=2)


def is_light(background: np.ndarray) -> bool:
    """Whether the background is light (a garment on paper: negated at the end, step 6) or dark."""
    return float(_grey(np.asarray(background, np.float32).reshape(1, -1, background.shape[-1])).mean()) > 127.5


def flatten_background(colour: np.ndarray, background: np.ndarray, light: bool) -> np.ndarray:
    """The background made uniform white (light) or black (dark), the garment's contrast against it kept.

    A light background is divided out (a flat-field correction: beige or blue paper, a lamp's gradient
    and the lens's fall-off all become white 255, the garment keeps its shade relative to the paper); a
    dark one is subtracted and the rest stretched back to 0-255.
    """
    if light:
        return np.clip(colour / background * 255.0, 0.0, 255.0)
    return np.clip((colour - background) / np.maximum(255.0 - background, 1.0) * 255.0, 0.0, 255.0)


def garment_box(flat: np.ndarray, light: bool) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right), bottom/right exclusive, of the pixels that are not background, or None.

    Step 2's rule, against the flattened background: a pixel is garment when its RGB distance from
    the background exceeds CORNER_TOLERANCE (5 % of the maximum), or, for a noisy or JPEG-compressed
    photo, 3 x the median distance of the border's pixels if that is larger (the median: a garment
    touching part of the border does not raise it; 3 x: sensor noise's 99.9th percentile). A 3x3 median
    filter then removes isolated specks (noise, dust, JPEG ringing) before the box is taken.
    """
    from PIL import Image, ImageFilter
    target = 255.0 if light else 0.0
    distance = np.sqrt(((flat - target) ** 2).sum(axis=2))                # (H, W)
    h, w = distance.shape
    ring_distance, _ = _border(distance[:, :, None], max(1, round(0.02 * min(h, w))))
    tolerance = max(CORNER_TOLERANCE * math.sqrt(flat.shape[2] / 3), 3.0 * float(np.median(ring_distance)))
    # padded with background first: Pillow's rank filters repeat the edge pixels, which would keep a speck
    # in a corner (4 copies of it among 9)
    mask = np.pad((distance > tolerance).astype(np.uint8) * 255, 1)
    found = np.asarray(Image.fromarray(mask).filter(ImageFilter.MedianFilter(3)))[1:-1, 1:-1] > 0
    if not found.any():
        return None
    rows, cols = np.flatnonzero(found.any(axis=1)), np.flatnonzero(found.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def trim(grey: np.ndarray, box: tuple[int, int, int, int] | None, margin: float = 0.02) -> np.ndarray:
    """Step 2: the grey image (H, W) cut to the garment's box, widened by `margin` of its longest side.

    The paper trims exactly to the garment; a small margin (2 %, half a pixel at 28) keeps the
    anti-aliased outline that the threshold cuts off. No box (a blank picture): the whole image.
    """
    if box is None:
        return grey
    top, left, bottom, right = box
    pad = round(margin * max(bottom - top, right - left))
    h, w = grey.shape
    return grey[max(0, top - pad):min(h, bottom + pad), max(0, left - pad):min(w, right + pad)]


def resize_longest_edge(grey: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Step 3: (H, W) -> the longest edge `size`, the aspect ratio kept (the other edge rounded, at least 1).

    The paper subsamples (skips rows and columns) from product photos of about 760 px. Here a photo's
    noise would survive subsampling, so shrinking averages areas (BOX) and enlarging a small drawing
    interpolates (BILINEAR); benchmarks/photos.py measures area averaging ahead of subsampling.
    """
    from PIL import Image
    h, w = grey.shape
    k = size / max(h, w)
    new = (max(1, round(w * k)), max(1, round(h * k)))
    resample = Image.Resampling.BOX if k <= 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize(new, resample), dtype=np.float32)


def sharpen(grey: np.ndarray, percent: int = SHARPEN_PERCENT) -> np.ndarray:
    """Step 4: an unsharp mask with a Gaussian of radius (sigma) 1.0, Pillow's ImageFilter.UnsharpMask.

    The paper's "Gaussian operator of the radius and standard deviation of 1.0, with increasing effect
    near outlines" is ImageMagick's -sharpen 1x1; an unsharp mask adds back the difference from the
    blurred image, which is largest at outlines. Pillow's filter works on 8-bit images, so the grey is
    rounded first. The strength is half the paper's (SHARPEN_PERCENT = 50): on benchmarks/photos.py's
    photos (made from already-sharpened dataset images, so biased towards less) 100 % lost 1.5 points
    against 50 % and none; a phone photo is softer than those, so half is kept rather than none.
    """
    from PIL import Image, ImageFilter
    if percent == 0:
        return grey
    im = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    return np.asarray(im.filter(ImageFilter.UnsharpMask(radius=1.0, percent=percent, threshold=0)), np.float32)


def extend_shortest_edge(grey: np.ndarray, fill: float, size: int = IMAGE_SIZE) -> np.ndarray:
    """Step 5: (h, w) with max(h, w) == size -> (size, size), centred (the extra pixel, if odd, after), filled."""
    h, w = grey.shape
    canvas = np.full((size, size), fill, np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top:top + h, left:left + w] = grey
    return canvas


def negate(grey: np.ndarray) -> np.ndarray:
    """Step 6: 255 - x; garments photographed dark on light paper become light on black."""
    return 255.0 - grey


def to_uint8(grey: np.ndarray) -> torch.Tensor:
    """Step 7: 8-bit grey, rounded to nearest, as a uint8 tensor."""
    return torch.from_numpy(np.clip(np.rint(grey), 0, 255).astype(np.uint8))


def is_converted(colour: np.ndarray, alpha: np.ndarray | None) -> bool:
    """Whether the picture already is a Fashion-MNIST image: 28x28, opaque, grey (one channel, or three equal),
    dark background (the border's median below 128) and a garment spanning PASS_THROUGH_SPAN pixels or more
    on its longest side. Such an image passes through unchanged, bit for bit."""
    if colour.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE) or alpha is not None:
        return False
    if colour.shape[2] == 3 and not (np.array_equal(colour[..., 0], colour[..., 1])
                                     and np.array_equal(colour[..., 0], colour[..., 2])):
        return False
    grey = colour[:, :, 0]
    if not np.array_equal(grey, np.rint(grey)):
        return False
    ring, _ = _border(grey[:, :, None], 1)
    if float(np.median(ring)) >= 128:
        return False
    on = grey > 0
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if len(rows) == 0:
        return False
    return max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= PASS_THROUGH_SPAN


def convert(colour: np.ndarray, alpha: np.ndarray | None = None, *, fit: str = "trim") -> torch.Tensor:
    """The conversion on pixels: float (H, W, C) at 0-255 (C = 1 or 3), alpha (H, W) at 0-1 or None -> uint8 (28, 28).

    fit="trim": the whole conversion (background flattened, trimmed, resized, sharpened, extended,
    negated if the background is light). fit="none", for pictures cropped by hand: no flattening,
    trimming or sharpening; the picture is resized whole, extended with its border's colour, and
    negated if that colour is light. Either way a picture that already is a Fashion-MNIST image
    (is_converted) is returned unchanged.
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if is_converted(colour, alpha):
        return to_uint8(colour[:, :, 0])
    colour = composite(colour, alpha)
    if fit == "none":
        ring, _ = _border(colour, 1)
        background = np.median(ring, axis=0)
        light = is_light(background[None, :])
        grey = resize_longest_edge(_grey(colour)[:, :, 0])
        out = extend_shortest_edge(grey, float(_grey(background[None, None, :])[0, 0, 0]))
    else:
        # the background and the garment's box are found on a copy of at most ANALYSIS_SIZE (noise averaged
        # away, 16x fewer pixels), then applied to the working image
        small = area_average(colour, ANALYSIS_SIZE)
        surface = background_surface(small)
        background = surface(small.shape[:2])
        light = is_light(_border(background, 1)[0])
        box = garment_box(flatten_background(small, background, light), light)
        if box is not None:
            ky, kx = colour.shape[0] / small.shape[0], colour.shape[1] / small.shape[1]
            box = (math.floor(box[0] * ky), math.floor(box[1] * kx), math.ceil(box[2] * ky), math.ceil(box[3] * kx))
        flat = flatten_background(colour, surface(colour.shape[:2]), light)
        grey = trim(_grey(flat)[:, :, 0], box)
        grey = sharpen(resize_longest_edge(grey))
        out = extend_shortest_edge(grey, 255.0 if light else 0.0)
    return to_uint8(negate(out) if light else out)


def prepare_image(data: bytes, source: str = "image", *, fit: str = "trim") -> PreparedImage:
    """The bytes of an image file -> PreparedImage(image uint8 (28, 28), original uint8 (h, w, 3)).

    Raises RowrnnError (one line naming `source`) for every failure: empty, a format outside the
    allow-list (PNG, JPEG, WebP, GIF's first frame, BMP, TIFF), over MAX_PIXELS or MAX_DECODE_BYTES
    (from the header, before decoding), damaged or truncated, unsupported modes, bomb warnings,
    oversized PNG text chunks. fit is "trim" (the default) or "none" (see convert).
    """
    if fit not in FITS:
        raise RowrnnError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    data = _file_bytes(data, source)
    with _returning_freed_memory():          # the float work's arrays too, once _prepare has dropped them
        return _prepare(data, source, fit)


def _file_bytes(data, source: str) -> bytes:
    """data as bytes (bytearray and memoryview copied), or a RowrnnError naming the argument: a learner's first
    try is decode_image("shirt.jpg"), which used to end in a TypeError from deep inside the signature check."""
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, bytes):
        return data
    hint = ("; for a file name use rowrnn.images.load_image(path)" if isinstance(data, (str, os.PathLike))
            else "; for a picture in memory, save it to an io.BytesIO as PNG and pass .getvalue()")
    raise RowrnnError(f"{display_name(source)}: data must be the bytes of an image file, "
                      f"got {type(data).__name__}{hint}")


def _prepare(data: bytes, source: str, fit: str) -> PreparedImage:
    from PIL import Image
    im = open_image(data, source)
    colour, alpha = to_arrays(im)
    image = convert(colour, alpha, fit=fit)
    shown = composite(colour, alpha)
    if shown.shape[2] == 1:
        shown = np.repeat(shown, 3, axis=2)
    original = shrink(Image.fromarray(np.clip(np.rint(shown), 0, 255).astype(np.uint8)), ORIGINAL_SIZE)
    return PreparedImage(image=image, original=np.asarray(original))


def decode_image(data: bytes, source: str = "image", *, fit: str = "trim") -> torch.Tensor:
    """The bytes of an image file -> uint8 (28, 28), light garment on black; see prepare_image."""
    return prepare_image(data, source, fit=fit).image


def read_image_file(path) -> bytes:
    """The bytes of an image file, at most MAX_FILE_BYTES. Raises RowrnnError (one line) for a directory, a
    missing, unreadable, non-regular or too large file."""
    from pathlib import Path
    path = Path(path)
    if files.is_dir(path):
        raise RowrnnError(f"{display_name(path)}: is a directory: name image files "
                          f"(e.g. {display_name(path)}/*.png)")
    return files.read_file(path, limit=MAX_FILE_BYTES, what="image")


def load_image(path, *, fit: str = "trim") -> torch.Tensor:
    """An image file (PNG, JPEG, WebP, GIF, BMP, TIFF; any size, colour or grey) -> uint8 (28, 28)."""
    path = os.fsdecode(path)
    return decode_image(read_image_file(path), display_name(path), fit=fit)
