// The static site's engine (built by `rowrnn site`): api.js's calls answered inside this browser. The runs are
// ONNX graphs run by onnxruntime-web (ort/, one wasm thread, no worker), their inputs and outputs named by
// manifest.json (written when the site was built: nothing here rebuilds a name), the test images packed in
// test-images.bin. Every file is checked before use; a missing, damaged or foreign one is an Error whose `key`
// the page translates. Nothing is sent anywhere and nothing is stored: a photo stays in this page.
//
//   const info = await getRuns();                  // what /api/runs answers
//   const reading = await predictTestImage(7);     // what /api/predict answers
//   const why = await explain({ test_index: 7 }, 0);   // occlusion, as one batched run of run 0's graph
//   const { index, reading } = await firstReading();    // test image 0's reading, computed when the site was built
import * as ort from "./ort/ort.wasm.min.mjs";

const MANIFEST = "manifest.json";
const MAX_MODEL_BYTES = 256 * 2 ** 20;
const MAX_SIZE = 256;              // rowrnn.datasets.MAX_FOLDER_SIDE: the largest image side a run reads
const DEBUG = new URLSearchParams(location.search).get("debug") === "engine";

ort.env.wasm.numThreads = 1;        // no cross-origin isolation needed, and none of a static host's headers
ort.env.wasm.proxy = false;         // a proxy worker would need a looser policy
ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;    // this site's own copy, never a CDN
ort.env.logLevel = "error";

function fail(key, values = {}) {
  return Object.assign(new Error(`${key} ${JSON.stringify(values)}`), { key, values });
}

const damaged = (file, why) => fail("siteDamaged", { file, why });

async function fetchBytes(file, limit) {
  let response;
  try {
    response = await fetch(file);
  } catch {
    throw fail("siteMissing", { file });
  }
  if (!response.ok) throw fail("siteMissing", { file });
  const declared = Number(response.headers.get("content-length"));
  if (limit && declared > limit) throw damaged(file, `${declared} bytes`);
  return new Uint8Array(await response.arrayBuffer());
}

