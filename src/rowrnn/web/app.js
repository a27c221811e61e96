// The page: inputs -> the server's reading of every run -> panels that replay it step by step.
import { explain, firstReading, getRuns, getTestImage, predictFile, predictTestImage } from "./api.js";
import { cameraAvailability, cameraErrorKey, closeCamera, onCameraChange, openCamera, takePhoto } from "./camera.js";
import { setupDrawing } from "./draw.js";
import { className, classNamesIn, fill, language, setClasses, setImageSize, setLanguage, STRINGS, t } from "./i18n.js";
import { classAxis, drawExplained, drawGlimpse, drawHidden, drawImage, drawLegend, drawNumbers, drawSteps,
         linesOfStep, renderBars, stepAxis, unitAxis } from "./render.js";

const $ = (id) => document.getElementById(id);
const state = { runs: [], testImages: 0, reading: null, label: null, index: null, step: 1, maxSteps: 1, timer: null,
                // the ids of the runs whose panels are shown (all at first; the URL's run=NAME may choose)
                shown: new Set(),
                // how "which steps decided" is measured: "occlusion" or "integrated-gradients"
                method: "occlusion",
                // the image given last: answers to older ones are dropped; `original` is its object URL
                ticket: 0, original: null,
                // the one line in the error area, kept as a key so a language switch translates it
                message: null };

function showMessage(key, values = {}) {
  state.message = { key, values };
  renderMessage();
}

function showError(error) {
  if (error?.unreachable) showMessage("unreachable");
  else if (error?.key) showMessage(error.key, error.values);      // an engine's own message, translated
  else showMessage("serverSays", { message: error.message });
}

function clearError() {
  state.message = null;
  renderMessage();
}

function renderMessage() {
  const message = $("message");
  message.hidden = state.message == null;
  message.textContent = state.message ? t(state.message.key, state.message.values) : "";
}

// The runs' image size S (what the captions say) and how a person's picture becomes an image for them: picture,
// /api/runs' and the manifest's "picture" (datasets.picture_options: the conversion the server and convert.js
// apply). Fashion-MNIST's (photo, fit trim) keeps the page as it is. Otherwise the hints say what happens, and the
// brush draws strokes 1.5 pixels of S x S wide by default, as the whole pad is resized to S x S (not trimmed to
// the drawing): a folder converted "plain" (grey, resized, never inverted; ground: /api/runs' "pad",
// datasets.drawing_ground, "dark" for a plain run whose images are light on dark: the pad is then drawn light on
// black, as the network will see it), or the photo conversion with fit "none" (MNIST's family: grey, fitted whole,
// turned light on black, not trimmed). A site or server without "picture" (built before it was sent) is read by
// the rule it was built with: plain at a side other than 28 or with a dark pad, else Fashion-MNIST's.
const PHOTO_SIZE = 28;
const STROKE_PIXELS = 1.5;

function conversionOf(picture, size, dark) {
  // -> "trim", "none" (the photo conversion's fit) or "plain"
  if (picture?.conversion === "plain") return "plain";
  if (picture?.conversion === "photo") return picture.fit === "none" ? "none" : "trim";
  return size === PHOTO_SIZE && !dark ? "trim" : "plain";
}

const HINTS = {   // conversion -> [draw hint, upload hint] (i18n.js keys)
  plain: ["drawHintPlain", "uploadHintPlain"],
  plainDark: ["drawHintPlainDark", "uploadHintPlainDark"],
  none: ["drawHintWhole", "uploadHintWhole"],
};

function useImageSize(size, ground, picture) {
  setImageSize(size);
  const dark = ground === "dark";
  const conversion = conversionOf(picture, size, dark);
  if (conversion === "trim") return;
  // the preview's canvas: whole canvas pixels a cell (8 of 224 at 28; 28 at 8, 7 at 32, 22 at 10: 220)
  const preview = $("preview"), cell = Math.max(1, Math.round(preview.width / size));
  preview.width = preview.height = cell * size;
  const [drawHint, uploadHint] = HINTS[conversion === "plain" && dark ? "plainDark" : conversion];
  document.querySelector("[data-i18n=drawHint]").dataset.i18n = drawHint;
  document.querySelector("[data-i18n=uploadHint]").dataset.i18n = uploadHint;
  const brush = $("brush"), pad = $("draw").width;
  const width = Math.round((STROKE_PIXELS * pad) / size);
  brush.max = String(Math.max(Number(brush.max), 2 * width));
  brush.value = String(Math.min(Number(brush.max), Math.max(Number(brush.min), width)));
}

