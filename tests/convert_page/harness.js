// tests/test_convert_parity.py's hands inside the page: bytes in (base64), web/convert.js's answer out.
import { convertImage } from "./convert.js";

function bytesOf(base64) {
  const text = atob(base64);
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

// [{name, data (base64), fit, options}] -> [{pixels (S*S numbers), ms} or {error}], one file at a time, timed;
// options (conversion, size) go to convertImage as given, and fit with them unless it is null
window.convertFiles = async (files) => {
  const answers = [];
  for (const { name, data, fit, options = {} } of files) {
    const file = new File([bytesOf(data)], name);
    const start = performance.now();
    try {
      const { pixels } = await convertImage(file, fit == null ? options : { fit, ...options });
      answers.push({ pixels: Array.from(pixels), ms: performance.now() - start });
    } catch (error) {
      answers.push({ error: error.message, refused: error.refused === true });
    }
  }
  return answers;
};

// a canvas drawn as draw.js draws (dark round strokes on white), converted straight from the canvas; also
// returns the canvas's PNG, which the test sends through rowrnn.images
window.convertDrawing = async (strokes, width, height, options = {}, lineWidth = 14) => {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, width, height);
  context.strokeStyle = "#111111";
  context.lineWidth = lineWidth;
  context.lineCap = "round";
  context.lineJoin = "round";
  for (const stroke of strokes) {
    context.beginPath();
    context.moveTo(...stroke[0]);
    for (const point of stroke.slice(1)) context.lineTo(...point);
    context.stroke();
  }
  const { pixels } = await convertImage(canvas, options);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return { pixels: Array.from(pixels), png: btoa(binary) };
};

document.body.dataset.ready = "true";
