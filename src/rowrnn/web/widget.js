// The reading view in a notebook (rowrnn.show_reading): the page's panels, drawn by the page's own render.js and
// worded by its i18n.js, replayed with a slider and a play button. An anywidget module: rowrnn/widget.py inlines
// this file, render.js and i18n.js into one ES module (a widget's module cannot import its siblings by URL).
//
// The model's traits (set by Python): runs [{info: panel_info, reading: reading_view}], image (28x28 grey
// values), classes (rowrnn's class names, as reading_view's top names them), label and index (a test image's,
// else null), language ("en" or "es"), panel_template (index.html's panel, filled here as app.js fills it) and
// step (1..max_steps, the slider's position, shared with Python: widget.step = 5 moves it, the slider sets it).
import { classNamesIn, STRINGS, fill } from "./i18n.js";
import { classAxis, drawExplained, drawGlimpse, drawHidden, drawLegend, drawNumbers, drawSteps, linesOfStep,
         renderBars, stepAxis, unitAxis } from "./render.js";

// Not i18n.js's t(): its language is one per page (setLanguage also sets the document's lang, the whole
// notebook's), while each widget here keeps its own; the strings are i18n.js's.
function say(lang, key, values = {}) {
  const text = STRINGS[lang]?.[key] ?? STRINGS.en[key] ?? key;
  return typeof text === "string" ? fill(text, values) : text;
}

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

// The slider runs over the longest reading; a shorter one advances in proportion (as the page does).
export function stepOf(info, step, maxSteps) {
  return info.recurrent ? Math.max(1, Math.ceil((step * info.steps) / maxSteps)) : 1;
}

export function maxSteps(runs) {
  return Math.max(1, ...runs.filter((run) => run.info.recurrent).map((run) => run.info.steps));
}

function facts(lang, info) {
  const accuracy = info.test_accuracy == null ? say(lang, "notFinished")
    : say(lang, "accuracy", { value: info.test_accuracy.toFixed(4) });
  const strips = info.rows_per_step > 1 ? say(lang, "strips", { k: info.rows_per_step }) : "";
  return say(lang, "facts", { params: info.parameters.toLocaleString(lang), read: say(lang, "reads")[info.read ?? "cnn"],
                              strips, accuracy });
}

function buildPanel(run, template) {
  // the page's own panel (index.html's panel template, sent by Python), with what this run has no use for hidden
  const holder = document.createElement("template");
  holder.innerHTML = template;
  const panel = holder.content.firstElementChild.cloneNode(true);
  panel.querySelector(".name").textContent = run.info.name;
  const drawn = run.info.recurrent && !run.reading.error;
  for (const selector of [".steps-map", ".hidden-map"]) panel.querySelector(selector).closest("figure").hidden = !drawn;
  panel.querySelector(".cnn-note").hidden = run.info.recurrent;
  panel.querySelector(".now").hidden = !drawn;
  if (run.reading.error) {
    const error = element("p", "message", { role: "alert", "data-testid": "error" });
    error.textContent = run.reading.error;
    panel.append(error);
  }
  return panel;
}

// The page's drawings of a panel at a step (app.js's drawMaps, drawExplanation, drawNumbersOf), worded in the
// widget's own language.
function nowText(lang, info, step) {
  const lines = linesOfStep(info, step);
  return fill(say(lang, "now")[lines.kind], { t: step, ...lines });
}

function drawMaps(lang, panel, info, reading, step, names) {
  drawSteps(panel.querySelector(".steps-map"), reading.steps, step);
  const bound = drawHidden(panel.querySelector(".hidden-map"), reading.hidden, step);
  for (const testid of ["steps-row-axis", "hidden-row-axis"]) {
    const axis = panel.querySelector(`[data-testid=${testid}]`);
    stepAxis(axis, info.steps, step);
    for (const tick of axis.children) tick.title = nowText(lang, info, Number(tick.textContent.replace("▸", "")));
  }
  panel.querySelector(".now").textContent = nowText(lang, info, step);
  const rowsTitle = fill(say(lang, "stepAxis")[linesOfStep(info, 1).kind], { k: info.rows_per_step });
  classAxis(panel.querySelector("[data-testid=steps-column-axis]"), names);
  panel.querySelector("[data-testid=steps-row-title]").textContent = rowsTitle;
  drawLegend(panel.querySelector("[data-testid=steps-legend]"),
             { colors: "viridis", min: 0, max: 1, title: say(lang, "probabilityLegend"), digits: 0 });
  unitAxis(panel.querySelector("[data-testid=hidden-column-axis]"), reading.hidden[0].length);
  panel.querySelector("[data-testid=hidden-row-title]").textContent = rowsTitle;
  drawLegend(panel.querySelector("[data-testid=hidden-legend]"),
             { colors: "diverging", min: -bound, max: bound, title: say(lang, "hiddenLegend"), digits: 2 });
}

function drawExplanation(lang, panel, info, explained, pixels, names) {
  // occlusion where reading_view computed it, else integrated gradients (a pixel reader), as the page does
  const words = { t: (key, values) => say(lang, key, values), className: (i) => names[i], fill };
  drawExplained(panel, info, explained, pixels, "occlusion", words);
}

function drawNumbersOf(lang, panel, info, unrolled, reason, step) {
  const numbers = panel.querySelector("[data-testid=numbers]");
  const note = panel.querySelector("[data-testid=numbers-note]");
  numbers.hidden = !unrolled;
  note.hidden = Boolean(unrolled);
  if (!unrolled) {
    note.textContent = reason === "not-finite" ? say(lang, "numbersNotFinite")
      : say(lang, "numbersTooBig", { H: info.hidden_size });
    return;
  }
  const whole = !unrolled.bidirectional && unrolled.num_layers === 1 && info.read !== "rows+columns";
  const part = whole ? "" : say(lang, "numbersPart", { reader: say(lang, "reads")[unrolled.reader] });
  drawNumbers(numbers, unrolled, step, { title: say(lang, "numbersTitle", { t: step, part }), kinds: say(lang, "kinds") });
}