async function sha256(bytes) {
  // only in a secure context (https, localhost); elsewhere the sizes and onnxruntime's own checks remain
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const isInt = (v, min = 0) => Number.isInteger(v) && v >= min;
const isNames = (list) => Array.isArray(list) && list.every((e) => e && typeof e.name === "string");

function checkManifest(m) {
  // the shape of what `rowrnn site` writes (site.py's build_site): anything else is a foreign or damaged file
  const why = (() => {
    if (!m || m.format !== "rowrnn-site") return "not a rowrnn site's manifest";
    if (m.version !== 1) return `format version ${m.version}, this page reads 1`;
    if (!isInt(m.image_size, 1) || m.image_size > MAX_SIZE) return `image size ${m.image_size}`;
    if (!Array.isArray(m.classes) || !m.classes.length || !m.classes.every((c) => typeof c === "string")) return "no classes";
    const n = m.normalization;
    if (!n || !Number.isFinite(n.mean) || !Number.isFinite(n.std) || n.std <= 0) return "no normalization";
    const images = m.test_images;
    if (!images || images.file !== "test-images.bin" || !isInt(images.count, 1) || images.bytes !== images.count * m.image_size * m.image_size
        || !Array.isArray(images.labels) || images.labels.length !== images.count
        || !images.labels.every((l) => isInt(l) && l < m.classes.length)) return "no test images";
    if (!Array.isArray(m.runs) || !m.runs.length) return "no runs";
    for (const [index, run] of m.runs.entries()) {
      const g = run?.graph;
      if (run.id !== index || typeof run.name !== "string" || typeof run.recurrent !== "boolean" || !g) return `run ${index}`;
      if (!/^models\/[0-9]+\.onnx$/.test(g.file) || !isInt(g.bytes, 1) || !isNames(g.inputs) || !isNames(g.outputs)) return `run ${index}'s graph`;
      const outputs = g.outputs.map((o) => o.name);
      const needed = ["logits", "final", ...(run.recurrent ? ["probabilities", "hidden"] : [])];
      if (!needed.every((name) => outputs.includes(name))) return `run ${index}'s outputs`;
      if (run.recurrent && (!isInt(run.steps, 1) || !isInt(g.readers, 1) || !isInt(run.hidden_width, 1))) return `run ${index}'s steps`;
      if (g.unrolled && !(Array.isArray(g.unrolled.terms)
                          && g.unrolled.terms.every((term) => outputs.includes(`unrolled.${term.name}`)))) return `run ${index}'s numbers`;
    }
    return null;
  })();
  if (why) throw damaged(MANIFEST, why);
  return m;
}

// onnxruntime-web's wasm backend is one instance for every session: two calls at once (two runs read together,
// a graph loading while another runs) failed now and then in Chromium ("Cannot read properties of null"), so
// every call into it waits for the one before
let queue = Promise.resolve();
function exclusive(work) {
  const next = queue.then(work, work);
  queue = next.catch(() => {});
  return next;
}

let site = null;                  // the manifest and the test images, read once
const sessions = new Map();       // run id -> promise of its onnxruntime session
// ?debug=engine's numbers; first_reading_ms: when the first reading was computed (performance.now(), from the
// page's start), kept here because the page's next step (occlusion) holds its one thread right after
const debug = { readings: null, explanations: {}, first_reading_ms: null };

function loadSite() {
  site ??= (async () => {
    let manifest;
    try {
      manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(MANIFEST, 64 * 2 ** 20)));
    } catch (error) {
      if (error.key) throw error;
      throw damaged(MANIFEST, "not JSON");
    }
    checkManifest(manifest);
    const images = await fetchBytes(manifest.test_images.file);
    if (images.length !== manifest.test_images.bytes) throw damaged(manifest.test_images.file, `${images.length} bytes`);
    const digest = await sha256(images);
    if (digest && digest !== manifest.test_images.sha256) throw damaged(manifest.test_images.file, "its SHA-256 differs");
    return { manifest, images };
  })();
  site.catch(() => { site = null; });          // a failed read is tried again by the next call
  return site;
}

function session(run) {
  if (!sessions.has(run.id)) {
    const made = (async () => {
      const g = run.graph;
      const bytes = await fetchBytes(g.file, MAX_MODEL_BYTES);
      if (bytes.length !== g.bytes) throw damaged(g.file, `${bytes.length} bytes, the manifest says ${g.bytes}`);
      const digest = await sha256(bytes);
      if (digest && digest !== g.sha256) throw damaged(g.file, "its SHA-256 differs");
      let created;
      try {
        created = await exclusive(() => ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "disabled" }));
      } catch {
        throw damaged(g.file, "not a model onnxruntime can read");
      }
      const same = (a, b) => a.length === b.length && a.every((name, i) => name === b[i]);
      if (!same(created.inputNames, g.inputs.map((i) => i.name)) || !same(created.outputNames, g.outputs.map((o) => o.name))) {
        throw damaged(g.file, "its inputs or outputs are not the manifest's");
      }
      return created;
    })();
    made.catch(() => sessions.delete(run.id));
    sessions.set(run.id, made);
  }
  return sessions.get(run.id);
}

function inputOf(manifest, pixels, copies = 1) {
  // (x / 255 - mean) / std in float32, step by step as rowrnn.data.normalize computes it; copies of one image
  const { mean, std } = manifest.normalization;
  const SIZE = manifest.image_size;
  const one = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < one.length; i++) one[i] = Math.fround(Math.fround(Math.fround(pixels[i] / 255) - mean) / std);
  const data = new Float32Array(copies * one.length);
  for (let c = 0; c < copies; c++) data.set(one, c * one.length);
  return new ort.Tensor("float32", data, [copies, 1, SIZE, SIZE]);
}

function keepAll(run, copies = 1) {
  const { readers } = run.graph;
  return new ort.Tensor("float32", new Float32Array(copies * readers * run.steps).fill(1), [copies, readers, run.steps]);
}

const rows = (data, width, count = data.length / width) =>
  Array.from({ length: count }, (_, t) => Array.from(data.subarray(t * width, (t + 1) * width)));