// words that name Fashion-MNIST's garments, and their neutral form ("...Image") for a run of another dataset
const GARMENT_WORDS = ["subtitle", "inputTitle", "cameraHint", "barsHelp"];

function useDatasetWords(dataset) {
  if (!dataset || dataset === "fashion-mnist") return;      // an old site or server says none: Fashion-MNIST's
  for (const root of [document, $("panel-template").content]) {   // the panels are cloned from the template later
    for (const key of GARMENT_WORDS) {
      for (const element of root.querySelectorAll(`[data-i18n=${key}]`)) element.dataset.i18n = `${key}Image`;
    }
  }
}

function showOriginal(blob) {
  // the picture as given (upload, photo, drawing) beside the S x S; a test image is its own S x S
  if (state.original) URL.revokeObjectURL(state.original);
  state.original = blob ? URL.createObjectURL(blob) : null;
  $("original-figure").hidden = !blob;
  $("original").hidden = false;
  $("original-caption").dataset.i18n = "originalCaption";
  $("original-caption").textContent = t("originalCaption");
  if (blob) $("original").src = state.original;
  else $("original").removeAttribute("src");
}

function stepOf(run) {
  // the slider runs over the longest reading shown; a shorter one advances in proportion
  return run.recurrent ? Math.max(1, Math.ceil((state.step * run.steps) / state.maxSteps)) : 1;
}

function shownRuns() {
  return state.runs.filter((run) => state.shown.has(run.id));
}

function setMaxSteps() {
  // the slider's length: the longest reading among the runs shown (the step keeps its place in proportion)
  const before = state.maxSteps;
  state.maxSteps = Math.max(1, ...shownRuns().filter((run) => run.recurrent).map((run) => run.steps));
  state.step = Math.min(state.maxSteps, Math.max(1, Math.round((state.step * state.maxSteps) / before)));
  $("slider").max = String(state.maxSteps);
  $("slider").value = String(state.step);
}

function nowText(run, step) {
  // which image lines (or pixel) the run reads at its step, in words
  const lines = linesOfStep(run, step);
  return fill(t("now")[lines.kind], { t: step, ...lines });
}

function drawMaps(panel, run, result, step, fresh) {
  // the steps x classes map and the hidden-state map, each with its axes and colour legend; what does not move
  // with the step (column axes, titles, legends) is drawn only when `fresh` (a new reading, language or method)
  const tickTitles = (element) => {
    for (const tick of element.children) tick.title = nowText(run, Number(tick.textContent.replace("▸", "")));
  };
  drawSteps(panel.querySelector(".steps-map"), result.steps, step);
  const bound = drawHidden(panel.querySelector(".hidden-map"), result.hidden, step);
  for (const testid of ["steps-row-axis", "hidden-row-axis"]) {
    const axis = panel.querySelector(`[data-testid=${testid}]`);
    stepAxis(axis, run.steps, step);
    tickTitles(axis);
  }
  panel.querySelector(".now").textContent = nowText(run, step);
  if (!fresh) return;
  const rowsTitle = fill(t("stepAxis")[linesOfStep(run, 1).kind], { k: run.rows_per_step });
  classAxis(panel.querySelector("[data-testid=steps-column-axis]"), classNamesIn(language(), state.classes));
  panel.querySelector("[data-testid=steps-row-title]").textContent = rowsTitle;
  drawLegend(panel.querySelector("[data-testid=steps-legend]"),
             { colors: "viridis", min: 0, max: 1, title: t("probabilityLegend"), digits: 0 });
  unitAxis(panel.querySelector("[data-testid=hidden-column-axis]"), result.hidden[0].length);
  panel.querySelector("[data-testid=hidden-row-title]").textContent = rowsTitle;
  drawLegend(panel.querySelector("[data-testid=hidden-legend]"),
             { colors: "diverging", min: -bound, max: bound, title: t("hiddenLegend"), digits: 2 });
}

