// Pictures on canvases: the SxS image (28x28 for Fashion-MNIST; the run's image_size, with what has been read lit), heat maps with their axes and colour
// legends, probability bars. Every function takes the element to draw in and the data (the server's JSON, and
// words already translated): no lookups by id, no language, so the notebook widget draws with them too.

const DEFAULT_SIZE = 28;                       // Fashion-MNIST's; a run of another dataset sends its image_size
const sizeOf = (run) => run?.image_size ?? DEFAULT_SIZE;
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
  const SIZE = pixels.length;
  paint(canvas, SIZE, SIZE, (r, c) => { const v = pixels[r][c]; return [v, v, v]; });
}

// Which pixels a reader has seen after `step` steps, and which belong to the current step.
export function readMask(run, step) {
  const SIZE = sizeOf(run);
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
  const SIZE = pixels.length;
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

export function hiddenBound(hidden) {
  // the colour scale of the hidden-state map: -bound (blue) .. +bound (red), bound = the largest |h| read
  let bound = 1e-6;
  for (const row of hidden) for (const v of row) bound = Math.max(bound, Math.abs(v));
  return bound;
}

export function drawHidden(canvas, hidden, upto, bound = hiddenBound(hidden)) {
  paint(canvas, hidden[0].length, hidden.length,
        (r, c) => (r < upto ? color(RDBU, 0.5 + hidden[r][c] / (2 * bound)) : [17, 17, 17]));
  return bound;
}

// ---- axes and colour legends of the heat maps ----

const STEP_STRIDES = [1, 2, 4, 5, 7, 10, 14, 20, 25, 50, 98, 100, 196, 200, 392, 500];
const UNIT_STRIDES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export function ticks(count, strides = STEP_STRIDES) {
  // about five of the numbers 1..count to write along an axis: 1, multiples of a round stride, and count
  if (count <= 1) return [1];
  const stride = strides.find((s) => count / s <= 5) ?? Math.ceil(count / 4);
  const chosen = [1];
  for (let t = stride; t < count; t += stride) if (t > 1 && count - t >= stride / 2) chosen.push(t);
  chosen.push(count);
  return chosen;
}

export const unitTicks = (count) => ticks(count, UNIT_STRIDES);

export function drawAxis(element, labels) {
  // labels: [{at: 0..1 (a cell's centre along the axis), text, current?: true, title?}], each a <span class="tick">
  // placed by the stylesheet from its --at (rows: from the top; columns: from the left)
  while (element.children.length > labels.length) element.lastChild.remove();
  while (element.children.length < labels.length) element.append(document.createElement("span"));
  labels.forEach((label, i) => {
    const tick = element.children[i];
    tick.className = label.current ? "tick current" : "tick";
    tick.textContent = label.text;
    tick.style.setProperty("--at", `${(100 * label.at).toFixed(3)}%`);
    if (label.title) tick.title = label.title;
    else tick.removeAttribute("title");
  });
}

export function stepAxis(element, steps, current) {
  // the rows of a steps x K map: step numbers 1..steps at round strides, and the current step marked
  const at = (t) => (t - 0.5) / steps;
  drawAxis(element, [...ticks(steps).filter((t) => t !== current).map((t) => ({ at: at(t), text: String(t) })),
                     ...(current ? [{ at: at(current), text: `▸${current}`, current: true }] : [])]);
}

export function classAxis(element, names) {
  // the columns of a steps x 10 map: the class names, in the order of the model's outputs
  drawAxis(element, names.map((name, i) => ({ at: (i + 0.5) / names.length, text: name, title: name })));
}

export function unitAxis(element, width) {
  // the columns of the hidden-state map: unit numbers 1..width
  drawAxis(element, unitTicks(width).map((u) => ({ at: (u - 0.5) / width, text: String(u) })));
}

export function formatValue(value, digits = 2) {
  // a number as a legend writes it: fixed digits, a true minus sign
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text.replace("-", "\u2212");
}

export function drawLegend(element, { colors = "viridis", min, max, title, digits = 2 }) {
  // a colour bar from min to max (viridis, or the diverging red-blue with 0 in its middle), its ends written
  // beside it; data-min and data-max keep the exact numbers
  if (!element.querySelector(".legend-bar")) {
    const parts = ["legend-title", "legend-min", "legend-bar", "legend-max"].map((name) => {
      const part = document.createElement(name === "legend-bar" ? "canvas" : "span");
      part.className = name;
      return part;
    });
    parts[2].width = 64;
    parts[2].height = 1;
    element.replaceChildren(...parts);
  }
  const stops = colors === "diverging" ? RDBU : VIRIDIS;
  paint(element.querySelector(".legend-bar"), 64, 1, (r, c) => color(stops, c / 63));
  element.querySelector(".legend-title").textContent = title;
  element.querySelector(".legend-min").textContent = formatValue(min, digits);
  element.querySelector(".legend-max").textContent = formatValue(max, digits);
  element.dataset.min = String(min);
  element.dataset.max = String(max);
}

export function linesOfStep(run, step) {
  // what a reader takes in at step t (1-based): {kind: "row"|"rows"|"column"|"columns"|"row+column"|
  // "rows+columns", from, to} (image lines, 1-based) or {kind: "pixel", row, column}
  if (run.read === "pixels" || run.read === "permuted-pixels") {
    const SIZE = sizeOf(run);
    const p = run.permutation ? run.permutation[step - 1] : step - 1;
    return { kind: "pixel", row: Math.floor(p / SIZE) + 1, column: (p % SIZE) + 1 };
  }
  const k = run.rows_per_step || 1;
  const from = (step - 1) * k + 1, to = step * k;
  const kind = { rows: "row", columns: "column", "rows+columns": "row+column" }[run.read];
  return { kind: k > 1 ? kind.replace("row", "rows").replace("column", "columns") : kind, from, to };
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

// ---- the recurrence with its numbers (rowrnn.unroll's dict, from rowrnn.unrolling, the answer's "unrolled") ----

function termBound(term) {
  // a term's colour scale: the largest |value| it takes over the whole reading (1 at least for a gate's 0..1)
  let bound = term.kind === "gate" ? 1 : 1e-6;
  for (const row of term.values) for (const v of row) bound = Math.max(bound, Math.abs(v));
  return bound;
}

export function drawNumbers(element, unrolled, step, words) {
  // the vectors of the recurrence at step `step` (1-based) as rows of small coloured cells with their numbers
  // (red above zero, blue below, as the hidden-state map), the equation as text above them.
  // words: {title: "...", kinds: {input: "...", gate: "...", ...}} already translated.
  // Each cell keeps its exact number (4 decimals, as sent) in data-value; the row its term's name in data-term.
  if (element.dataset.built !== unrolled.equation + unrolled.terms.length) {
    const title = document.createElement("p");
    title.className = "numbers-title";
    const equation = document.createElement("pre");
    equation.className = "equation";
    equation.textContent = unrolled.equation;
    const table = document.createElement("table");
    table.className = "terms";
    for (const term of unrolled.terms) {
      const row = table.insertRow();
      row.dataset.term = term.name;
      row.dataset.kind = term.kind;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = term.label;
      const kind = row.insertCell();
      kind.className = "kind";
      const cells = row.insertCell();
      cells.className = "cells";
      row.prepend(name);
    }
    element.replaceChildren(title, equation, table);
    element.dataset.built = unrolled.equation + unrolled.terms.length;
  }
  element.querySelector(".numbers-title").textContent = words.title;
  element.dataset.step = String(step);
  const rows = element.querySelectorAll("tr");
  unrolled.terms.forEach((term, i) => {
    const row = rows[i];
    row.querySelector(".kind").textContent = words.kinds[term.kind] ?? term.kind;
    const values = term.values[step - 1];
    const bound = termBound(term);
    const cells = row.querySelector(".cells");
    while (cells.children.length > values.length) cells.lastChild.remove();
    while (cells.children.length < values.length) cells.append(document.createElement("span"));
    values.forEach((v, k) => {
      const cell = cells.children[k];
      const [r, g, b] = color(RDBU, 0.5 + v / (2 * bound));
      cell.className = "cell";
      cell.dataset.value = String(v);
      cell.textContent = formatValue(v, 2);
      cell.title = `${term.label}[${k + 1}] = ${formatValue(v, 4)}`;
      cell.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
      cell.style.color = 0.299 * r + 0.587 * g + 0.114 * b < 128 ? "#fff" : "#111";
    });
  });
}

// ---- which steps decided (the answer's "attribution": R x T scores in logits, R = 2 for rows+columns) ----

export function attributionBound(scores) {
  // the strip's colour scale: -bound (blue) .. +bound (red), bound = the largest |score|
  let bound = 1e-6;
  for (const reader of scores) for (const v of reader) bound = Math.max(bound, Math.abs(v));
  return bound;
}

export function readerLinesOfStep(run, reader, step) {
  // linesOfStep for one reader: for rows+columns, reader 0 reads rows and reader 1 columns
  const lines = linesOfStep(run, step);
  if (run.read !== "rows+columns") return lines;
  const many = (run.rows_per_step || 1) > 1;
  return { ...lines, kind: reader === 0 ? (many ? "rows" : "row") : (many ? "columns" : "column") };
}

export function decisiveSteps(scores, count = 3) {
  // the `count` steps with the largest |score|: [{reader, step (1-based), value}], largest first
  const all = scores.flatMap((reader, r) => reader.map((value, t) => ({ reader: r, step: t + 1, value })));
  return all.sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.reader - b.reader || a.step - b.step)
            .slice(0, count);
}

export function scaleDigits(bound) {
  // decimals enough to show numbers of this size with two significant digits (2 at least, 6 at most)
  return Math.min(6, Math.max(2, 1 - Math.floor(Math.log10(bound))));
}

export function formatSigned(value, digits = 2) {
  const text = formatValue(value, digits);
  return text.startsWith("\u2212") || Number(text) === 0 ? text : `+${text}`;
}

const STRIP = 3;       // cells of a strip, beside (rows) or under (columns) the SxS, after a gap of one

const METHOD_KEYS = { occlusion: "methodOcclusion", "integrated-gradients": "methodIntegratedGradients" };

// One panel's "which steps decided": the image with its strips, the legend, the caption and the three most
// decisive steps, from reading_view's attribution (explained). wanted: the method asked for; a pixel reader has
// no occlusion (too slow to compute), so integrated gradients stands in and the caption says so. words: the
// language's { t(key, values), className(index), fill(template, values) } (the page's i18n, or the widget's).
export function drawExplained(panel, run, explained, pixels, wanted, words) {
  const figure = panel.querySelector(".attribution-figure");
  const method = explained && !explained[wanted] ? "integrated-gradients" : wanted;
  const scores = explained?.[method];
  figure.hidden = !scores;
  if (!scores) return;
  figure.dataset.method = method;
  const bound = drawAttribution(panel.querySelector("[data-testid=attribution]"), pixels, scores, run);
  const digits = scaleDigits(bound);
  drawLegend(panel.querySelector("[data-testid=attribution-legend]"),
             { colors: "diverging", min: -bound, max: bound, title: words.t("logitLegend"), digits });
  const where = words.t("stripsWhere")[run.read.endsWith("pixels") ? "pixels" : run.read];
  const skipped = method !== wanted ? ` ${words.t("occlusionSkipped", { T: run.steps })}` : "";
  panel.querySelector("[data-testid=attribution-caption]").textContent =
    `${words.t("attributionHelp", { class: words.className(explained.target), method: words.t(METHOD_KEYS[method]) })}` +
    ` ${where}${skipped}`;
  panel.querySelector("[data-testid=decisive]").replaceChildren(...decisiveSteps(scores).map(({ reader, step, value }) => {
    const lines = readerLinesOfStep(run, reader, step);
    const item = document.createElement("li");
    Object.assign(item.dataset, { reader: String(reader), step: String(step), value: String(value) });
    item.textContent = words.t("decisiveItem", { t: step, what: words.fill(words.t("lines")[lines.kind], lines),
                                                 value: formatSigned(value, digits) });
    return item;
  }));
}

export function drawAttribution(canvas, pixels, scores, run, bound = attributionBound(scores)) {
  // The image with its attribution strips, on a (S + 1 + STRIP) square grid (S: the image's side): a strip right of the image with
  // the score of the step that read each row, one under it for each column (the columns reader's: the second
  // of rows+columns). A pixel reader's scores colour the pixels themselves (each by the step that read it).
  // Red: the step pushed the logit up (toward the class); blue: down. Returns the colour scale's bound.
  const SIZE = pixels.length;
  const side = SIZE + 1 + STRIP;
  const k = run.rows_per_step || 1;
  const shade = (v) => color(RDBU, 0.5 + v / (2 * bound));
  const pixelScore = new Map();
  if (run.read === "pixels" || run.read === "permuted-pixels") {
    const order = run.permutation ?? [...Array(SIZE * SIZE).keys()];
    order.forEach((p, t) => pixelScore.set(p, scores[0][t]));
  }
  const rowsReader = run.read === "rows" || run.read === "rows+columns" ? 0 : null;
  const columnsReader = run.read === "columns" ? 0 : run.read === "rows+columns" ? 1 : null;
  paint(canvas, side, side, (r, c) => {
    if (r < SIZE && c < SIZE) {
      if (pixelScore.size) return shade(pixelScore.get(r * SIZE + c));
      const v = pixels[r][c];
      return [v, v, v];
    }
    if (rowsReader != null && r < SIZE && c > SIZE) return shade(scores[rowsReader][Math.floor(r / k)]);
    if (columnsReader != null && c < SIZE && r > SIZE) return shade(scores[columnsReader][Math.floor(c / k)]);
    return [255, 255, 255];
  });
  return bound;
}
