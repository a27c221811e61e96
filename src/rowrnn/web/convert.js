// Pictures from the world -> the 28x28 light-on-black grey images Fashion-MNIST is made of, inside the browser:
// rowrnn.images (src/rowrnn/images.py) written again, step by step, for the static site; and, for a run of an
// image folder converted "plain" (any side S), rowrnn.datasets.convert_folder_image's grey S x S. The two are
// pinned together by tests/test_convert_parity.py (the same files through both, the S x S results compared).
//
//   const { pixels } = await convertImage(file);               // a File/Blob (upload, camera), a canvas, ImageData
//   const { pixels } = await convertImage(file, { fit: "none" });   // a picture already cropped by hand
//   const { pixels } = await convertImage(file, { conversion: "plain", size: 8 });   // 64 bytes, for an 8x8 run
//   convertPixels({ data, width, height }, { orientation: 6, channels: 3, alpha: false });   // pure, no browser
//
// Decoding is the browser's (createImageBitmap, with the EXIF orientation, colour management and premultiplied
// alpha all turned off); everything after it is Pillow's algorithms on the decoded array, as images.py calls
// them (Resample.c's BOX and BILINEAR, Reduce.c, BoxBlur.c's Gaussian, UnsharpMask.c), so the two agree to a
// grey level or two. Nothing here makes a request: a photo never leaves the device.

export const IMAGE_SIZE = 28;
export const FITS = ["trim", "none"];
// how a run's own pictures are made (rowrnn.datasets.CONVERSIONS): "photo" is rowrnn.images' conversion (a fit,
// 28x28 only); "plain" is an image folder's (grey, resized to the run's S x S, datasets.convert_folder_image)
export const CONVERSIONS = ["photo", "plain"];
export const MIN_SIZE = 4;       // datasets.check_folder_options' bounds on --image-size
export const MAX_SIZE = 256;     // datasets.MAX_FOLDER_SIDE
export const MAX_FILE_BYTES = 64 * 2 ** 20;
export const MAX_PIXELS = 50_000_000;
export const MAX_DECODE_BYTES = 128 * 2 ** 20;
export const WORK_SIZE = 512;
export const ANALYSIS_SIZE = 256;
export const CORNER_TOLERANCE = 0.05 * 255 * Math.sqrt(3);
export const SHARPEN_PERCENT = 50;
export const PASS_THROUGH_SPAN = 24;
export const ALLOWED = "PNG, JPEG, WebP, GIF, BMP or TIFF";
const WEBP_BYTES_PER_PIXEL = 14;
const PILLOW_MAX_IMAGE_PIXELS = Math.trunc(1024 * 1024 * 1024 / 4 / 3);   // Image.MAX_IMAGE_PIXELS

const SIGNATURES = [[[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG"], [[0xff, 0xd8, 0xff], "JPEG"],
  [ascii("GIF87a"), "GIF"], [ascii("GIF89a"), "GIF"], [ascii("BM"), "BMP"], [[0x49, 0x49, 0x2a, 0x00], "TIFF"],
  [[0x4d, 0x4d, 0x00, 0x2a], "TIFF"]];

function ascii(text) {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function startsWith(bytes, prefix, at = 0) {
  return bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);
}

function refuse(message) {
  return Object.assign(new Error(message), { refused: true });
}

const shown = (value) => (typeof value === "string" ? `'${value}'` : String(value));   // as Python's !r says it

// The options of convertImage and convertPixels, checked as rowrnn.datasets checks a run's (check_folder_options,
// prepare_picture) -> {fit, size, conversion}; a refusal names the option and what to give instead.
function conversionOf({ fit, size = IMAGE_SIZE, conversion = "photo" }) {
  if (!CONVERSIONS.includes(conversion)) {
    throw refuse(`conversion must be one of ${CONVERSIONS.join(", ")}, got ${shown(conversion)}`);
  }
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
    throw refuse(`size must be an integer from ${MIN_SIZE} to ${MAX_SIZE} pixels, got ${shown(size)}`);
  }
  if (conversion === "plain") {
    if (fit !== undefined) {
      throw refuse(`fit ${shown(fit)}: a plain conversion (grey, resized to ${size}x${size}) has no fit: drop fit`);
    }
    return { fit, size, conversion };
  }
  fit ??= "trim";
  if (!FITS.includes(fit)) throw refuse(`fit must be one of ${FITS.join(", ")}, got ${shown(fit)}`);
  if (size !== IMAGE_SIZE) {
    throw refuse(`size ${size}: the photo conversion (fit trim or none) makes ${IMAGE_SIZE}x${IMAGE_SIZE} images: `
                 + `give size ${IMAGE_SIZE}, or conversion plain for ${size}x${size}`);
  }
  return { fit, size, conversion };
}

// ----------------------------------------------------------------------------- the file: checked before decoding

// Pillow's format name for the bytes, from their signature (images.py's sniff_format), or a refusal that names
// what the file is and what to do (images.py's identify_format, below, the same table).
export function sniffFormat(bytes, name = "image") {
  if (bytes.length === 0) throw refuse(`${name}: empty file (0 bytes): give a PNG or JPEG image`);
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return "WEBP";
  let seen, advice;
  const signature = SIGNATURES.find(([prefix]) => startsWith(bytes, prefix));
  if (signature) {
    const raw = signature[1] === "TIFF" ? tiffRawKind(bytes) : null;
    if (raw === null) return signature[1];
    [seen, advice] = [raw, RAW_ADVICE];
  } else {
    [seen, advice] = identifyFormat(bytes);
  }
  throw refuse(`${name}: ${seen}, not one of the formats rowrnn reads (${ALLOWED}): ${advice}`);
}

const SAVE = "save it as PNG or JPEG";
const RAW_ADVICE = "export it as JPEG from the camera's app or a photo editor";
const HEIC_ADVICE = "share or export it as JPEG (on an iPhone, Settings > Camera > Formats > Most Compatible "
  + "takes JPEG photos from then on), or " + SAVE;
const AVIF_ADVICE = SAVE + " (AVIF's decoded size cannot be checked before decoding, so rowrnn does not decode it)";
const VIDEO_ADVICE = "take a screenshot of the frame you want and save it as PNG or JPEG";
const HEIF_BRANDS = ["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1", "mif2", "miaf"];
const VIDEO_BRANDS = ["isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "qt  ", "M4V ", "M4VP", "3gp4",
  "3gp5", "3gp6", "3g2a", "dash", "MSNV", "f4v "];
const latin1 = (text) => Array.from(text, (c) => c.charCodeAt(0));   // a byte string as images.py writes it
// (prefix, what it is, what to do): images.py's _PREFIXES, in its order
const PREFIXES = [
  ["%PDF-", "a PDF document", "export the page or the picture in it as PNG or JPEG"],
  ["%!PS", "a PostScript/EPS file", "export it as PNG or JPEG"],
  ["\xc5\xd0\xd3\xc6", "an EPS file (binary PostScript)", "export it as PNG or JPEG"],
  ["8BPS", "a Photoshop document (PSD)", "export it as PNG or JPEG"],
  ["\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image", SAVE],
  ["\xff\x0a", "a JPEG XL image", SAVE],
  ["\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image", SAVE],
  ["\xff\x4f\xff\x51", "a JPEG 2000 image", SAVE],
  ["\x00\x00\x01\x00", "a Windows icon (ICO)", SAVE],
  ["\x00\x00\x02\x00", "a Windows cursor (CUR)", SAVE],
  ["icns", "a macOS icon (ICNS)", SAVE],
  ["qoif", "a QOI image", SAVE],
  ["DDS ", "a DirectDraw texture (DDS)", SAVE],
  ["gimp xcf", "a GIMP document (XCF)", "export it as PNG or JPEG"],
  ["v/1\x01", "an OpenEXR image", SAVE],
  ["#?RADIANCE", "a Radiance HDR image", SAVE],
  ["SIMPLE  =", "a FITS image", SAVE],
  ["IIRO", "a camera RAW file (Olympus ORF)", RAW_ADVICE],
  ["IIRS", "a camera RAW file (Olympus ORF)", RAW_ADVICE],
  ["MMOR", "a camera RAW file (Olympus ORF)", RAW_ADVICE],
  ["IIU\x00", "a camera RAW file (Panasonic RW2)", RAW_ADVICE],
  ["FUJIFILMCCD-RAW", "a camera RAW file (Fujifilm RAF)", RAW_ADVICE],
  ["II\x1a\x00\x00\x00HEAPCCDR", "a camera RAW file (Canon CRW)", RAW_ADVICE],
  ["FOVb", "a camera RAW file (Sigma X3F)", RAW_ADVICE],
  ["\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Microsoft Office document (DOC, XLS or PPT)",
    "save the picture in it as PNG or JPEG"],
  ["\x1f\x8b", "a gzip-compressed file", "uncompress it and give the image inside"],
  ["7z\xbc\xaf\x27\x1c", "a 7z archive", "unpack it and give the image files inside"],
  ["Rar!\x1a\x07", "a RAR archive", "unpack it and give the image files inside"],
  ["\x1a\x45\xdf\xa3", "a video (WebM/MKV)", VIDEO_ADVICE],
].map(([prefix, seen, advice]) => [latin1(prefix), seen, advice]);

const text4 = (b, i) => String.fromCharCode(...b.subarray(i, i + 4));

// [what the file is, what to do] for a file outside the allow-list, from its bytes alone: images.py's
// identify_format (tests/test_convert_parity.py checks the two give the same lines).
export function identifyFormat(b) {
  if (b.length >= 12 && text4(b, 4) === "ftyp") {
    const size = u32be(b, 0);
    const brands = new Set([text4(b, 8)]);
    for (let i = 16; i < Math.min(Math.max(size, 16), 256, b.length) - 3; i += 4) brands.add(text4(b, i));
    if (brands.has("avif") || brands.has("avis")) return ["an AVIF image", AVIF_ADVICE];
    if (HEIF_BRANDS.some((brand) => brands.has(brand))) {
      return ["a HEIC/HEIF photo (the iPhone camera's format)", HEIC_ADVICE];
    }
    if (brands.has("crx ")) return ["a camera RAW file (Canon CR3)", RAW_ADVICE];
    if (VIDEO_BRANDS.some((brand) => brands.has(brand))) return ["a video (MP4/MOV)", VIDEO_ADVICE];
  }
  if (startsWith(b, ascii("RIFF")) && startsWith(b, ascii("AVI "), 8)) return ["a video (AVI)", VIDEO_ADVICE];
  if (b.length >= 44 && startsWith(b, latin1("TRUEVISION-XFILE.\x00"), b.length - 18)) return ["a TGA image", SAVE];
  for (const [prefix, seen, advice] of PREFIXES) if (startsWith(b, prefix)) return [seen, advice];
  if (startsWith(b, latin1("PK\x03\x04"))) return zipKind(b);
  const text = textHead(b);
  if (text !== null) {
    const head = text.trimStart().toLowerCase();
    if (head.startsWith("<svg") || ((head.startsWith("<?xml") || head.startsWith("<!doctype svg"))
                                    && head.includes("<svg"))) {
      return ["an SVG drawing (vector graphics)", "export it as PNG"];
    }
    if (["<!doctype html", "<html", "<head", "<body"].some((s) => head.startsWith(s))
        || head.slice(0, 1024).includes("<html")) {
      return ["an HTML web page", "save the picture itself (right-click > Save image as) as PNG or JPEG"];
    }
    if (head.startsWith("<?xml")) return ["an XML file", SAVE];
    if (["p1", "p2", "p3"].some((s) => head.startsWith(s)) && /^\s$/.test(head.charAt(2))) {
      return ["a Netpbm image (PBM/PGM/PPM)", SAVE];
    }
    return ["plain text", "give the picture's own file, saved as PNG or JPEG"];
  }
  if (b[0] === 0x50 && b.length >= 3 && [0x34, 0x35, 0x36].includes(b[1]) && /^\s$/.test(String.fromCharCode(b[2]))) {
    return ["a Netpbm image (PBM/PGM/PPM)", SAVE];
  }
  const hex = Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, "0")).join(" ");
  return [`an unrecognized format (first bytes ${hex})`, SAVE];
}

