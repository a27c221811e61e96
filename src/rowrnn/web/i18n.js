// The page's words in English and Spanish. Elements with data-i18n="key" take STRINGS[lang][key].

export const STRINGS = {
  en: {
    subtitle: "— watch a recurrent network read a garment, row by row",
    inputTitle: "1. Give it a garment",
    drawTitle: "Draw",
    drawHint: "Draw with the mouse or a finger, dark on light, as large as the box.",
    brush: "Brush",
    clear: "Clear",
    readDrawing: "Read my drawing",
    uploadTitle: "Upload a photo",
    uploadHint: "A PNG or JPEG; it is turned grey, fitted into 28×28 and inverted on a light background, as rowrnn predict does.",
    testTitle: "Pick a test image",
    testIndex: "Number",
    show: "Show",
    random: "Random",
    seenTitle: "What the networks see (28×28)",
    readingTitle: "2. Watch it read",
    readingHint: "Drag the slider or press play: each panel shows the network after it has read the first t steps of the image.",
    play: "Play",
    pause: "Pause",
    glimpseHelp: "The part read so far is lit; the current step is outlined.",
    barsHelp: "How sure it is of each garment after the steps read so far.",
    stepsHelp: "One row per step: the guess filling in, top to bottom (as reading.png).",
    hiddenHelp: "The hidden state h_t, its memory, after each step (red above zero, blue below).",
    cnnNote: "A CNN looks at the whole image at once: it has no steps to show.",
    topHelp: "Its final answer, after the whole image.",
    step: "step {t} of {T}",
    noImage: "no image yet",
    trueLabel: "True label: {name} (test image {index})",
    facts: "{params} parameters · reads {read}{strips} · {accuracy}",
    accuracy: "test accuracy {value}",
    notFinished: "not evaluated yet",
    strips: ", {k} lines a step",
    reads: { rows: "rows", columns: "columns", "rows+columns": "rows and columns", pixels: "pixels",
             "permuted-pixels": "pixels in a fixed random order", cnn: "the whole image (CNN)" },
    serverSays: "The server says: {message}",
    unreachable: "The server did not answer: is rowrnn serve still running?",
    loading: "reading…",
  },
  es: {
    subtitle: "— mira cómo una red recurrente lee una prenda, fila a fila",
    inputTitle: "1. Dale una prenda",
    drawTitle: "Dibuja",
    drawHint: "Dibuja con el ratón o con el dedo, oscuro sobre claro, tan grande como el recuadro.",
    brush: "Pincel",
    clear: "Borrar",
    readDrawing: "Leer mi dibujo",
    uploadTitle: "Sube una foto",
    uploadHint: "Un PNG o JPEG; se pasa a grises, se encaja en 28×28 y se invierte si el fondo es claro, como hace rowrnn predict.",
    testTitle: "Elige una imagen de test",
    testIndex: "Número",
    show: "Mostrar",
    random: "Al azar",
    seenTitle: "Lo que ven las redes (28×28)",
    readingTitle: "2. Mira cómo lee",
    readingHint: "Arrastra el deslizador o pulsa reproducir: cada panel muestra la red tras leer los t primeros pasos de la imagen.",
    play: "Reproducir",
    pause: "Pausa",
    glimpseHelp: "Lo leído hasta ahora está iluminado; el paso actual, recuadrado.",
    barsHelp: "Cuán segura está de cada prenda tras los pasos leídos.",
    stepsHelp: "Una fila por paso: la respuesta se va rellenando de arriba abajo (como reading.png).",
    hiddenHelp: "El estado oculto h_t, su memoria, tras cada paso (rojo por encima de cero, azul por debajo).",
    cnnNote: "Una CNN mira toda la imagen a la vez: no tiene pasos que mostrar.",
    topHelp: "Su respuesta final, tras toda la imagen.",
    step: "paso {t} de {T}",
    noImage: "aún no hay imagen",
    trueLabel: "Etiqueta real: {name} (imagen de test {index})",
    facts: "{params} parámetros · lee {read}{strips} · {accuracy}",
    accuracy: "exactitud en test {value}",
    notFinished: "aún sin evaluar",
    strips: ", {k} líneas por paso",
    reads: { rows: "filas", columns: "columnas", "rows+columns": "filas y columnas", pixels: "píxeles",
             "permuted-pixels": "píxeles en un orden aleatorio fijo", cnn: "la imagen entera (CNN)" },
    serverSays: "El servidor dice: {message}",
    unreachable: "El servidor no responde: ¿sigue en marcha rowrnn serve?",
    loading: "leyendo…",
  },
};

export const CLASS_NAMES = {
  en: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
  es: ["Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo", "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín"],
};

let current = "en";

export function language() {
  return current;
}

export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return typeof text === "string" ? text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "") : text;
}

export function className(index) {
  return CLASS_NAMES[current][index];
}

export function setLanguage(lang, root = document) {
  current = lang in STRINGS ? lang : "en";
  document.documentElement.lang = current;
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === current));
  }
}
