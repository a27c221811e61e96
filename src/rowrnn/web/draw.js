// The drawing canvas: mouse, pen and touch through Pointer Events; dark strokes on a white ground.

export function setupDrawing(canvas, brush, onStrokeEnd) {
  const context = canvas.getContext("2d");
  let drawing = false;
  let last = null;

  function clear() {
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.width, canvas.height);
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (canvas.width / box.width),
            (event.clientY - box.top) * (canvas.height / box.height)];
  }

  function stroke(to) {
    context.strokeStyle = "#111111";
    context.fillStyle = "#111111";
    context.lineWidth = Number(brush.value);
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...(last ?? to));
    context.lineTo(...to);
    context.stroke();
    last = to;
  }

  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    last = null;
    canvas.setPointerCapture(event.pointerId);
    stroke(point(event));
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (drawing) {
      stroke(point(event));
      event.preventDefault();
    }
  });
  for (const type of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(type, () => {
      if (drawing) {
        drawing = false;
        last = null;
        onStrokeEnd();
      }
    });
  }
  clear();
  return {
    clear,
    isEmpty() {
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i] < 250) return false;
      }
      return true;
    },
    toBlob() {
      return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    },
  };
}