// The first 4 KB as text when the file looks like text (UTF-8 or UTF-16 with a BOM, no control bytes): _text_head.
function textHead(b) {
  let head = b.subarray(0, 4096), encoding = "utf-8";
  for (const [bom, codec] of [[[0xef, 0xbb, 0xbf], "utf-8"], [[0xff, 0xfe], "utf-16le"], [[0xfe, 0xff], "utf-16be"]]) {
    if (startsWith(head, bom)) {
      head = head.subarray(bom.length);
      encoding = codec;
      break;
    }
  }
  let text;
  if (encoding === "utf-8") {
    // Python's decode("utf-8", "ignore") drops what does not decode; so does this, byte by byte
    text = new TextDecoder("utf-8", { fatal: false }).decode(head).replaceAll("\ufffd", "");
  } else {
    text = new TextDecoder(encoding, { fatal: false }).decode(head.subarray(0, head.length - (head.length % 2)))
      .replaceAll("\ufffd", "");
  }
  if (!text.trim() || /[\x00-\x08\x0b\x0e-\x1f]/.test(text)) return null;
  if (encoding === "utf-8" && new TextEncoder().encode(text).length < head.length - 3) return null;
  return text;
}

// What a ZIP file is, from the member names in its local headers: _zip_kind.
function zipKind(b) {
  const inside = "save or export the picture in it as PNG or JPEG";
  const start = String.fromCharCode(...b.subarray(0, 200));
  if (start.includes("mimetypeapplication/vnd.oasis.opendocument")) {
    return ["an OpenDocument file (ODT, ODS or ODP)", inside];
  }
  for (const [member, seen] of [["word/", "a Word document (DOCX)"], ["xl/", "an Excel workbook (XLSX)"],
                                ["ppt/", "a PowerPoint presentation (PPTX)"]]) {
    const name = latin1(member);
    for (let at = b.indexOf(0x50); at >= 0 && at + 30 + name.length <= b.length; at = b.indexOf(0x50, at + 1)) {
      if (startsWith(b, latin1("PK\x03\x04"), at) && startsWith(b, name, at + 30)) return [seen, inside];
    }
  }
  return ["a ZIP archive", "unpack it and give the image files inside"];
}

// 'a camera RAW file (...)' when a file with a TIFF signature is a camera's RAW file, null for a plain TIFF:
// _tiff_raw_kind (CR2 by 'CR' at byte 8; DNGVersion; a colour filter array; SubIFDs beside Make).
function tiffRawKind(b) {
  if (b[8] === 0x43 && b[9] === 0x52) return "a camera RAW file (Canon CR2)";
  const little = b[0] === 0x49;
  const u16 = (i) => (little ? u16le(b, i) : u16be(b, i)), u32 = (i) => (little ? u32le(b, i) : u32be(b, i));
  const tags = new Map();
  try {
    if (b.length < 8) return null;
    const offset = u32(4);
    if (offset + 2 > b.length) return null;
    const count = u16(offset);
    for (let i = 0; i < Math.min(count, 512); i++) {
      const at = offset + 2 + 12 * i;
      if (at + 12 > b.length) return null;              // a damaged TIFF: struct.error in Python, None there
      tags.set(u16(at), u16(at + 2) === 3 ? u16(at + 8) : null);
    }
  } catch {
    return null;
  }
  if (tags.has(50706)) return "a camera RAW file (DNG)";
  if (tags.get(262) === 32803 || (tags.has(330) && tags.has(271))) {
    return "a camera RAW file (TIFF-based, such as NEF, ARW or PEF)";
  }
  return null;
}