function facts(run) {
  const accuracy = run.test_accuracy == null ? t("notFinished")
    : t("accuracy", { value: run.test_accuracy.toFixed(4) });
  const strips = run.rows_per_step > 1 ? t("strips", { k: run.rows_per_step }) : "";
  return t("facts", { params: run.parameters.toLocaleString(), read: t("reads")[run.read ?? "cnn"],
                      strips, accuracy });
}

function drawExplanation(panel, run, result, pixels) {
  // result.explained: "pending" while /api/explain works on this run, "done", or the server's one line
  const figure = panel.querySelector(".attribution-figure");
  const status = result.explained ?? "done";
  const waiting = status !== "done";
  figure.classList.toggle("pending", waiting);
  figure.hidden = !run.recurrent || (!waiting && !result.attribution);
  if (waiting) {
    panel.querySelector("[data-testid=attribution-caption]").textContent =
      status === "pending" ? t("explaining") : t("serverSays", { message: status });
    return;
  }
  // a method the engine cannot compute (the static page has no gradients): its reason instead of the picture
  const missing = result.attribution?.unavailable?.[state.method];
  for (const part of figure.children) part.hidden = Boolean(missing) && part.dataset.testid !== "attribution-caption";
  if (missing) {
    figure.hidden = false;
    panel.querySelector("[data-testid=attribution-caption]").textContent = t(missing, { T: run.steps });
    return;
  }
  drawExplained(panel, run, result.attribution, pixels, state.method, { t, className, fill });
}

function drawNumbersOf(panel, run, unrolled, reason, step) {
  // the recurrence at the panel's step with its numbers; else a note saying why there are none (reading_view's
  // unrolled_reason: "hidden-size" for a large model, "not-finite" for numbers that overflowed)
  const numbers = panel.querySelector("[data-testid=numbers]");
  const note = panel.querySelector("[data-testid=numbers-note]");
  numbers.hidden = !unrolled;
  note.hidden = Boolean(unrolled);
  if (!unrolled) {
    note.textContent = reason === "not-finite" ? t("numbersNotFinite")
      : reason === "steps" ? t("numbersSteps", { T: run.steps }) : t("numbersTooBig", { H: run.hidden_size });
    return;
  }
  const whole = !unrolled.bidirectional && unrolled.num_layers === 1 && run.read !== "rows+columns";
  const part = whole ? "" : t("numbersPart", { reader: t("reads")[unrolled.reader] });
  drawNumbers(numbers, unrolled, step, { title: t("numbersTitle", { t: step, part }), kinds: t("kinds") });
}

function buildPanels() {
  const template = $("panel-template");
  $("panels").replaceChildren(...state.runs.map((run) => {
    const panel = template.content.firstElementChild.cloneNode(true);
    panel.dataset.run = String(run.id);
    panel.querySelector(".name").textContent = run.name;
    for (const selector of [".steps-map", ".hidden-map"]) {
      const map = panel.querySelector(selector);
      map.closest("figure").hidden = !run.recurrent;
      // a click on a row of a map goes to that step
      map.addEventListener("click", (event) => {
        const box = map.getBoundingClientRect();
        const row = Math.min(run.steps, Math.max(1, Math.ceil(((event.clientY - box.top) / box.height) * run.steps)));
        if (state.reading) goToStep(Math.max(1, Math.floor((row * state.maxSteps) / run.steps)));
      });
    }
    panel.querySelector(".cnn-note").hidden = run.recurrent;
    panel.querySelector(".now").hidden = !run.recurrent;
    return panel;
  }));
  const choices = state.runs.map((run) => {
    const label = document.createElement("label");
    const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: state.shown.has(run.id) });
    box.dataset.shown = String(run.id);
    box.addEventListener("change", () => {
      if (box.checked) state.shown.add(run.id);
      else if (state.shown.size > 1) state.shown.delete(run.id);
      else box.checked = true;                        // one panel at least
      showPanels();
      writeUrl();
    });
    label.append(box, document.createTextNode(run.name));
    return label;
  });
  $("shown-runs").replaceChildren($("shown-runs").firstElementChild, ...choices);
  $("shown-runs").hidden = state.runs.length < 2;
  setLanguage(document.documentElement.lang);
}

