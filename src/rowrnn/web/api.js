// The engine that answers the page: the server's JSON endpoints (documented in the README), or, on a static site
// built by `rowrnn site` (its index.html names the engine), the networks run in this browser (engine-static.js).
// Chosen once, here: the rest of the page does not know which answers. Every failure becomes an Error with one
// line (or, from the static engine, a `key` the page translates).
const local = document.querySelector('meta[name="rowrnn-engine"]')?.content === "static"
  ? await import("./engine-static.js") : null;

async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw Object.assign(new Error("unreachable"), { unreachable: true });
  }
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw Object.assign(new Error(body.error ?? `HTTP ${response.status}`), { status: response.status });
  return body;
}

export const getRuns = () => (local ? local.getRuns() : call("/api/runs"));
// A reading to show before the networks can answer ({index, reading} of a test image, or null): the static site
// carries one computed when it was built; the server answers at once, so it has none.
export const firstReading = () => (local ? local.firstReading() : Promise.resolve(null));
export const getTestImage = (index) => (local ? local.getTestImage(index)
  : call(`/api/test-image/${encodeURIComponent(index)}`));

// Any file the person picks is sent as bytes: the server tells formats apart by their signature, so a PDF
// or a HEIC photo is answered "not accepted: give a PNG, JPEG, ..." rather than a note about media types.
export function predictFile(blob) {
  if (local) return local.predictFile(blob);
  const type = blob.type.startsWith("image/") ? blob.type : "application/octet-stream";
  return call("/api/predict", { method: "POST", body: blob, headers: { "Content-Type": type } });
}

export function predictTestImage(index) {
  if (local) return local.predictTestImage(index);
  return call("/api/predict", { method: "POST", body: JSON.stringify({ test_index: index }),
                                headers: { "Content-Type": "application/json" } });
}

// Which steps decided one run's answer (run: its id), asked apart from the reading (it costs 0.1 s to seconds a
// run): for the S x S image the networks read (a test image by its number, any other by its pixels, which need no
// decoding again).
export function explain(source, run) {
  if (local) return local.explain(source, run);
  return call(`/api/explain?run=${encodeURIComponent(run)}`, { method: "POST", body: JSON.stringify(source),
                                                               headers: { "Content-Type": "application/json" } });
}