function damaged(name, reason = "its header cannot be read") {
  return refuse(`${name}: damaged or unreadable image (${reason}): give a ${ALLOWED} image`);
}

const u16be = (b, i) => (b[i] << 8) | b[i + 1];
const u16le = (b, i) => b[i] | (b[i + 1] << 8);
const u32be = (b, i) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
const u32le = (b, i) => ((b[i + 3] << 24) >>> 0) + ((b[i + 2] << 16) | (b[i + 1] << 8) | b[i]);
const i32le = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

// What Pillow sees in the header: {width, height, mode (Pillow's, at open), channels (1 grey, 3 colour, after
// images.py's _pixel_mode), alpha (whether an alpha channel or a transparency key follows), orientation (EXIF 1-8),
// layers (a JPEG's components: [id, h, v]), multiScan (a JPEG whose decode keeps every coefficient)}.
export function readHeader(bytes, format, name = "image") {
  const read = { PNG: pngHeader, JPEG: jpegHeader, GIF: gifHeader, BMP: bmpHeader, WEBP: webpHeader }[format];
  if (!read) return null;
  let header;
  orientationAt = null;
  try {
    header = read(bytes);
    if (header) header.orientationAt = orientationAt;
  } catch {
    header = null;
  }
  if (!header) throw damaged(name);
  return header;
}

function pngHeader(b) {
  if (b.length < 33 || !startsWith(b, ascii("IHDR"), 12)) return null;
  const width = u32be(b, 16), height = u32be(b, 20), depth = b[24], type = b[25];
  let transparency = false, orientation = 1, xmp = null;
  for (let at = 8; at + 8 <= b.length;) {
    const length = u32be(b, at), kind = String.fromCharCode(...b.subarray(at + 4, at + 8));
    const body = b.subarray(at + 8, Math.min(b.length, at + 8 + length));
    if (kind === "tRNS") transparency = true;
    else if (kind === "eXIf") {
      orientation = exifOrientation(body, at + 8) ?? orientation;
      if (orientationAt) orientationAt.chunk = [at + 4, length + 4];     // its CRC is written again
    }
    else if (kind === "iTXt" && startsWith(body, ascii("XML:com.adobe.xmp\0"))) xmp = body;
    else if (kind === "IDAT" || kind === "IEND") break;
    at += 12 + length;
  }
  if (orientation === 1 && xmp) orientation = xmpOrientation(xmp) ?? 1;
  const modes = { 0: depth === 1 ? "1" : depth === 16 ? "I;16" : "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA" };
  const mode = modes[type];
  if (!mode) return null;
  // images.py's _pixel_mode: a tRNS key makes L, RGB and P into RGBA; P alone becomes RGB
  const channels = (type === 0 || type === 4) && !transparency ? 1 : 3;
  const alpha = type === 4 || type === 6 || transparency;
  return { width, height, mode, channels, alpha, orientation };
}

function jpegHeader(b) {
  let at = 2, orientation = null, xmp = null, frame = null, scans = 0, progressive = false;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return frame && { ...frame, orientation: orientation ?? 1, multiScan: progressive };
    const marker = b[at + 1];
    if (marker === 0xff) { at += 1; continue; }
    if (marker === 0xd9) break;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { at += 2; continue; }
    const length = u16be(b, at + 2), body = b.subarray(at + 4, at + 2 + length);
    if (marker === 0xe1 && startsWith(body, ascii("Exif\0\0")) && orientation === null) {
      orientation = exifOrientation(body.subarray(6), at + 10) ?? 1;
    } else if (marker === 0xe1 && startsWith(body, ascii("http://ns.adobe.com/xap/1.0/\0")) && !xmp) {
      xmp = body;
    } else if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker) && !frame) {
      const count = body[5], layers = [];
      for (let i = 0; i < count; i++) layers.push([body[6 + 3 * i], body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15]);
      progressive = [0xc2, 0xc6, 0xca].includes(marker);
      frame = { height: u16be(body, 1), width: u16be(body, 3), layers,
                mode: count === 1 ? "L" : count === 4 ? "CMYK" : "RGB", channels: count === 1 ? 1 : 3, alpha: false };
    }
    at += 2 + length;
    if (marker === 0xda) {                 // SOS: skip the entropy-coded data to the next real marker
      scans += 1;
      if (scans > 1) progressive = true;
      while (at + 1 < b.length && !(b[at] === 0xff && b[at + 1] !== 0 && !(b[at + 1] >= 0xd0 && b[at + 1] <= 0xd7)
                                    && b[at + 1] !== 0xff)) at += 1;
    }
  }
  if (!frame) return null;
  if (orientation === null && xmp) orientation = xmpOrientation(xmp);
  return { ...frame, orientation: orientation ?? 1, multiScan: progressive };
}

function gifHeader(b) {
  if (b.length < 13) return null;
  // Pillow: mode P (L for a grey palette; either way three channels after _pixel_mode unless L), RGBA with a
  // transparent index; the first frame's Graphic Control Extension tells
  let transparency = false;
  let at = 13 + ((b[10] & 0x80) ? 3 * 2 ** ((b[10] & 7) + 1) : 0);
  while (at < b.length && b[at] === 0x21) {
    if (b[at + 1] === 0xf9 && (b[at + 3] & 1)) transparency = true;
    at += 2;
    while (at < b.length && b[at] !== 0) at += b[at] + 1;
    at += 1;
  }
  return { width: u16le(b, 6), height: u16le(b, 8), mode: "P", channels: 3, alpha: transparency, orientation: 1,
           greyUnknown: true };
}

function bmpHeader(b) {
  if (b.length < 26) return null;
  const size = u32le(b, 14);
  const width = size === 12 ? u16le(b, 18) : i32le(b, 18);
  const height = size === 12 ? u16le(b, 20) : Math.abs(i32le(b, 22));
  const bits = size === 12 ? u16le(b, 24) : u16le(b, 28);
  const mode = bits <= 8 ? "P" : bits === 32 ? "RGBA" : "RGB";
  return { width, height, mode, channels: 3, alpha: false, orientation: 1, greyUnknown: bits <= 8,
           alphaUnknown: bits === 32 };
}

function webpHeader(b) {
  let width = 0, height = 0, alpha = false, orientation = 1;
  for (let at = 12; at + 8 <= b.length;) {
    const kind = String.fromCharCode(...b.subarray(at, at + 4)), length = u32le(b, at + 4), body = b.subarray(at + 8);
    if (kind === "VP8X") {
      alpha = (body[0] & 0x10) !== 0;
      width = 1 + (body[4] | (body[5] << 8) | (body[6] << 16));
      height = 1 + (body[7] | (body[8] << 8) | (body[9] << 16));
    } else if (kind === "VP8 " && !width) {
      width = u16le(body, 6) & 0x3fff;
      height = u16le(body, 8) & 0x3fff;
    } else if (kind === "VP8L" && !width) {
      const bits = u32le(body, 1);
      width = (bits & 0x3fff) + 1;
      height = ((bits >>> 14) & 0x3fff) + 1;
      alpha = ((bits >>> 28) & 1) === 1;
    } else if (kind === "EXIF") {
      orientation = exifOrientation(body.subarray(0, length), at + 8) ?? orientation;
    }
    at += 8 + length + (length & 1);
  }
  return width ? { width, height, mode: alpha ? "RGBA" : "RGB", channels: 3, alpha, orientation } : null;
}

