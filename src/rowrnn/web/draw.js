// The drawing canvas: mouse, pen and touch through Pointer Events; dark strokes on a white ground, or light
// strokes on a black ground for a run whose images are light on dark and reach it unconverted (setGround("dark"):
// /api/runs' "pad", rowrnn.datasets.drawing_ground), so the learner draws what the network sees.

const GROUNDS = {
  light: { ground: "#ffffff", ink: "#111111" },
  dark: { ground: "#000000", ink: "#eeeeee" },      // the light ground's colours negated
};

export function setupDrawing(canvas, brush, onStrokeEnd) {
  const context = canvas.getContext("2d");
  let drawing = false;
  let last = null;
  let colours = GROUNDS.light;

  function clear() {
    context.fillStyle = colours.ground;
    context.fillRect(0, 0, canvas.width, canvas.height);
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (canvas.width / box.width),
            (event.clientY - box.top) * (canvas.height / box.height)];
  }

  function stroke(to) {
    context.strokeStyle = colours.ink;
    context.fillStyle = colours.ink;
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
    // "light" (the default) or "dark": the pad's ground; clears what was drawn
    setGround(ground) {
      colours = GROUNDS[ground] ?? GROUNDS.light;
      canvas.dataset.ground = colours === GROUNDS.dark ? "dark" : "light";
      clear();
    },
    isEmpty() {
      // a pixel 5 levels or more away from the ground's is ink
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      const dark = colours === GROUNDS.dark;
      for (let i = 0; i < pixels.length; i += 4) {
        if (dark ? pixels[i] > 5 : pixels[i] < 250) return false;
      }
      return true;
    },
    toBlob() {
      return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    },
  };
}
