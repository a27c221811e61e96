// The camera: a live preview (getUserMedia) and photos of it as PNG blobs, which the page reads as uploads.
// Browsers lend a camera only to a secure context; http://127.0.0.1 (where rowrnn serve listens) is one.

let generation = 0;   // bumped by every open and close: an answer to an older open is dropped, not shown

export async function cameraAvailability() {
  // "ready" where a camera can be asked for; otherwise the i18n key of the reason it cannot
  if (!window.isSecureContext) return "cameraInsecure";
  const media = navigator.mediaDevices;
  if (!media?.getUserMedia || !media.enumerateDevices) return "cameraUnsupported";
  const devices = await media.enumerateDevices().catch(() => []);
  return devices.some((device) => device.kind === "videoinput") ? "ready" : "noCamera";
}

export function onCameraChange(listener) {
  // a camera plugged in or out while the page is open
  navigator.mediaDevices?.addEventListener?.("devicechange", listener);
}

export async function openCamera(video) {
  // -> true once the preview plays; false if closeCamera (or a newer open) came first
  closeCamera(video);
  const mine = generation;
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false, video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 960 } } });
  if (mine !== generation) {
    stopTracks(stream);
    return false;
  }
  video.srcObject = stream;
  try {
    await video.play();
  } catch (error) {
    if (mine === generation) throw error;   // closed while starting: not a failure
  }
  return mine === generation;
}

export function closeCamera(video) {
  generation += 1;
  stopTracks(video.srcObject);
  video.srcObject = null;
}

export function takePhoto(video) {
  // the frame on show, at the camera's own resolution -> a PNG blob (lossless: no JPEG artefacts added)
  if (!video.srcObject || !video.videoWidth) return Promise.reject(new Error("the camera shows no picture yet"));
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("the photo could not be encoded"))), "image/png"));
}

export function cameraErrorKey(error) {
  // getUserMedia's DOMException names -> the i18n key of one line that says what to do
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "cameraDenied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "noCamera";
    case "NotReadableError":
    case "AbortError":
      return "cameraBusy";
    default:
      return "cameraFailed";
  }
}

function stopTracks(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