function showPanels() {
  for (const run of state.runs) {
    document.querySelector(`[data-run="${run.id}"]`).hidden = !state.shown.has(run.id);
    document.querySelector(`#shown-runs input[data-shown="${run.id}"]`).checked = state.shown.has(run.id);
  }
  setMaxSteps();
  render();
}

function render() {
  const reading = state.reading;
  $("step").textContent = reading ? t("step", { t: state.step, T: state.maxSteps }) : t("noImage");
  for (const run of shownRuns()) {
    const panel = document.querySelector(`[data-run="${run.id}"]`);
    panel.querySelector(".facts").textContent = facts(run);
    if (!reading) continue;
    const result = reading.models[run.id];
    const step = stepOf(run);
    const moved = panel.dataset.step !== String(step);
    panel.dataset.step = String(step);
    drawGlimpse(panel.querySelector(".glimpse"), reading.image, run, step);
    if (result.error) {                               // this run's weights gave NaN: its one line, nothing drawn
      panel.querySelector(".top").replaceChildren(Object.assign(document.createElement("li"),
                                                                { textContent: result.error }));
      continue;
    }
    const names = classNamesIn(language(), state.classes);
    renderBars(panel.querySelector(".bars"), run.recurrent ? result.steps[step - 1] : result.final, names);
    if (run.recurrent) {
      const key = `${state.ticket} ${language()} ${state.method} ${result.explained}`;   // what steps do not change
      const fresh = panel.dataset.drawn !== key;
      panel.dataset.drawn = key;
      if (fresh) drawExplanation(panel, run, result, reading.image);
      if (fresh || moved) {                         // a shorter reading stays on its step while the slider moves
        drawMaps(panel, run, result, step, fresh);
        drawNumbersOf(panel, run, result.unrolled, result.unrolled_reason, step);
      }
    }
    panel.querySelector(".top").replaceChildren(...result.top.map((entry) => {
      const item = document.createElement("li");
      item.textContent = `${className(reading.classes.indexOf(entry.class))} `;
      const share = document.createElement("span");
      share.textContent = `${(100 * entry.probability).toFixed(1)}%`;
      item.append(share);
      return item;
    }));
  }
  const label = $("true-label");
  label.hidden = state.label == null;
  if (state.label != null) label.textContent = t("trueLabel", { name: className(state.label), index: state.index });
}

function show(reading, { label = null, index = null, original = null, step = null, push = true } = {}) {
  // step: where a link asked the reading to stand; else the whole reading first (then replay it)
  clearError();
  reading.classes = state.classes;
  state.reading = reading;
  state.label = label;
  state.index = index;
  state.step = step == null ? state.maxSteps : Math.min(Math.max(1, step), state.maxSteps);
  showOriginal(original);
  drawImage($("preview"), reading.image);
  $("slider").value = String(state.step);
  $("slider").disabled = $("play").disabled = !state.runs.some((run) => run.recurrent);
  render();
  writeUrl(push);
}

function goToStep(step) {
  stop();
  state.step = step;
  $("slider").value = String(step);
  render();
  writeUrl();
}

// ---- the state in the URL: ?run=NAME&run=NAME&test=N&step=T&lang=es, so a link opens where it was sent from.
// A drawn, uploaded or photographed image is not in it (a link to one opens with no image); a new image is a
// new history entry (Back returns to the image before), a step, language or choice of runs replaces the entry.

function urlFor() {
  const params = new URLSearchParams();
  if (state.shown.size < state.runs.length) for (const run of shownRuns()) params.append("run", run.name);
  if (state.index != null) params.set("test", String(state.index));
  if (state.reading) params.set("step", String(state.step));
  if (state.method !== "occlusion") params.set("explain", state.method);
  params.set("lang", language());
  return `${location.pathname}?${params}`;
}