const finite = (data) => data.every(Number.isFinite);

async function readRun(manifest, run, pixels) {
  // one run's reading: what serve's Panel.read answers (rowrnn.reading.reading_view, without attribution)
  const base = { id: run.id, name: run.name };
  const created = await session(run);
  const feeds = { images: inputOf(manifest, pixels) };
  if (run.recurrent) feeds.keep = keepAll(run);
  const out = await exclusive(() => created.run(feeds));
  const final = out.final.data;
  const K = manifest.classes.length;
  if (!finite(out.logits.data) || !finite(final) || (run.recurrent && !(finite(out.probabilities.data) && finite(out.hidden.data)))) {
    return { ...base, error: manifest.not_finite };
  }
  const order = [...final.keys()].sort((a, b) => final[b] - final[a]).slice(0, 3);
  const result = { ...base, steps: null, hidden: null, final: Array.from(final),
                   top: order.map((i) => ({ class: manifest.classes[i], probability: final[i] })),
                   unrolled: null, unrolled_reason: run.graph.unrolled_reason };
  if (!run.recurrent) return result;
  result.steps = rows(out.probabilities.data, K);
  result.hidden = rows(out.hidden.data, run.hidden_width);
  const numbers = run.graph.unrolled;
  if (numbers) {
    const terms = numbers.terms.map((term) => {
      const tensor = out[`unrolled.${term.name}`];
      return { ...term, values: rows(tensor.data, tensor.dims[1]) };
    });
    if (terms.every((term) => term.values.every(finite))) Object.assign(result, { unrolled: { ...numbers, terms }, unrolled_reason: null });
    else result.unrolled_reason = "not-finite";
  }
  return result;
}

function asGrid(pixels, SIZE) {
  return Array.from({ length: SIZE }, (_, r) => Array.from(pixels.subarray(r * SIZE, (r + 1) * SIZE)));
}

async function pixelsOf(source) {
  const { manifest, images } = await loadSite();
  if (source.test_index != null) {
    const index = source.test_index;
    if (!isInt(index) || index >= manifest.test_images.count) throw fail("noTestImage", { index, count: manifest.test_images.count });
    const SIZE = manifest.image_size;
    return { pixels: images.subarray(index * SIZE * SIZE, (index + 1) * SIZE * SIZE), label: manifest.test_images.labels[index] };
  }
  const flat = Uint8Array.from(source.pixels.flat());
  return { pixels: flat, label: null };
}

async function predict(pixels, label) {
  const { manifest } = await loadSite();
  const models = await Promise.all(manifest.runs.map((run) => readRun(manifest, run, pixels)));
  const reading = { image: asGrid(pixels, manifest.image_size), label, models };
  if (DEBUG) {
    debug.readings = reading;
    debug.first_reading_ms ??= performance.now();
    showDebug();
  }
  return reading;
}

function showDebug() {
  // ?debug=engine: the numbers computed, as JSON in a hidden <output> (read by tests/test_site.py; no script runs)
  let element = document.getElementById("engine-debug");
  if (!element) {
    element = Object.assign(document.createElement("output"), { id: "engine-debug", hidden: true });
    element.dataset.testid = "engine-debug";
    document.body.append(element);
  }
  element.textContent = JSON.stringify(debug);
}

// ---- api.js's calls ----

export async function getRuns() {
  const { manifest } = await loadSite();
  for (const run of manifest.runs) session(run).catch(() => {});    // start loading every graph now
  const runs = manifest.runs.map(({ graph, ...info }) => info);
  return { runs, classes: manifest.classes, image_size: manifest.image_size, dataset: manifest.dataset ?? null,
           test_images: manifest.test_images.count,
           background: manifest.background ?? null, pad: manifest.pad ?? "light", picture: manifest.picture ?? null };
}