const TRAITS = ["runs", "image", "label", "index", "language", "step", "panel_template"];

export function render({ model, el }) {
  // The slider's keys (arrows, Home, End) are the widget's: JupyterLab's shortcuts skip an element marked
  // data-lm-suppress-shortcuts, and its notebook, which takes arrow keys to move between cells and cancels their
  // default, never hears them.
  const root = element("div", "rowrnn-reading", { "data-testid": "rowrnn-reading", "data-lm-suppress-shortcuts": "" });
  root.addEventListener("keydown", (event) => event.stopPropagation());
  const controls = element("div", "controls");
  const play = element("button", "play", { type: "button", "data-testid": "play" });
  const slider = element("input", "slider", { type: "range", min: "1", step: "1", "data-testid": "slider" });
  const stepText = element("output", "step", { "data-testid": "step" });
  controls.append(play, slider, stepText);
  const label = element("p", "true-label", { "data-testid": "true-label" });
  const panels = element("div", "panels", { "data-testid": "panels" });
  root.append(controls, label, panels);
  el.replaceChildren(root);

  let timer = null;
  let built = null;                                     // the runs the panels were built for

  function runs() { return model.get("runs") ?? []; }

  function draw() {
    const lang = model.get("language") in STRINGS ? model.get("language") : "en";
    const all = runs();
    if (built !== all) {
      panels.replaceChildren(...all.map((run) => buildPanel(run, model.get("panel_template"))));
      all.forEach((run, k) => {                        // a click on a row of a map goes to that step (as on the page)
        for (const selector of [".steps-map", ".hidden-map"]) {
          const map = panels.children[k].querySelector(selector);
          map.addEventListener("click", (event) => {
            const box = map.getBoundingClientRect(), steps = run.info.steps, last = maxSteps(all);
            const row = Math.min(steps, Math.max(1, Math.ceil(((event.clientY - box.top) / box.height) * steps)));
            if (timer) { clearInterval(timer); timer = null; }
            setStep(Math.max(1, Math.floor((row * last) / steps)));
          });
        }
      });
      built = all;
    }
    const last = maxSteps(all);
    const step = Math.min(Math.max(1, model.get("step") || last), last);
    root.lang = lang;
    root.dataset.step = String(step);
    slider.max = String(last);
    slider.value = String(step);
    slider.disabled = play.disabled = !all.some((run) => run.info.recurrent && !run.reading.error);
    slider.setAttribute("aria-label", say(lang, "stepLabel"));
    play.textContent = say(lang, timer ? "pause" : "play");
    stepText.textContent = say(lang, "step", { t: step, T: last });
    const index = model.get("index"), given = model.get("label");
    label.hidden = given == null;
    const classes = model.get("classes");               // the models' class names, in label order
    const names = classNamesIn(lang, classes);          // as shown: Fashion-MNIST's translated, others as given
    label.textContent = given == null ? "" : (index == null ? names[given]
      : say(lang, "trueLabel", { name: names[given], index }));
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = say(lang, node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", say(lang, node.dataset.i18nLabel));
    const image = model.get("image");
    all.forEach((run, k) => {
      const panel = panels.children[k];
      const { info, reading } = run;
      panel.querySelector(".facts").textContent = facts(lang, info);
      const own = stepOf(info, step, last);
      panel.dataset.step = String(own);
      drawGlimpse(panel.querySelector(".glimpse"), image, info, own);
      if (reading.error) return;
      renderBars(panel.querySelector(".bars"), info.recurrent ? reading.steps[own - 1] : reading.final, names);
      if (info.recurrent) {
        drawMaps(lang, panel, info, reading, own, names);
        drawExplanation(lang, panel, info, reading.attribution, image, names);
        drawNumbersOf(lang, panel, info, reading.unrolled, reading.unrolled_reason, own);
      } else {
        panel.querySelector("[data-testid=numbers]").hidden = true;
      }
      panel.querySelector(".top").replaceChildren(...reading.top.map((entry) => {
        const item = element("li");
        item.textContent = `${names[classes.indexOf(entry.class)]} `;
        const share = element("span");
        share.textContent = `${(100 * entry.probability).toFixed(1)}%`;
        item.append(share);
        return item;
      }));
    });
  }

  function setStep(step) {
    model.set("step", step);
    model.save_changes();
  }

  function stop() {
    // at the end or paused mid-way: Python hears of the step where play stopped (widget.step)
    clearInterval(timer);
    timer = null;
    model.save_changes();
    draw();
  }

  play.addEventListener("click", () => {
    if (timer) return stop();
    const last = maxSteps(runs());
    let step = model.get("step") >= last ? 1 : model.get("step");
    timer = setInterval(() => {
      step += 1;
      // the other views of this widget follow at once; Python hears of the step when play stops
      model.set("step", step);
      if (step >= last) stop();
    }, Math.max(5, Math.round(3500 / last)));      // a whole reading in about 3.5 s, as on the page
    setStep(step);
    draw();
  });
  slider.addEventListener("input", () => {
    if (timer) { clearInterval(timer); timer = null; }
    setStep(Number(slider.value));
  });
  for (const trait of TRAITS) model.on(`change:${trait}`, draw);
  draw();
  return () => {
    clearInterval(timer);
    for (const trait of TRAITS) model.off(`change:${trait}`, draw);
  };
}