// The Orientation tag (0x0112) of a TIFF-structured EXIF block, or null when absent or damaged. base: where the
// block starts in the file; the tag's place is kept (orientationAt) so that the browser's decoder can be handed a
// copy with the tag set to 1, and the turn applied here, where Pillow applies it.
let orientationAt = null;
function exifOrientation(tiff, base = 0) {
  if (startsWith(tiff, ascii("Exif\0\0"))) { tiff = tiff.subarray(6); base += 6; }
  if (tiff.length < 8) return null;
  const little = tiff[0] === 0x49;
  const u16 = little ? u16le : u16be, u32 = little ? u32le : u32be;
  const ifd = u32(tiff, 4);
  if (ifd + 2 > tiff.length) return null;
  const count = u16(tiff, ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + 12 * i;
    if (entry + 12 > tiff.length) return null;
    if (u16(tiff, entry) === 0x0112) {
      const type = u16(tiff, entry + 2);
      if (type !== 3 && type !== 4) return null;
      orientationAt = { at: base + entry + 8, bytes: type === 3 ? 2 : 4, little };
      return type === 3 ? u16(tiff, entry + 8) : u32(tiff, entry + 8);
    }
  }
  return null;
}

function xmpOrientation(body) {
  const match = /tiff:Orientation(="|>)([0-9])/.exec(new TextDecoder("latin1").decode(body));
  return match ? Number(match[2]) : null;
}

const BYTES_PER_PIXEL = { 1: 1, L: 1, P: 1, "I;16": 2 };

function jpegCoefficientBytes(width, height, layers) {
  const hMax = Math.max(...layers.map((l) => l[1])), vMax = Math.max(...layers.map((l) => l[2]));
  let total = 0;
  for (const [, h, v] of layers) {
    const blocksW = Math.ceil(Math.ceil((width * h) / hMax) / 8), blocksH = Math.ceil(Math.ceil((height * v) / vMax) / 8);
    total += Math.ceil(blocksW / h) * h * Math.ceil(blocksH / v) * v * 128;
  }
  return total;
}

// The refusals images.py's open_image gives from the header, before any decoder runs; returns the JPEG's
// draft scale (Pillow's Image.draft: 1, 2, 4 or 8).
export function checkBudget(header, format, name = "image") {
  const { width, height, mode } = header;
  if (width < 1 || height < 1) throw refuse(`${name}: the image is ${width}x${height} pixels: give a picture`);
  if (width * height > PILLOW_MAX_IMAGE_PIXELS) {   // Pillow's bomb check at open, before any draft
    throw refuse(`${name}: the image is over the limit of ${MAX_PIXELS / 1_000_000} megapixels: shrink it first`);
  }
  let draft = 1;
  if (format === "JPEG" && Math.max(width, height) > WORK_SIZE) {
    const k = WORK_SIZE / Math.max(width, height);
    const scale = Math.min(Math.floor(width / Math.ceil(width * k)), Math.floor(height / Math.ceil(height * k)));
    draft = [8, 4, 2, 1].find((s) => scale >= s);
  }
  const w = Math.ceil(width / draft), h = Math.ceil(height / draft);
  if (w * h > MAX_PIXELS) {
    throw refuse(`${name}: ${w}x${h} pixels is over the limit of ${MAX_PIXELS / 1_000_000} megapixels: shrink it first`);
  }
  let cost = w * h * (BYTES_PER_PIXEL[mode] ?? 4);
  if (format === "JPEG" && header.multiScan) cost += jpegCoefficientBytes(width, height, header.layers);
  else if (format === "WEBP") cost += w * h * WEBP_BYTES_PER_PIXEL;
  if (cost > MAX_DECODE_BYTES) {
    throw refuse(`${name}: ${width}x${height} pixels in mode ${mode} would take ${Math.ceil(cost / 2 ** 20)} MB to `
                 + `decode, over the limit of ${MAX_DECODE_BYTES / 2 ** 20} MB: shrink it first`);
  }
  return draft;
}

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function human(n) {
  for (const [unit, size] of [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]]) {
    if (n >= size) return `${Number((n / size).toPrecision(3))} ${unit}`;
  }
  return `${n} bytes`;
}

// ----------------------------------------------------------------------------- Pillow's resampling, on arrays

function roundHalfEven(x) {             // Python's round() and numpy's rint
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const FILTERS = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
};

// Resample.c's precompute_coeffs: for each output pixel, the first input pixel and its weights.
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = filter.support * filterscale;
  const bounds = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k = new Float64Array(xmax);
    let total = 0;
    for (let x = 0; x < xmax; x++) total += (k[x] = filter.f((x + xmin - center + 0.5) / filterscale));
    if (total !== 0) for (let x = 0; x < xmax; x++) k[x] /= total;
    bounds.push([xmin, k]);
  }
  return bounds;
}

// One band resized by Pillow's two passes (horizontal first). eight: the 8-bit path (fixed-point weights of
// 22 bits, each pass rounded to 0-255), else mode F's (double sums, each pass stored as float32).
function resamplePlane(plane, width, height, newWidth, newHeight, filterName, eight) {
  let out = Float64Array.from(plane), w = width;
  if (newWidth !== width) { out = resamplePass(out, width, height, newWidth, true, filterName, eight); w = newWidth; }
  if (newHeight !== height) out = resamplePass(out, w, height, newHeight, false, filterName, eight);
  return eight ? Uint8Array.from(out) : Float32Array.from(out);
}

function resamplePass(src, w, h, outSize, horizontal, filterName, eight) {
  const coeffs = coefficients(horizontal ? w : h, outSize, FILTERS[filterName]);
  const outW = horizontal ? outSize : w, outH = horizontal ? h : outSize;
  const firsts = new Int32Array(outSize), lengths = new Int32Array(outSize);
  const ksize = Math.max(...coeffs.map(([, k]) => k.length));
  const weights = new Float64Array(outSize * ksize);
  coeffs.forEach(([first, k], i) => {
    firsts[i] = first;
    lengths[i] = k.length;
    for (let j = 0; j < k.length; j++) {
      weights[i * ksize + j] = eight ? Math.trunc(k[j] < 0 ? k[j] * 4194304 - 0.5 : k[j] * 4194304 + 0.5) : k[j];
    }
  });
  const out = new Float64Array(outW * outH);
  const step = horizontal ? 1 : w;            // the distance between neighbours along the pass
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const i = horizontal ? x : y, n = lengths[i], at = i * ksize;
      let from = horizontal ? y * w + firsts[i] : firsts[i] * w + x;
      let sum = eight ? 2097152 : 0;
      for (let j = 0; j < n; j++, from += step) sum += weights[at + j] * src[from];
      out[y * outW + x] = eight ? Math.min(255, Math.max(0, Math.floor(sum / 4194304))) : Math.fround(sum);
    }
  }
  return out;
}

// An 8-bit picture {data RGBA, width, height, alpha} resized as Image.resize does: LA and RGBA premultiplied
// first (Convert.c's rgbA2rgba), resampled, then divided back (rgba2rgbA).
function resizeImage(image, newWidth, newHeight, filterName) {
  const { data, width, height, alpha, channels = 3 } = image;
  const n = width * height;
  const bands = [0, 1, 2, 3].map((c) => {
    if ((c === 3 && !alpha) || (c > 0 && c < 3 && channels === 1)) {   // not read after this: not resampled
      return new Uint8Array(newWidth * newHeight).fill(c === 3 ? 255 : 0);
    }
    const plane = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = data[4 * i + c];
      if (alpha && c < 3) {
        const t = v * data[4 * i + 3] + 128;
        plane[i] = ((t >> 8) + t) >> 8;
      } else plane[i] = v;
    }
    return resamplePlane(plane, width, height, newWidth, newHeight, filterName, true);
  });
  return { ...image, width: newWidth, height: newHeight, data: interleave(bands, newWidth * newHeight, alpha) };
}

function interleave(bands, n, alpha) {
  const out = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    const a = bands[3][i];
    for (let c = 0; c < 3; c++) {
      const v = bands[c][i];
      out[4 * i + c] = !alpha || a === 255 || a === 0 ? v : Math.min(255, Math.floor((255 * v) / a));
    }
    out[4 * i + 3] = a;
  }
  return out;
}