export async function firstReading() {
  // the reading of one test image computed when the site was built (first-reading.json), to show while the
  // graphs load: {index, reading}, or null when the site has none or the file is not the one the manifest names
  // (the live reading follows either way)
  const { manifest } = await loadSite();
  const first = manifest.first_reading;
  if (!first || first.file !== "first-reading.json" || !isInt(first.index) || first.index >= manifest.test_images.count) return null;
  try {
    const bytes = await fetchBytes(first.file, 64 * 2 ** 20);
    const digest = await sha256(bytes);
    if (bytes.length !== first.bytes || (digest && digest !== first.sha256)) return null;
    const reading = JSON.parse(new TextDecoder().decode(bytes));
    const fits = Array.isArray(reading?.models) && reading.models.length === manifest.runs.length
      && reading.models.every((model, id) => model?.id === id) && reading.image?.length === manifest.image_size
      && reading.label === manifest.test_images.labels[first.index];
    return fits ? { index: first.index, reading } : null;
  } catch {
    return null;
  }
}

export async function getTestImage(index) {
  const { manifest } = await loadSite();
  const { pixels, label } = await pixelsOf({ test_index: index });
  return { index, label, class: manifest.classes[label], pixels: asGrid(pixels, manifest.image_size) };
}

export async function predictTestImage(index) {
  const { pixels, label } = await pixelsOf({ test_index: index });
  return predict(pixels, label);
}

export async function predictFile(blob) {
  const { manifest } = await loadSite();
  if (!manifest.convert) throw fail("uploadsUnavailable");
  let converted;
  try {
    const { convertImage } = await import("./convert.js");
    converted = await convertImage(blob, manifest.picture);     // the run's conversion and size (site.picture_options)
  } catch (error) {
    throw fail("imageRefused", { message: error?.message ?? String(error) });
  }
  const pixels = converted?.pixels;
  const SIZE = manifest.image_size;
  if (!(pixels instanceof Uint8Array) || pixels.length !== SIZE * SIZE) throw fail("imageRefused", { message: `no ${SIZE}x${SIZE} image` });
  return predict(pixels, null);
}

export async function explain(source, id) {
  // which steps decided run `id`'s answer: occlusion as ONE batched run of its graph (R*T copies of the image,
  // copy r*T + t without step t of reader r, as rowrnn.attribution blanks it: the background), where serve
  // computes it (rowrnn.reading.occlusion_affordable); integrated gradients need gradients: not on this page
  const { manifest } = await loadSite();
  const run = manifest.runs[id];
  const { pixels, label } = await pixelsOf(source);
  const base = { id: run.id, name: run.name };
  const answer = (attribution) => {
    if (DEBUG) {
      debug.explanations[id] = attribution;
      showDebug();
    }
    return { image: asGrid(pixels, manifest.image_size), label, models: [{ ...base, attribution }] };
  };
  if (!run.recurrent) return answer(null);
  const created = await session(run);
  const whole = await exclusive(() => created.run({ images: inputOf(manifest, pixels), keep: keepAll(run) }));
  if (!finite(whole.logits.data) || !finite(whole.final.data)) return answer(null);
  const final = whole.final.data;
  const target = [...final.keys()].reduce((best, i) => (final[i] > final[best] ? i : best), 0);
  const attribution = { target, class: manifest.classes[target], occlusion: null, "integrated-gradients": null,
                        unavailable: { "integrated-gradients": "gradientsStatic" } };
  if (!run.graph.occlusion) {
    attribution.unavailable.occlusion = "occlusionStatic";
    return answer(attribution);
  }
  const { readers } = run.graph;
  const T = run.steps, N = readers * T, K = manifest.classes.length;
  const keep = new Float32Array(N * N).fill(1);
  for (let n = 0; n < N; n++) keep[n * N + n] = 0;                // (N, R, T): copy n lacks step n
  const occluded = await exclusive(() => created.run(
    { images: inputOf(manifest, pixels, N), keep: new ort.Tensor("float32", keep, [N, readers, T]) }, ["logits"]));
  const logits = occluded.logits.data;
  const scores = Array.from({ length: readers }, (_, r) =>
    Array.from({ length: T }, (_, t) => whole.logits.data[target] - logits[(r * T + t) * K + target]));
  if (scores.flat().every(Number.isFinite)) attribution.occlusion = scores;
  return answer(attribution);
}
