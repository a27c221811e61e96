// Pictures on canvases: the 28x28 image (with what has been read lit), heat maps, probability bars.

const SIZE = 28;
// matplotlib's viridis and RdBu_r, sampled at a few stops and interpolated (as reading.png and hidden.png)
const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                 [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
const RDBU = [[5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
              [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31]];

function color(stops, x) {
  const p = Math.min(Math.max(x, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(p), stops.length - 2);
  const f = p - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
}

function paint(canvas, width, height, colorAt) {
  // draw a width x height grid of cells, each colorAt(row, column) -> [r, g, b], scaled to the canvas
  const cells = document.createElement("canvas");
  cells.width = width;
  cells.height = height;
  const context = cells.getContext("2d");
  const image = context.createImageData(width, height);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const [r, g, b] = colorAt(row, column);
      const i = 4 * (row * width + column);
      image.data[i] = r;
      image.data[i + 1] = g;
      image.data[i + 2] = b;
      image.data[i + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
  const target = canvas.getContext("2d");
  target.imageSmoothingEnabled = false;
  target.clearRect(0, 0, canvas.width, canvas.height);
  target.drawImage(cells, 0, 0, canvas.width, canvas.height);
}

export function drawImage(canvas, pixels) {
  paint(canvas, SIZE, SIZE, (r, c) => { const v = pixels[r][c]; return [v, v, v]; });
}

// Which pixels a reader has seen after `step` steps, and which belong to the current step.
export function readMask(run, step) {
  const seen = Array.from({ length: SIZE }, () => new Array(SIZE).fill(false));
  const now = Array.from({ length: SIZE }, () => new Array(SIZE).fill(false));
  if (!run.recurrent) {
    seen.forEach((row) => row.fill(true));
    return { seen, now };
  }
  const k = run.rows_per_step || 1;
  if (run.read === "pixels" || run.read === "permuted-pixels") {
    const order = run.permutation ?? [...Array(SIZE * SIZE).keys()];
    for (let i = 0; i < step; i++) {
      const p = order[i];
      seen[Math.floor(p / SIZE)][p % SIZE] = true;
      if (i === step - 1) now[Math.floor(p / SIZE)][p % SIZE] = true;
    }
    return { seen, now };
  }
  for (let r = 0; r < SIZE; r++) {
    for (let c = 0; c < SIZE; c++) {
      const rowRead = r < step * k, rowNow = r >= (step - 1) * k && r < step * k;
      const columnRead = c < step * k, columnNow = c >= (step - 1) * k && c < step * k;
      if (run.read === "rows") { seen[r][c] = rowRead; now[r][c] = rowNow; }
      else if (run.read === "columns") { seen[r][c] = columnRead; now[r][c] = columnNow; }
      else { seen[r][c] = rowRead || columnRead; now[r][c] = rowNow || columnNow; }
    }
  }
  return { seen, now };
}

export function drawGlimpse(canvas, pixels, run, step) {
  const { seen, now } = readMask(run, step);
  paint(canvas, SIZE, SIZE, (r, c) => {
    const v = pixels[r][c];
    if (now[r][c]) return [Math.max(v, 90), Math.round(v * 0.6 + 60), 0];   // the current step: amber
    return seen[r][c] ? [v, v, v] : [v * 0.22, v * 0.22, v * 0.3];          // read: as is; unread: dimmed
  });
}

export function drawSteps(canvas, steps, upto) {
  // steps: T x 10 probabilities; rows after `upto` stay dark
  paint(canvas, steps[0].length, steps.length, (r, c) => (r < upto ? color(VIRIDIS, steps[r][c]) : [17, 17, 17]));
}

export function drawHidden(canvas, hidden, upto) {
  let bound = 1e-6;
  for (const row of hidden) for (const v of row) bound = Math.max(bound, Math.abs(v));
  paint(canvas, hidden[0].length, hidden.length,
        (r, c) => (r < upto ? color(RDBU, 0.5 + hidden[r][c] / (2 * bound)) : [17, 17, 17]));
}

export function renderBars(container, probabilities, names) {
  const leader = probabilities.indexOf(Math.max(...probabilities));
  if (container.children.length !== probabilities.length) {
    container.replaceChildren(...probabilities.map(() => {
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span>' +
                      '<span class="value"></span>';
      return bar;
    }));
  }
  probabilities.forEach((p, i) => {
    const bar = container.children[i];
    bar.dataset.class = String(i);
    bar.dataset.p = p.toFixed(4);
    bar.classList.toggle("leading", i === leader);
    bar.querySelector(".label").textContent = names[i];
    bar.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    bar.querySelector(".value").textContent = `${(100 * p).toFixed(1)}%`;
  });
}