// Reduce.c: boxes of factor x factor pixels averaged (the last ones of a row or column partial), rounded as
// Pillow does; premultiplied as images.py's reduce_in_tiles does. Also stands in for a JPEG's draft (libjpeg
// scales in the DCT; the browser decodes the full size).
function reduceImage(image, factor) {
  const { data, width, height, alpha } = image;
  const outW = Math.ceil(width / factor), outH = Math.ceil(height / factor);
  const bands = [0, 1, 2, 3].map(() => new Uint8Array(outW * outH));
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const sums = [0, 0, 0, 0];
      let count = 0;
      for (let yy = y * factor; yy < Math.min(height, (y + 1) * factor); yy++) {
        for (let xx = x * factor; xx < Math.min(width, (x + 1) * factor); xx++) {
          const i = 4 * (yy * width + xx), a = data[i + 3];
          for (let c = 0; c < 4; c++) {
            let v = data[i + c];
            if (alpha && c < 3) { const t = v * a + 128; v = ((t >> 8) + t) >> 8; }
            sums[c] += v;
          }
          count += 1;
        }
      }
      const multiplier = Math.floor(2 ** 32 / (256 * count));
      for (let c = 0; c < 4; c++) bands[c][y * outW + x] = Math.floor(((sums[c] + (count >> 1)) * multiplier) / 2 ** 24);
    }
  }
  return { ...image, width: outW, height: outH, data: interleave(bands, outW * outH, alpha) };
}

// ImageOps.exif_transpose's table: the EXIF orientation -> the pixels as a viewer shows them.
export function orientImage(image, orientation) {
  const { data, width: w, height: h } = image;
  if (!(orientation >= 2 && orientation <= 8)) return image;
  const swap = orientation >= 5;
  const outW = swap ? h : w, outH = swap ? w : h;
  const out = new Uint8ClampedArray(data.length);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const sx = [0, 0, w - 1 - x, w - 1 - x, x, y, y, w - 1 - y, w - 1 - y][orientation];
      const sy = [0, 0, y, h - 1 - y, h - 1 - y, x, h - 1 - x, h - 1 - x, x][orientation];
      const from = 4 * (sy * w + sx), to = 4 * (y * outW + x);
      for (let c = 0; c < 4; c++) out[to + c] = data[from + c];
    }
  }
  return { ...image, data: out, width: outW, height: outH };
}

// ----------------------------------------------------------------------------- the conversion on float arrays

// A float image: {data: Float32Array (h*w*c), height, width, c}.
const grid = (height, width, c, data = new Float32Array(height * width * c)) => ({ data, height, width, c });
const GREY = [Math.fround(0.299), Math.fround(0.587), Math.fround(0.114)];

function toGrey(img) {                 // ITU-R 601 luma, convert('L')'s weights: (h, w, c) -> (h, w, 1)
  if (img.c === 1) return img;
  const n = img.height * img.width, out = new Float32Array(n), d = img.data;
  for (let i = 0; i < n; i++) out[i] = d[3 * i] * GREY[0] + d[3 * i + 1] * GREY[1] + d[3 * i + 2] * GREY[2];
  return grid(img.height, img.width, 1, out);
}

function median(values) {               // numpy's: the mean of the two middle values of an even count
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length, mid = n >> 1;
  return n % 2 ? sorted[mid] : Math.fround((sorted[mid - 1] + sorted[mid]) / 2);
}

function border(img, width) {          // the outer ring's pixels, row-major: [pixels as arrays of c, row, col]
  const out = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (y < width || y >= img.height - width || x < width || x >= img.width - width) {
        const i = (y * img.width + x) * img.c;
        out.push([Array.from(img.data.subarray(i, i + img.c)), y, x]);
      }
    }
  }
  return out;
}

const channelMedians = (pixels, c) => Array.from({ length: c }, (_, k) => median(pixels.map((p) => p[k])));
const greyOf = (colour) => (colour.length === 1 ? colour[0] : colour[0] * GREY[0] + colour[1] * GREY[1] + colour[2] * GREY[2]);

function composite(colour, alpha) {
  if (!alpha) return colour;
  const n = colour.height * colour.width, c = colour.c, grey = toGrey(colour).data;
  let weight = 0, weighted = 0;
  for (let i = 0; i < n; i++) { weight += alpha[i]; weighted += grey[i] * alpha[i]; }
  const backdrop = weight > 0 && weighted / weight > 127.5 ? 0 : 255;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) out[i * c + k] = colour.data[i * c + k] * alpha[i] + backdrop * (1 - alpha[i]);
  }
  return grid(colour.height, colour.width, c, out);
}

function areaAverage(img, longest) {
  if (Math.max(img.height, img.width) <= longest) return img;
  const k = longest / Math.max(img.height, img.width);
  const w = Math.max(1, roundHalfEven(img.width * k)), h = Math.max(1, roundHalfEven(img.height * k));
  const out = grid(h, w, img.c);
  for (let ch = 0; ch < img.c; ch++) {
    const plane = new Float32Array(img.height * img.width);
    for (let i = 0; i < plane.length; i++) plane[i] = img.data[i * img.c + ch];
    const small = resamplePlane(plane, img.width, img.height, w, h, "box", false);
    for (let i = 0; i < small.length; i++) out.data[i * img.c + ch] = small[i];
  }
  return out;
}

function solve(a, b) {                 // Gaussian elimination with partial pivoting: a (n x n), b (n x m)
  const n = a.length, m = b[0].length;
  a = a.map((row) => [...row]);
  b = b.map((row) => [...row]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let r = col + 1; r < n; r++) {
      const f = a[r][col] / a[col][col];
      for (let k = col; k < n; k++) a[r][k] -= f * a[col][k];
      for (let k = 0; k < m; k++) b[r][k] -= f * b[col][k];
    }
  }
  const x = Array.from({ length: n }, () => new Array(m).fill(0));
  for (let r = n - 1; r >= 0; r--) {
    for (let k = 0; k < m; k++) {
      let s = b[r][k];
      for (let j = r + 1; j < n; j++) s -= a[r][j] * x[j][k];
      x[r][k] = s / a[r][r];
    }
  }
  return x;
}

const design = (y, x, h, w) => {
  const u = ((x + 0.5) / w) * 2 - 1, v = ((y + 0.5) / h) * 2 - 1;
  return [1, u, v, u * u, u * v, v * v];
};

const level = (value, c) => (h, w) => {
  const out = grid(h, w, c);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) out.data[i * c + k] = value[k];
  return out;
};