function writeUrl(push = false) {
  clearTimeout(state.urlTimer);
  const url = urlFor();
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function writeUrlSoon() {
  // while the slider is dragged: once it rests (browsers throttle a flood of replaceState calls)
  clearTimeout(state.urlTimer);
  state.urlTimer = setTimeout(() => writeUrl(), 250);
}

function wholeNumber(text, below) {
  // a URL's number: plain digits, no sign or leading zero, under `below`; else null
  return text != null && /^(0|[1-9][0-9]{0,8})$/.test(text) && Number(text) < below ? Number(text) : null;
}

async function applyUrl() {
  const params = new URLSearchParams(location.search);
  const lang = params.get("lang");
  setLanguage(Object.hasOwn(STRINGS, lang ?? "") ? lang : (navigator.language?.startsWith("es") ? "es" : "en"));
  setMethod(params.get("explain") === "integrated-gradients" ? "integrated-gradients" : "occlusion");
  const names = params.getAll("run");
  const chosen = state.runs.filter((run) => names.includes(run.name));
  state.shown = new Set((chosen.length ? chosen : state.runs).map((run) => run.id));
  showPanels();
  renderMessage();
  const index = wholeNumber(params.get("test"), state.testImages);
  const step = wholeNumber(params.get("step"), state.maxSteps + 1) || null;
  if (index != null && (index !== state.index || !state.reading)) await showTest(index, { step, push: false });
  else if (step != null && state.reading) goToStep(step);
  else render();
}

async function read(request, given = {}) {
  // given: what show() needs besides the answer (the true label and index, the original picture)
  stop();
  const ticket = ++state.ticket;
  $("step").textContent = t("loading");
  try {
    const reading = await request;
    if (ticket !== state.ticket) return;
    show(reading, given);
    explainReading();
  } catch (error) {
    if (ticket !== state.ticket) return;             // a newer image was given meanwhile
    showError(error);
    render();
  }
}

async function explainReading() {
  // which steps decided, asked once the reading is shown, one run a request (each costs one model's work), the
  // shown panels first; an answer for a reading no longer shown is dropped
  const reading = state.reading;
  const recurrent = state.runs.filter((run) => run.recurrent && !reading.models[run.id].error);
  const order = [...recurrent.filter((run) => state.shown.has(run.id)),
                 ...recurrent.filter((run) => !state.shown.has(run.id))];
  if (!order.length) return;
  for (const run of order) reading.models[run.id].explained = "pending";
  render();
  const source = state.index != null ? { test_index: state.index } : { pixels: reading.image };
  for (const run of order) {
    const outcome = await explainRun(source, run.id, reading);
    if (state.reading !== reading) return;
    reading.models[run.id].explained = outcome;
    render();
  }
}

async function explainRun(source, id, reading) {
  // one run's attribution into the reading -> "done", or the one line to show in its panel
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await explain(source, id);
      for (const model of answer.models) reading.models[model.id].attribution = model.attribution;
      return "done";
    } catch (error) {
      // busy with another image's explanation (one at a time): ask again while this reading is still shown
      if (error?.status === 503 && attempt < 10 && state.reading === reading) {
        await new Promise((resolve) => { setTimeout(resolve, 1000); });
        continue;
      }
      return error?.unreachable ? t("unreachable") : error.message;
    }
  }
}

function stop() {
  const playing = state.timer != null;
  clearInterval(state.timer);
  state.timer = null;
  $("play").textContent = t("play");
  $("play").dataset.i18n = "play";
  if (playing) writeUrl();                          // the step where play stopped
}

function play() {
  if (state.timer) return stop();
  if (state.step >= state.maxSteps) state.step = 1;
  $("play").textContent = t("pause");
  $("play").dataset.i18n = "pause";
  const interval = Math.max(5, Math.round(3500 / state.maxSteps));   // a whole reading in about 3.5 s
  state.timer = setInterval(() => {
    state.step += 1;
    $("slider").value = String(state.step);
    render();
    if (state.step >= state.maxSteps) stop();
  }, interval);
  render();
}

function showCamera(open) {
  $("camera-video").hidden = $("take-photo").hidden = $("close-camera").hidden = !open;
  $("camera").hidden = open || $("camera").dataset.available !== "true";
}

async function detectCamera() {
  const availability = await cameraAvailability();
  const note = $("camera-note");
  $("camera").dataset.available = String(availability === "ready");
  note.hidden = availability === "ready";
  if (availability === "ready") delete note.dataset.i18n;
  else {
    note.dataset.i18n = availability;
    note.textContent = t(availability);
    stopCamera();
  }
  showCamera(Boolean($("camera-video").srcObject));
}

