// The page: inputs -> the server's reading of every run -> panels that replay it step by step.
import { getRuns, getTestImage, predictFile, predictTestImage } from "./api.js";
import { cameraAvailability, cameraErrorKey, closeCamera, onCameraChange, openCamera, takePhoto } from "./camera.js";
import { setupDrawing } from "./draw.js";
import { className, setLanguage, t } from "./i18n.js";
import { drawGlimpse, drawHidden, drawImage, drawSteps, renderBars } from "./render.js";

const $ = (id) => document.getElementById(id);
const state = { runs: [], testImages: 0, reading: null, label: null, index: null, step: 1, maxSteps: 1, timer: null,
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

function showOriginal(blob) {
  // the picture as given (upload, photo, drawing) beside the 28x28; a test image is its own 28x28
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
  // the slider runs over the longest reading; a shorter one advances in proportion
  return run.recurrent ? Math.max(1, Math.ceil((state.step * run.steps) / state.maxSteps)) : 1;
}

function facts(run) {
  const accuracy = run.test_accuracy == null ? t("notFinished")
    : t("accuracy", { value: run.test_accuracy.toFixed(4) });
  const strips = run.rows_per_step > 1 ? t("strips", { k: run.rows_per_step }) : "";
  return t("facts", { params: run.parameters.toLocaleString(), read: t("reads")[run.read ?? "cnn"],
                      strips, accuracy });
}

function buildPanels() {
  const template = $("panel-template");
  $("panels").replaceChildren(...state.runs.map((run) => {
    const panel = template.content.firstElementChild.cloneNode(true);
    panel.dataset.run = String(run.id);
    panel.querySelector(".name").textContent = run.name;
    for (const selector of [".steps-map", ".hidden-map"]) {
      panel.querySelector(selector).closest("figure").hidden = !run.recurrent;
    }
    panel.querySelector(".cnn-note").hidden = run.recurrent;
    return panel;
  }));
  setLanguage(document.documentElement.lang);
}

function render() {
  const reading = state.reading;
  $("step").textContent = reading ? t("step", { t: state.step, T: state.maxSteps }) : t("noImage");
  for (const run of state.runs) {
    const panel = document.querySelector(`[data-run="${run.id}"]`);
    panel.querySelector(".facts").textContent = facts(run);
    if (!reading) continue;
    const result = reading.models[run.id];
    const step = stepOf(run);
    panel.dataset.step = String(step);
    drawGlimpse(panel.querySelector(".glimpse"), reading.image, run, step);
    const names = [...Array(10).keys()].map(className);
    renderBars(panel.querySelector(".bars"), run.recurrent ? result.steps[step - 1] : result.final, names);
    if (run.recurrent) {
      drawSteps(panel.querySelector(".steps-map"), result.steps, step);
      drawHidden(panel.querySelector(".hidden-map"), result.hidden, step);
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

function show(reading, { label = null, index = null, original = null } = {}) {
  clearError();
  reading.classes = state.classes;
  state.reading = reading;
  state.label = label;
  state.index = index;
  state.step = state.maxSteps;                       // first the whole reading; then replay it
  showOriginal(original);
  drawImage($("preview"), reading.image);
  $("slider").value = String(state.step);
  $("slider").disabled = $("play").disabled = !state.runs.some((run) => run.recurrent);
  render();
}

async function read(request, given = {}) {
  // given: what show() needs besides the answer (the true label and index, the original picture)
  stop();
  const ticket = ++state.ticket;
  $("step").textContent = t("loading");
  try {
    const reading = await request;
    if (ticket === state.ticket) show(reading, given);
  } catch (error) {
    if (ticket !== state.ticket) return;             // a newer image was given meanwhile
    showError(error);
    render();
  }
}

function stop() {
  clearInterval(state.timer);
  state.timer = null;
  $("play").textContent = t("play");
  $("play").dataset.i18n = "play";
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

async function start() {
  setLanguage(navigator.language?.startsWith("es") ? "es" : "en");
  const drawing = setupDrawing($("draw"), $("brush"), () => readDrawing());
  async function readDrawing() {
    if (drawing.isEmpty()) return;
    stopCamera();
    const picture = await drawing.toBlob();           // the whole canvas: the server trims and centres it
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
  async function showTest(index) {
    $("test-index").value = String(index);
    stopCamera();
    try {
      const image = await getTestImage(index);
      read(predictTestImage(index), { label: image.label, index });
    } catch (error) {
      showError(error);
    }
  }
  $("show-test").addEventListener("click", () => showTest(Number($("test-index").value)));
  $("random-test").addEventListener("click", () => showTest(Math.floor(Math.random() * state.testImages)));
  $("slider").addEventListener("input", () => {
    stop();
    state.step = Number($("slider").value);
    render();
  });
  $("play").addEventListener("click", play);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => { setLanguage(button.dataset.lang); render(); renderMessage(); });
  }
  await detectCamera();
  try {
    const info = await getRuns();
    state.runs = info.runs;
    state.classes = info.classes;
    state.testImages = info.test_images;
    state.maxSteps = Math.max(1, ...info.runs.filter((run) => run.recurrent).map((run) => run.steps));
    $("test-index").max = String(info.test_images - 1);
    $("slider").max = String(state.maxSteps);
    buildPanels();
    render();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error);
  }
}

start();