// images.py's background_surface: the paper fitted to the border (a quadratic surface, twice, outliers left
// out; a Coons patch of the border when a shadow covers a side; a flat colour when nothing fits), as a function
// (height, width) -> the surface at that size.
function backgroundSurface(img) {
  const { height: h, width: w, c } = img;
  const width = Math.max(1, roundHalfEven(0.02 * Math.min(h, w)));
  const ring = border(img, width);
  const pixels = ring.map((p) => p[0]);
  const flat = channelMedians(pixels, c);
  if (ring.length < 24 || Math.min(h, w) < 8) return level(flat, c);
  const features = ring.map(([, y, x]) => design(y, x, h, w));
  let predicted = pixels.map(() => flat), coef = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    const distance = pixels.map((p, i) => {
      let s = 0;
      for (let k = 0; k < c; k++) {
        const d = attempt === 0 ? Math.fround(p[k] - predicted[i][k]) : p[k] - predicted[i][k];
        s += attempt === 0 ? Math.fround(d * d) : d * d;
      }
      return attempt === 0 ? Math.fround(Math.sqrt(s)) : Math.sqrt(s);
    });
    const limit = Math.max(CORNER_TOLERANCE, 3 * median(distance));
    const keep = distance.map((d) => d <= limit);
    const kept = keep.filter(Boolean).length / keep.length;
    if (attempt === 0 && kept < 2 / 3) return borderPatch(img, width);
    if (kept < 0.5) {
      const chosen = pixels.filter((_, i) => keep[i]);
      return level(chosen.length ? channelMedians(chosen, c) : flat, c);
    }
    const ata = Array.from({ length: 6 }, (_, i) => Array.from({ length: 6 }, (__, j) => (i === j ? 1e-6 : 0)));
    const atb = Array.from({ length: 6 }, () => new Array(c).fill(0));
    for (let n = 0; n < pixels.length; n++) {
      if (!keep[n]) continue;
      const f = features[n];
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) ata[i][j] += f[i] * f[j];
        for (let k = 0; k < c; k++) atb[i][k] += f[i] * pixels[n][k];
      }
    }
    coef = solve(ata, atb);
    predicted = features.map((f) => Array.from({ length: c }, (_, k) => f.reduce((s, v, i) => s + v * coef[i][k], 0)));
  }
  const coef32 = coef.map((row) => row.map(Math.fround));
  return (outH, outW) => {
    const out = grid(outH, outW, c);
    for (let yy = 0; yy < outH; yy++) {
      const y = Math.fround((yy + 0.5) * (h / outH) - 0.5), v = Math.fround(((y + 0.5) / h) * 2 - 1);
      for (let xx = 0; xx < outW; xx++) {
        const x = Math.fround((xx + 0.5) * (w / outW) - 0.5), u = Math.fround(((x + 0.5) / w) * 2 - 1);
        for (let k = 0; k < c; k++) {
          const value = coef32[0][k] + coef32[1][k] * u + coef32[2][k] * v + coef32[3][k] * u * u
            + coef32[4][k] * u * v + coef32[5][k] * v * v;
          out.data[(yy * outW + xx) * c + k] = Math.min(255, Math.max(1, value));
        }
      }
    }
    return out;
  };
}

function runningMedian(profile, fraction = 1 / 3) {     // profile: array of [c values]
  const n = profile.length, c = profile[0].length;
  const window = Math.max(3, Math.trunc(fraction * n) | 1), half = window >> 1;
  const padded = [...Array(half).fill(profile[0]), ...profile, ...Array(half).fill(profile[n - 1])];
  return profile.map((_, i) => Array.from({ length: c }, (__, k) => median(padded.slice(i, i + window).map((p) => p[k]))));
}

function borderPatch(img, width) {
  const { height: h, width: w, c } = img;
  const at = (y, x) => Array.from(img.data.subarray((y * w + x) * c, (y * w + x + 1) * c));
  const rowsProfile = (y0, y1) => runningMedian(Array.from({ length: w }, (_, x) => {
    const column = [];
    for (let y = y0; y < y1; y++) column.push(at(y, x));
    return channelMedians(column, c);
  }));
  const colsProfile = (x0, x1) => runningMedian(Array.from({ length: h }, (_, y) => {
    const row = [];
    for (let x = x0; x < x1; x++) row.push(at(y, x));
    return channelMedians(row, c);
  }));
  const top = rowsProfile(0, width), bottom = rowsProfile(h - width, h);
  const left = colsProfile(0, width), right = colsProfile(w - width, w);
  const c00 = top[0].map((v, k) => (v + left[0][k]) / 2), c01 = top[w - 1].map((v, k) => (v + right[0][k]) / 2);
  const c10 = bottom[0].map((v, k) => (v + left[h - 1][k]) / 2);
  const c11 = bottom[w - 1].map((v, k) => (v + right[h - 1][k]) / 2);
  const interp = (profile, p, k) => {             // numpy's interp over 0..n-1, clamped at the ends
    const n = profile.length;
    if (p <= 0) return profile[0][k];
    if (p >= n - 1) return profile[n - 1][k];
    const i = Math.floor(p), t = p - i;
    return profile[i][k] + t * (profile[i + 1][k] - profile[i][k]);
  };
  return (outH, outW) => {
    const out = grid(outH, outW, c);
    for (let yy = 0; yy < outH; yy++) {
      const y = (yy + 0.5) * (h / outH) - 0.5, v = Math.min(1, Math.max(0, y / Math.max(h - 1, 1)));
      for (let xx = 0; xx < outW; xx++) {
        const x = (xx + 0.5) * (w / outW) - 0.5, u = Math.min(1, Math.max(0, x / Math.max(w - 1, 1)));
        for (let k = 0; k < c; k++) {
          const value = (1 - v) * interp(top, x, k) + v * interp(bottom, x, k) + (1 - u) * interp(left, y, k)
            + u * interp(right, y, k) - ((1 - u) * (1 - v) * c00[k] + u * (1 - v) * c01[k] + (1 - u) * v * c10[k]
            + u * v * c11[k]);
          out.data[(yy * outW + xx) * c + k] = Math.min(255, Math.max(1, value));
        }
      }
    }
    return out;
  };
}

function isLight(pixels) {            // pixels: arrays of c; the mean luma above the middle grey
  let sum = 0;
  for (const p of pixels) sum += Math.fround(greyOf(p));
  return sum / pixels.length > 127.5;
}

function flattenBackground(colour, background, light) {
  const out = new Float32Array(colour.data.length), d = colour.data, b = background.data;
  for (let i = 0; i < d.length; i++) {
    const v = light ? Math.fround(Math.fround(d[i] / b[i]) * 255) : ((d[i] - b[i]) / Math.max(255 - b[i], 1)) * 255;
    out[i] = Math.min(255, Math.max(0, v));
  }
  return grid(colour.height, colour.width, colour.c, out);
}

function garmentBox(flat, light) {
  const { height: h, width: w, c } = flat, target = light ? 255 : 0;
  const distance = grid(h, w, 1);
  for (let i = 0; i < h * w; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) { const d = Math.fround(flat.data[i * c + k] - target); s += Math.fround(d * d); }
    distance.data[i] = Math.sqrt(s);
  }
  const ring = border(distance, Math.max(1, roundHalfEven(0.02 * Math.min(h, w)))).map((p) => p[0][0]);
  const tolerance = Math.max(CORNER_TOLERANCE * Math.sqrt(c / 3), 3 * median(ring));
  const on = (y, x) => y >= 0 && y < h && x >= 0 && x < w && distance.data[y * w + x] > tolerance;
  let top = h, left = w, bottom = -1, right = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let count = 0;                     // a 3x3 median of the mask, background beyond the edges
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) count += on(y + dy, x + dx);
      if (count >= 5) {
        top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  return bottom < 0 ? null : [top, left, bottom + 1, right + 1];
}

function crop(img, top, left, bottom, right) {
  const out = grid(bottom - top, right - left, img.c);
  for (let y = top; y < bottom; y++) {
    out.data.set(img.data.subarray((y * img.width + left) * img.c, (y * img.width + right) * img.c),
                 (y - top) * out.width * img.c);
  }
  return out;
}

function trim(grey, box, margin = 0.02) {
  if (!box) return grey;
  const [top, left, bottom, right] = box;
  const pad = roundHalfEven(margin * Math.max(bottom - top, right - left));
  return crop(grey, Math.max(0, top - pad), Math.max(0, left - pad), Math.min(grey.height, bottom + pad),
              Math.min(grey.width, right + pad));
}

function resizeLongestEdge(grey, size = IMAGE_SIZE) {
  const k = size / Math.max(grey.height, grey.width);
  const w = Math.max(1, roundHalfEven(grey.width * k)), h = Math.max(1, roundHalfEven(grey.height * k));
  if (w === grey.width && h === grey.height) return grey;
  return grid(h, w, 1, resamplePlane(grey.data, grey.width, grey.height, w, h, k <= 1 ? "box" : "bilinear", false));
}

