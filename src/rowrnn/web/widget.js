// The reading view in a notebook (rowrnn.show_reading): the page's panels, drawn by the page's own render.js and
// worded by its i18n.js, replayed with a slider and a play button. An anywidget module: rowrnn/widget.py inlines
// this file, render.js and i18n.js into one ES module (a widget's module cannot import its siblings by URL).
//
// The model's traits (set by Python): runs [{info: panel_info, reading: reading_view}], image (28x28 grey
// values), classes (rowrnn's class names, as reading_view's top names them), label and index (a test image's, else null), language ("en" or "es"), step (1..max_steps, the
// slider's position, shared with Python: widget.step = 5 moves it; the slider moving sets it).
import { CLASS_NAMES, STRINGS } from "./i18n.js";
import { drawGlimpse, drawHidden, drawSteps, renderBars } from "./render.js";

// Not i18n.js's t(): its language is one per page (setLanguage also sets the document's lang, the whole
// notebook's), while each widget here keeps its own; the strings are i18n.js's.
function say(lang, key, values = {}) {
  const text = STRINGS[lang]?.[key] ?? STRINGS.en[key] ?? key;
  return typeof text === "string" ? text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "") : text;
}

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function figure(content, captionKey) {
  const node = element("figure");
  const caption = element("figcaption");
  caption.dataset.key = captionKey;
  node.append(content, caption);
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

function buildPanel(run) {
  const panel = element("article", "panel", { "data-testid": "panel" });
  const header = element("header");
  const name = element("h3", "name");
  name.textContent = run.info.name;
  header.append(name, element("p", "facts"));
  const glimpse = element("canvas", "glimpse", { width: "112", height: "112", "data-testid": "glimpse" });
  const bars = element("div", "bars", { "data-testid": "bars" });
  const top = element("div", "pictures");
  const barsFigure = figure(bars, "barsHelp");
  barsFigure.classList.add("bars-figure");
  top.append(figure(glimpse, "glimpseHelp"), barsFigure);
  panel.append(header, top);
  if (run.info.recurrent && !run.reading.error) {
    const maps = element("div", "pictures");
    maps.append(figure(element("canvas", "steps-map", { width: "200", height: "224", "data-testid": "steps-map" }),
                       "stepsHelp"),
                figure(element("canvas", "hidden-map", { width: "200", height: "224", "data-testid": "hidden-map" }),
                       "hiddenHelp"));
    panel.append(maps);
  } else if (!run.info.recurrent) {
    const note = element("p", "note");
    note.dataset.key = "cnnNote";
    panel.append(note);
  }
  const answer = element("ol", "top", { "data-testid": "top3" });
  const answerHelp = element("p", "hint");
  answerHelp.dataset.key = "topHelp";
  panel.append(answer, answerHelp);
  if (run.reading.error) {
    const error = element("p", "message", { role: "alert", "data-testid": "error" });
    error.textContent = run.reading.error;
    panel.append(error);
  }
  return panel;
}

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
      panels.replaceChildren(...all.map(buildPanel));
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
    label.textContent = given == null ? "" : (index == null ? CLASS_NAMES[lang][given]
      : say(lang, "trueLabel", { name: CLASS_NAMES[lang][given], index }));
    for (const node of root.querySelectorAll("[data-key]")) node.textContent = say(lang, node.dataset.key);
    const names = CLASS_NAMES[lang];
    const image = model.get("image");
    const classes = model.get("classes");               // the server's names, to find a class by (never shown)
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
        drawSteps(panel.querySelector(".steps-map"), reading.steps, own);
        drawHidden(panel.querySelector(".hidden-map"), reading.hidden, own);
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
    clearInterval(timer);
    timer = null;
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
      if (step >= last) {
        stop();
        model.save_changes();
      }
    }, Math.max(5, Math.round(3500 / last)));      // a whole reading in about 3.5 s, as on the page
    setStep(step);
    draw();
  });
  slider.addEventListener("input", () => {
    if (timer) { clearInterval(timer); timer = null; }
    setStep(Number(slider.value));
  });
  for (const trait of ["runs", "image", "label", "index", "language", "step"]) model.on(`change:${trait}`, draw);
  draw();
  return () => {
    clearInterval(timer);
    for (const trait of ["runs", "image", "label", "index", "language", "step"]) model.off(`change:${trait}`, draw);
  };
}