async function startCamera() {
  clearError();
  $("camera").disabled = true;
  try {
    if (await openCamera($("camera-video"))) showCamera(true);
  } catch (error) {
    stopCamera();
    showMessage(cameraErrorKey(error), { message: error?.message ?? String(error) });
  } finally {
    $("camera").disabled = false;
  }
}

function stopCamera() {
  // when done, when another source is chosen, when the page is hidden: the camera's light goes off
  closeCamera($("camera-video"));
  showCamera(false);
}

async function readPhoto() {
  try {
    const photo = await takePhoto($("camera-video"));
    read(predictFile(photo), { original: photo });
  } catch (error) {
    showMessage("cameraFailed", { message: error.message });
  }
}

function setMethod(method) {
  state.method = method;
  for (const radio of document.querySelectorAll("input[name=explain]")) radio.checked = radio.value === method;
}

async function showTest(index, { step = null, push = true } = {}) {
  $("test-index").value = String(index);
  stopCamera();
  try {
    const image = await getTestImage(index);
    await read(predictTestImage(index), { label: image.label, index, step, push });
  } catch (error) {
    showError(error);
  }
}

async function showFirst() {
  // a page opened without an image: the engine's precomputed reading at once (the static site's networks take
  // a moment to load), then the live reading of the same test image in its place
  const first = await firstReading().catch(() => null);
  if (!first || state.reading) return;
  $("test-index").value = String(first.index);
  show(first.reading, { label: first.reading.label, index: first.index, push: false });
  showTest(first.index, { push: false });
}

async function start() {
  setLanguage(navigator.language?.startsWith("es") ? "es" : "en");
  const drawing = setupDrawing($("draw"), $("brush"), () => readDrawing());
  async function readDrawing() {
    if (drawing.isEmpty()) return;
    stopCamera();
    const picture = await drawing.toBlob();           // the whole canvas: converted as the run's dataset's pictures
    read(predictFile(picture), { original: picture });
  }
  $("clear").addEventListener("click", () => drawing.clear());
  $("read-drawing").addEventListener("click", readDrawing);
  $("upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    stopCamera();
    read(predictFile(file), { original: file });
  });
  $("original").addEventListener("error", () => {
    // a format the server reads but this browser does not show (TIFF in most)
    if (!$("original").getAttribute("src")) return;
    $("original").hidden = true;
    $("original-caption").dataset.i18n = "originalUnshown";
    $("original-caption").textContent = t("originalUnshown");
  });
  $("camera").addEventListener("click", startCamera);
  $("take-photo").addEventListener("click", readPhoto);
  $("close-camera").addEventListener("click", stopCamera);
  document.addEventListener("visibilitychange", () => { if (document.hidden) stopCamera(); });
  window.addEventListener("pagehide", stopCamera);
  onCameraChange(detectCamera);
  $("show-test").addEventListener("click", () => showTest(Number($("test-index").value)));
  $("random-test").addEventListener("click", () => showTest(Math.floor(Math.random() * state.testImages)));
  $("slider").addEventListener("input", () => {
    stop();
    state.step = Number($("slider").value);
    render();
    writeUrlSoon();
  });
  $("play").addEventListener("click", play);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => {
      setLanguage(button.dataset.lang);
      render();
      renderMessage();
      writeUrl();
    });
  }
  window.addEventListener("popstate", () => { stop(); applyUrl(); });
  for (const radio of document.querySelectorAll("input[name=explain]")) {
    radio.addEventListener("change", () => {
      setMethod(radio.value);
      render();
      writeUrl();
    });
  }
  await detectCamera();
  try {
    const info = await getRuns();
    state.runs = info.runs;
    state.classes = info.classes;                     // the runs' classes and image size: read here, once
    setClasses(info.classes);
    if (info.pad === "dark") drawing.setGround("dark");   // else the white pad the page always had
    useImageSize(info.image_size ?? PHOTO_SIZE, info.pad, info.picture);
    useDatasetWords(info.dataset);
    state.testImages = info.test_images;
    state.shown = new Set(info.runs.map((run) => run.id));
    $("test-index").max = String(info.test_images - 1);
    buildPanels();
    await applyUrl();
    if (!state.reading && !new URLSearchParams(location.search).has("test")) await showFirst();
    writeUrl();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error);
  }
}

start();