// BoxBlur.c's ImagingLineBoxBlur8 over one line (radius: Pillow's float radius of one box pass)
function boxBlurLine(line, radius) {
  const r = Math.trunc(radius), n = line.length, last = n - 1;
  const ww = Math.trunc(Math.fround(2 ** 24 / Math.fround(radius * 2 + 1)));
  const fw = Math.trunc((2 ** 24 - (r * 2 + 1) * ww) / 2);
  const edgeA = Math.min(r + 1, n), edgeB = Math.max(n - r - 1, 0);
  const out = new Uint8Array(n);
  let acc = line[0] * (r + 1);
  for (let x = 0; x < edgeA - 1; x++) acc += line[x];
  acc += line[last] * (r - edgeA + 1);
  const save = (x, left, right) => { out[x] = Math.floor((acc * ww + (line[left] + line[right]) * fw + 2 ** 23) / 2 ** 24) & 255; };
  if (edgeA <= edgeB) {
    for (let x = 0; x < edgeA; x++) { acc += line[x + r] - line[0]; save(x, 0, x + r + 1); }
    for (let x = edgeA; x < edgeB; x++) { acc += line[x + r] - line[x - r - 1]; save(x, x - r - 1, x + r + 1); }
    for (let x = edgeB; x <= last; x++) { acc += line[last] - line[x - r - 1]; save(x, x - r - 1, last); }
  } else {
    for (let x = 0; x < edgeB; x++) { acc += line[x + r] - line[0]; save(x, 0, x + r + 1); }
    for (let x = edgeB; x < edgeA; x++) { acc += line[last] - line[0]; save(x, 0, last); }
    for (let x = edgeA; x <= last; x++) { acc += line[last] - line[x - r - 1]; save(x, x - r - 1, last); }
  }
  return out;
}

function gaussianBoxRadius(radius, passes) {     // BoxBlur.c's _gaussian_blur_radius, in float32 as there
  const f = Math.fround;
  const sigma2 = f(f(radius * radius) / passes);
  const L = f(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = f(Math.floor((L - 1.0) / 2.0));
  let a = f(f(2 * l + 1) * f(l * (l + 1) - 3 * sigma2));
  a = f(a / f(6 * f(sigma2 - (l + 1) * (l + 1))));
  return f(l + a);
}

// Step 4: ImageFilter.UnsharpMask(radius=1, percent, threshold=0) on the grey rounded to 8 bits (UnsharpMask.c:
// GaussianBlur as three box blurs each way, then the difference from the blur added back).
function sharpen(grey, percent = SHARPEN_PERCENT) {
  if (percent === 0) return grey;
  const { height: h, width: w } = grey;
  const original = Uint8Array.from(grey.data, (v) => Math.min(255, Math.max(0, roundHalfEven(v))));
  const radius = gaussianBoxRadius(1.0, 3);
  let blurred = Uint8Array.from(original);
  for (let pass = 0; pass < 3; pass++) {
    for (let y = 0; y < h; y++) blurred.set(boxBlurLine(blurred.subarray(y * w, (y + 1) * w), radius), y * w);
  }
  for (let pass = 0; pass < 3; pass++) {
    for (let x = 0; x < w; x++) {
      const column = Uint8Array.from({ length: h }, (_, y) => blurred[y * w + x]);
      const out = boxBlurLine(column, radius);
      for (let y = 0; y < h; y++) blurred[y * w + x] = out[y];
    }
  }
  const out = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const diff = original[i] - blurred[i];
    out[i] = diff !== 0 ? Math.min(255, Math.max(0, original[i] + Math.trunc((diff * percent) / 100))) : original[i];
  }
  return grid(h, w, 1, out);
}

function extendShortestEdge(grey, fill, size = IMAGE_SIZE) {
  const out = new Float32Array(size * size).fill(fill);
  const top = (size - grey.height) >> 1, left = (size - grey.width) >> 1;
  for (let y = 0; y < grey.height; y++) {
    for (let x = 0; x < grey.width; x++) out[(top + y) * size + left + x] = grey.data[y * grey.width + x];
  }
  return grid(size, size, 1, out);
}

function isConverted(colour, alpha) {
  if (colour.height !== IMAGE_SIZE || colour.width !== IMAGE_SIZE || alpha) return false;
  const n = IMAGE_SIZE * IMAGE_SIZE, d = colour.data, c = colour.c, grey = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (c === 3 && (d[3 * i] !== d[3 * i + 1] || d[3 * i] !== d[3 * i + 2])) return false;
    grey[i] = d[i * c];
  }
  if (median(border(grid(IMAGE_SIZE, IMAGE_SIZE, 1, grey), 1).map((p) => p[0][0])) >= 128) return false;
  let top = n, bottom = -1, left = n, right = -1;
  for (let i = 0; i < n; i++) {
    if (grey[i] > 0) {
      const y = Math.floor(i / IMAGE_SIZE), x = i % IMAGE_SIZE;
      top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
    }
  }
  return bottom >= 0 && Math.max(bottom - top, right - left) + 1 >= PASS_THROUGH_SPAN;
}

function toUint8(data, light) {
  return Uint8Array.from(data, (v) => Math.min(255, Math.max(0, roundHalfEven(light ? 255 - v : v))));
}

// datasets.convert_folder_image's "plain": transparency composited, grey (ITU-R 601), resized to size x size by
// Pillow's BILINEAR in mode F (antialiased when shrinking) only when its size differs -> Uint8Array(size * size).
function convertPlain(colour, alpha, size) {
  const grey = toGrey(composite(colour, alpha));
  const resized = grey.width === size && grey.height === size ? grey.data
    : resamplePlane(grey.data, grey.width, grey.height, size, size, "bilinear", false);
  return toUint8(resized, false);
}

// images.py's convert: float colour (h, w, c) at 0-255 and alpha (h*w, 0-1) or null -> Uint8Array(784).
function convertColour(colour, alpha, fit) {
  if (isConverted(colour, alpha)) return toUint8(toGrey(colour).data, false);
  colour = composite(colour, alpha);
  if (fit === "none") {
    const background = channelMedians(border(colour, 1).map((p) => p[0]), colour.c);
    const light = isLight([background]);
    const grey = resizeLongestEdge(toGrey(colour));
    return toUint8(extendShortestEdge(grey, Math.fround(greyOf(background))).data, light);
  }
  const small = areaAverage(colour, ANALYSIS_SIZE);
  const surface = backgroundSurface(small);
  const background = surface(small.height, small.width);
  const light = isLight(border(background, 1).map((p) => p[0]));
  let box = garmentBox(flattenBackground(small, background, light), light);
  if (box) {
    const ky = colour.height / small.height, kx = colour.width / small.width;
    box = [Math.floor(box[0] * ky), Math.floor(box[1] * kx), Math.ceil(box[2] * ky), Math.ceil(box[3] * kx)];
  }
  const flat = flattenBackground(colour, surface(colour.height, colour.width), light);
  const grey = sharpen(resizeLongestEdge(trim(toGrey(flat), box)));
  return toUint8(extendShortestEdge(grey, light ? 255 : 0).data, light);
}

/**
 * The conversion on a decoded picture, with no browser API: what convertImage does after decoding.
 *
 * image: {data: RGBA bytes (Uint8Array or Uint8ClampedArray, width*height*4, not premultiplied), width, height},
 *   the pixels as stored in the file (before the EXIF orientation).
 * options: orientation (EXIF 1-8, default 1); channels (1 for a grey file such as a grey PNG or JPEG, whose
 *   red band is read, else 3; default 3); alpha (whether the file has transparency, default true; false ignores
 *   the alpha band); draft (a large JPEG's Pillow draft scale, 1, 2, 4 or 8, from checkBudget; default 1);
 *   conversion, fit and size as convertImage's.
 * Returns {pixels: Uint8Array(size * size), the size x size grey image row by row (784 bytes, light on black, for
 *   the photo conversion); original: {data: Uint8ClampedArray RGBA, width, height}, the upright picture with
 *   transparency composited, at most 512 a side}.
 * Throws an Error (error.refused true) for options convertImage refuses.
 */
export function convertPixels(image, { orientation = 1, channels = 3, alpha = true, draft = 1, ...options } = {}) {
  const { fit, size, conversion } = conversionOf(options);
  let picture = { data: image.data, width: image.width, height: image.height, alpha, channels };
  if (draft > 1) picture = reduceImage(picture, draft);
  const factor = Math.floor(Math.max(picture.width, picture.height) / WORK_SIZE);
  if (factor > 1) picture = reduceImage(picture, factor);
  picture = orientImage(picture, orientation);
  const longest = Math.max(picture.width, picture.height);
  if (longest > WORK_SIZE) {
    const k = WORK_SIZE / longest;
    picture = resizeImage(picture, Math.max(1, roundHalfEven(picture.width * k)),
                          Math.max(1, roundHalfEven(picture.height * k)), "box");
  }
  const { width, height, data } = picture, n = width * height;
  const colour = grid(height, width, channels);
  let alphas = null;
  for (let i = 0; i < n; i++) for (let k = 0; k < channels; k++) colour.data[i * channels + k] = data[4 * i + k];
  if (alpha) {
    alphas = new Float32Array(n);
    for (let i = 0; i < n; i++) alphas[i] = data[4 * i + 3] / 255;
  }
  const pixels = conversion === "plain" ? convertPlain(colour, alphas, size) : convertColour(colour, alphas, fit);
  const shown = composite(colour, alphas), original = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) original[4 * i + k] = roundHalfEven(shown.data[i * channels + (channels === 1 ? 0 : k)]);
    original[4 * i + 3] = 255;
  }
  return { pixels, original: { data: original, width, height } };
}

// ----------------------------------------------------------------------------- the browser: files to pixels

// The decoded pixels, as stored: a 2D canvas keeps them premultiplied by alpha, which rounds away the colour of
// half-transparent pixels (up to 35 grey levels of the 28x28 for a soft cut-out), so a picture with transparency
// is read back through a WebGL texture, unpremultiplied; where WebGL is missing, the canvas.
async function decode(blob, name, transparent) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", colorSpaceConversion: "none",
                                             premultiplyAlpha: "none" });
  } catch {
    throw damaged(name, "the browser cannot decode it");
  }
  try {
    return (transparent && readThroughWebGL(bitmap)) || readThroughCanvas(bitmap);
  } finally {
    bitmap.close();
  }
}

function readThroughCanvas(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

function readThroughWebGL(bitmap) {
  const { width, height } = bitmap;
  const gl = new OffscreenCanvas(1, 1).getContext("webgl2", { premultipliedAlpha: false, antialias: false });
  if (!gl || Math.max(width, height) > gl.getParameter(gl.MAX_TEXTURE_SIZE)) return null;
  try {
    const texture = gl.createTexture(), framebuffer = gl.createFramebuffer();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return null;
    const data = new Uint8ClampedArray(width * height * 4);
    gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, data);   // row 0: the picture's top row
    gl.deleteFramebuffer(framebuffer);
    gl.deleteTexture(texture);
    return gl.getError() === gl.NO_ERROR ? { data, width, height } : null;
  } finally {
    gl.getExtension("WEBGL_lose_context")?.loseContext();
  }
}

// Grey or not, transparent or not, where the header cannot tell (a BMP's palette, a 32-bit BMP): from the pixels.
function settleFromPixels(header, data) {
  let { channels, alpha } = header;
  if (header.alphaUnknown) {
    alpha = false;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) { alpha = true; break; }
  }
  if (header.greyUnknown && !alpha) {
    channels = 1;
    for (let i = 0; i < data.length; i += 4) if (data[i] !== data[i + 1] || data[i] !== data[i + 2]) { channels = 3; break; }
  }
  return { channels, alpha };
}

function canvasBlob(canvas) {
  if (canvas.convertToBlob) return canvas.convertToBlob({ type: "image/png" });
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("the drawing could not be encoded"))), "image/png"));
}

/**
 * An upload, a camera photo or a drawing -> the 28x28 image the networks read, converted as rowrnn.images does.
 *
 * input: a File or Blob (the file's bytes: PNG, JPEG, WebP, GIF or BMP, told apart by their signature), an
 *   HTMLCanvasElement or OffscreenCanvas (the drawing, read as the PNG serve receives), or ImageData (RGBA).
 * options.conversion: "photo" (default: rowrnn.images' conversion, 28x28) or "plain" (an image folder's,
 *   datasets.convert_folder_image: grey, resized to size x size, neither trimmed nor negated).
 * options.fit, for "photo" only: "trim" (default: the paper flattened, the garment trimmed and centred) or "none"
 *   (a picture cropped by hand: resized whole); a "plain" conversion takes none (as datasets.prepare_picture).
 * options.size: the side S of the image made, in pixels, an integer 4-256; default 28, the only one of "photo".
 * Resolves to {pixels: Uint8Array(S * S), row by row (784 bytes, light garment on black, for "photo"); original:
 *   {data, width, height}, the upright picture, at most 512 a side, for showing beside it; format: "PNG", ...}.
 * Rejects with an Error (error.refused true) whose message is images.py's one line: an empty file, a format
 *   outside the allow-list, a file over 64 MiB, a picture over 50 megapixels or 128 MB of decoding, a damaged
 *   file, a TIFF (this browser has no decoder for it), a fit other than the two; and, naming the option, a
 *   conversion other than the two, a size that is not an integer 4-256, a size other than 28 for "photo", a fit
 *   given for "plain".
 */
export async function convertImage(input, options = {}) {
  const checked = conversionOf(options);            // before any decoding, as images.py checks fit first
  if (typeof ImageData !== "undefined" && input instanceof ImageData) {
    return { ...convertPixels(input, { ...checked, channels: 3, alpha: true }), format: "ImageData" };
  }
  if (typeof input?.getContext === "function") input = await canvasBlob(input);
  if (!(input instanceof Blob)) throw refuse("give a File, Blob, canvas or ImageData to convert");
  const name = (input.name ?? "image").replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  if (input.size > MAX_FILE_BYTES) {
    throw refuse(`${name}: ${human(input.size)} is over the limit of ${human(MAX_FILE_BYTES)} for an image: `
                 + "is it the right file?");
  }
  const bytes = new Uint8Array(await input.arrayBuffer());
  const format = sniffFormat(bytes, name);
  if (format === "TIFF") {
    throw refuse(`${name}: a TIFF image cannot be read in the browser: save it as PNG or JPEG`);
  }
  const header = readHeader(bytes, format, name);
  const draft = checkBudget(header, format, name);
  // the decoder gets the pixels as stored: a copy whose Orientation tag says 1 (Chromium turns the picture by the
  // tag whatever imageOrientation says; Pillow's order, reduce then turn, is kept by turning it here)
  const stored = bytes.slice();
  if (header.orientationAt) {
    const { at, bytes: size, little } = header.orientationAt;
    stored.fill(0, at, at + size);
    stored[little ? at : at + size - 1] = 1;
    if (header.orientationAt.chunk) {
      const [start, length] = header.orientationAt.chunk, crc = crc32(stored.subarray(start, start + length));
      for (let i = 0; i < 4; i++) stored[start + length + i] = (crc >>> (24 - 8 * i)) & 255;
    }
  }
  const decoded = await decode(new Blob([stored]), name, header.alpha || header.alphaUnknown);
  if (decoded.width !== header.width || decoded.height !== header.height) {
    throw damaged(name, `the browser decoded ${decoded.width}x${decoded.height} pixels, the header says `
                        + `${header.width}x${header.height}`);
  }
  const { channels, alpha } = settleFromPixels(header, decoded.data);
  return { ...convertPixels(decoded, { orientation: header.orientation, channels, alpha, draft, ...checked }), format };
}
