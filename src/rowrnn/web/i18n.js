// The page's words in English and Spanish. Elements with data-i18n="key" take STRINGS[lang][key] as their text,
// those with data-i18n-label="key" as their accessible name (alt for an image, aria-label otherwise).

export const STRINGS = {
  en: {
    subtitle: "— watch a recurrent network read a garment, row by row",
    subtitleImage: "— watch a recurrent network read an image, row by row",
    inputTitle: "1. Give it a garment",
    inputTitleImage: "1. Give it an image",
    drawTitle: "Draw",
    drawHint: "Draw one garment with the mouse or a finger, dark on light, at any size and anywhere: it is trimmed and centred as a photo is.",
    drawHintPlain: "Draw with the mouse or a finger: the whole square is made grey and resized to {S}×{S}, as this run's own images were, neither trimmed nor centred; fill most of it.",
    drawHintPlainDark: "Draw light on dark with the mouse or a finger, as this run's own images are: the whole square is made grey and resized to {S}×{S} as drawn, neither trimmed, centred nor inverted; fill most of it.",
    drawLabel: "drawing area",
    brush: "Brush",
    clear: "Clear",
    readDrawing: "Read my drawing",
    uploadTitle: "Upload a photo",
    uploadHint: "A photo or scan of one garment on a plain background (PNG, JPEG, WebP, GIF, BMP or TIFF): trimmed, centred, fitted into {S}×{S} and turned light on black, as Fashion-MNIST was made and as rowrnn predict does.",
    uploadHintPlain: "A picture (PNG, JPEG, WebP, GIF, BMP or TIFF): made grey and resized whole to {S}×{S}, as this run's own images were, neither trimmed nor turned light on black.",
    uploadHintPlainDark: "A picture (PNG, JPEG, WebP, GIF, BMP or TIFF): made grey and resized whole to {S}×{S}, as this run's own images were made from their files, and never inverted: give one light on dark, like them.",
    drawHintWhole: "Draw dark on light with the mouse or a finger: the whole square is made grey, resized to {S}×{S} and turned light on black, like this run's own images, neither trimmed nor centred; fill most of it.",
    uploadHintWhole: "A picture cropped to what it shows (PNG, JPEG, WebP, GIF, BMP or TIFF): made grey, fitted whole into {S}×{S} (its border's colour fills the rest) and turned light on black if that colour is light, as rowrnn predict does for this run; neither trimmed nor centred.",
    cameraTitle: "Take a photo",
    cameraHint: "One garment on plain paper, in good light, filling most of the picture; the photo is read as an upload is.",
    cameraHintImage: "One drawing or object on plain paper, in good light, filling most of the picture; the photo is read as an upload is.",
    cameraLabel: "camera preview",
    cameraOpen: "Open the camera",
    takePhoto: "Take the photo",
    cameraClose: "Close the camera",
    noCamera: "No camera found on this device: upload a photo instead.",
    cameraInsecure: "The browser lends the camera only to a secure address: open the page at the http://127.0.0.1 address rowrnn serve prints.",
    cameraUnsupported: "This browser cannot use a camera: upload a photo instead.",
    cameraDenied: "The camera was not allowed: allow it for this page in the browser (the icon in the address bar), or upload a photo instead.",
    cameraBusy: "The camera is in use by another program: close that program and open the camera again.",
    cameraFailed: "The camera did not start ({message}): upload a photo instead.",
    testTitle: "Pick a test image",
    testIndex: "Number",
    show: "Show",
    random: "Random",
    seenTitle: "What the networks see",
    originalCaption: "Your picture",
    originalUnshown: "This browser cannot show the file; the {S}×{S} beside it is what was read.",
    previewCaption: "The {S}×{S} they read",
    previewLabel: "the {S} by {S} image",
    readingTitle: "2. Watch it read",
    readingHint: "Drag the slider or press play: each panel shows the network after it has read the first t steps of the image.",
    play: "Play",
    pause: "Pause",
    stepLabel: "step",
    glimpseHelp: "The part read so far is lit; the current step is outlined.",
    barsHelp: "How sure it is of each garment after the steps read so far.",
    barsHelpImage: "How sure it is of each class after the steps read so far.",
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
    runsShown: "Runs shown:",
    classAxis: "class",
    unitAxis: "unit of h_t",
    probabilityLegend: "probability",
    hiddenLegend: "value of h_t",
    stepAxis: { row: "step = image row", rows: "step: {k} image rows", column: "step = image column",
                columns: "step: {k} image columns", "row+column": "step = image row and column",
                "rows+columns": "step: {k} rows and {k} columns", pixel: "step = one pixel" },
    now: { row: "Step {t} reads image row {from}.", rows: "Step {t} reads image rows {from}–{to}.",
           column: "Step {t} reads image column {from}.", columns: "Step {t} reads image columns {from}–{to}.",
           "row+column": "Step {t} reads image row {from} and column {from}.",
           "rows+columns": "Step {t} reads image rows {from}–{to} and columns {from}–{to}.",
           pixel: "Step {t} reads the pixel at row {row}, column {column}." },
    numbersTitle: "Step {t} of the recurrence, with its numbers{part}. Click a row of a map, or move the slider, for another step.",
    numbersPart: " (layer 1, reading {reader} forwards)",
    numbersTooBig: "The recurrence is shown with its numbers for hidden sizes up to 16; this network's is {H}.",
    numbersNotFinite: "The recurrence's numbers are not shown: some of them are not finite (NaN or infinite) for this image.",
    numbersSteps: "The static page shows the recurrence's numbers for readers of up to 28 steps; this one reads {T}.",
    gradientsStatic: "Integrated gradients need gradients, which this static page does not compute: choose occlusion, or open the page with rowrnn serve.",
    occlusionStatic: "Neither method is available here: occlusion is not computed for {T} steps, and integrated gradients need rowrnn serve.",
    siteMissing: "This site's file {file} could not be read: the site is incomplete; build it again with rowrnn site.",
    siteDamaged: "This site's file {file} is damaged or not a rowrnn site's ({why}): build it again with rowrnn site.",
    noTestImage: "There is no test image {index} on this site: it holds images 0 to {count} − 1.",
    uploadsUnavailable: "Uploads, drawings and photos are not available on this site yet: pick a test image.",
    imageRefused: "This picture cannot be read: {message}",
    kinds: { input: "what is read at this step", pixels: "the pixels read", previous: "the state before this step",
             part: "one part of the sum", sum: "the sum", gate: "a gate, from 0 to 1", candidate: "the candidate",
             state: "the new state", constant: "the same at every step", output: "the new hidden state" },
    explainBy: "Which steps decided, by:",
    methodOcclusion: "occlusion",
    methodIntegratedGradients: "integrated gradients",
    attributionHelp: "Which steps decided “{class}” ({method}): red pushed toward it, blue away.",
    stripsWhere: { rows: "Beside the image: one cell per row read.", columns: "Under the image: one cell per column read.",
                   "rows+columns": "Beside the image: the rows read; under it: the columns.",
                   pixels: "Each pixel is coloured by the step that read it." },
    occlusionSkipped: "Occlusion is not computed for {T} steps (it would read the image {T} times): integrated gradients shown.",
    logitLegend: "logit change",
    explaining: "Working out which steps decided…",
    decisiveTitle: "The most decisive steps:",
    decisiveItem: "step {t} ({what}): {value}",
    lines: { row: "row {from}", rows: "rows {from}–{to}", column: "column {from}", columns: "columns {from}–{to}",
             pixel: "pixel at row {row}, column {column}" },
  },
  es: {
    subtitle: "— mira cómo una red recurrente lee una prenda, fila a fila",
    subtitleImage: "— mira cómo una red recurrente lee una imagen, fila a fila",
    inputTitle: "1. Dale una prenda",
    inputTitleImage: "1. Dale una imagen",
    drawTitle: "Dibuja",
    drawHint: "Dibuja una prenda con el ratón o con el dedo, oscuro sobre claro, del tamaño que quieras y donde quieras: se recorta y se centra como una foto.",
    drawHintPlain: "Dibuja con el ratón o con el dedo: el cuadro entero se pasa a grises y se reduce a {S}×{S}, como las imágenes de este modelo, sin recortarlo ni centrarlo; llénalo casi entero.",
    drawHintPlainDark: "Dibuja claro sobre oscuro con el ratón o con el dedo, como son las imágenes de este modelo: el cuadro entero se pasa a grises y se reduce a {S}×{S} tal como lo dibujas, sin recortarlo, centrarlo ni invertirlo; llénalo casi entero.",
    drawLabel: "zona de dibujo",
    brush: "Pincel",
    clear: "Borrar",
    readDrawing: "Leer mi dibujo",
    uploadTitle: "Sube una foto",
    uploadHint: "Una foto o un escaneo de una prenda sobre un fondo liso (PNG, JPEG, WebP, GIF, BMP o TIFF): se recorta, se centra, se encaja en {S}×{S} y queda clara sobre negro, como se hizo Fashion-MNIST y como hace rowrnn predict.",
    uploadHintPlain: "Una imagen (PNG, JPEG, WebP, GIF, BMP o TIFF): se pasa a grises y se redimensiona entera a {S}×{S}, como las imágenes de este modelo, sin recortarla ni dejarla clara sobre negro.",
    uploadHintPlainDark: "Una imagen (PNG, JPEG, WebP, GIF, BMP o TIFF): se pasa a grises y se redimensiona entera a {S}×{S}, como se hicieron las imágenes de este modelo a partir de sus ficheros, y nunca se invierte: dale una clara sobre oscuro, como ellas.",
    drawHintWhole: "Dibuja oscuro sobre claro con el ratón o con el dedo: el cuadro entero se pasa a grises, se reduce a {S}×{S} y queda claro sobre negro, como las imágenes de este modelo, sin recortarlo ni centrarlo; llénalo casi entero.",
    uploadHintWhole: "Una imagen ya recortada a lo que muestra (PNG, JPEG, WebP, GIF, BMP o TIFF): se pasa a grises, se encaja entera en {S}×{S} (el color de su borde rellena el resto) y queda clara sobre negro si ese color es claro, como hace rowrnn predict con este modelo; sin recortarla ni centrarla.",
    cameraTitle: "Haz una foto",
    cameraHint: "Una prenda sobre papel liso, con buena luz, ocupando casi toda la imagen; la foto se lee como una subida.",
    cameraHintImage: "Un dibujo u objeto sobre papel liso, con buena luz, ocupando casi toda la imagen; la foto se lee como una subida.",
    cameraLabel: "vista de la cámara",
    cameraOpen: "Abrir la cámara",
    takePhoto: "Hacer la foto",
    cameraClose: "Cerrar la cámara",
    noCamera: "No hay ninguna cámara en este dispositivo: sube una foto.",
    cameraInsecure: "El navegador solo presta la cámara a una dirección segura: abre la página en la dirección http://127.0.0.1 que imprime rowrnn serve.",
    cameraUnsupported: "Este navegador no puede usar una cámara: sube una foto.",
    cameraDenied: "No se permitió la cámara: permítela para esta página en el navegador (el icono de la barra de direcciones) o sube una foto.",
    cameraBusy: "Otro programa está usando la cámara: ciérralo y vuelve a abrir la cámara.",
    cameraFailed: "La cámara no arrancó ({message}): sube una foto.",
    testTitle: "Elige una imagen de test",
    testIndex: "Número",
    show: "Mostrar",
    random: "Al azar",
    seenTitle: "Lo que ven las redes",
    originalCaption: "Tu imagen",
    originalUnshown: "Este navegador no puede mostrar el archivo; el {S}×{S} de al lado es lo que se leyó.",
    previewCaption: "El {S}×{S} que leen",
    previewLabel: "la imagen de {S} por {S}",
    readingTitle: "2. Mira cómo lee",
    readingHint: "Arrastra el deslizador o pulsa reproducir: cada panel muestra la red tras leer los t primeros pasos de la imagen.",
    play: "Reproducir",
    pause: "Pausa",
    stepLabel: "paso",
    glimpseHelp: "Lo leído hasta ahora está iluminado; el paso actual, recuadrado.",
    barsHelp: "Cuán segura está de cada prenda tras los pasos leídos.",
    barsHelpImage: "Cuán segura está de cada clase tras los pasos leídos.",
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
    runsShown: "Redes mostradas:",
    classAxis: "clase",
    unitAxis: "unidad de h_t",
    probabilityLegend: "probabilidad",
    hiddenLegend: "valor de h_t",
    stepAxis: { row: "paso = fila de la imagen", rows: "paso: {k} filas de la imagen", column: "paso = columna de la imagen",
                columns: "paso: {k} columnas de la imagen", "row+column": "paso = fila y columna de la imagen",
                "rows+columns": "paso: {k} filas y {k} columnas", pixel: "paso = un píxel" },
    now: { row: "El paso {t} lee la fila {from} de la imagen.", rows: "El paso {t} lee las filas {from}–{to} de la imagen.",
           column: "El paso {t} lee la columna {from} de la imagen.",
           columns: "El paso {t} lee las columnas {from}–{to} de la imagen.",
           "row+column": "El paso {t} lee la fila {from} y la columna {from} de la imagen.",
           "rows+columns": "El paso {t} lee las filas {from}–{to} y las columnas {from}–{to} de la imagen.",
           pixel: "El paso {t} lee el píxel de la fila {row}, columna {column}." },
    numbersTitle: "El paso {t} de la recurrencia, con sus números{part}. Pulsa una fila de un mapa, o mueve el deslizador, para ver otro paso.",
    numbersPart: " (capa 1, leyendo {reader} hacia delante)",
    numbersTooBig: "La recurrencia se muestra con sus números para estados ocultos de hasta 16; el de esta red tiene {H}.",
    numbersNotFinite: "Los números de la recurrencia no se muestran: algunos no son finitos (NaN o infinitos) para esta imagen.",
    numbersSteps: "La página estática muestra los números de la recurrencia para lectores de hasta 28 pasos; este lee {T}.",
    gradientsStatic: "Los gradientes integrados necesitan gradientes, que esta página estática no calcula: elige la oclusión, o abre la página con rowrnn serve.",
    occlusionStatic: "Aquí no hay ningún método disponible: la oclusión no se calcula para {T} pasos, y los gradientes integrados necesitan rowrnn serve.",
    siteMissing: "No se pudo leer el archivo {file} de este sitio: el sitio está incompleto; vuelve a crearlo con rowrnn site.",
    siteDamaged: "El archivo {file} de este sitio está dañado o no es de un sitio de rowrnn ({why}): vuelve a crearlo con rowrnn site.",
    noTestImage: "Este sitio no tiene la imagen de prueba {index}: tiene las imágenes 0 a {count} − 1.",
    uploadsUnavailable: "Subir imágenes, dibujar y hacer fotos aún no está disponible en este sitio: elige una imagen de prueba.",
    imageRefused: "Esta imagen no se puede leer: {message}",
    kinds: { input: "lo que se lee en este paso", pixels: "los píxeles leídos", previous: "el estado antes de este paso",
             part: "una parte de la suma", sum: "la suma", gate: "una puerta, de 0 a 1", candidate: "el candidato",
             state: "el nuevo estado", constant: "lo mismo en cada paso", output: "el nuevo estado oculto" },
    explainBy: "Qué pasos decidieron, según:",
    methodOcclusion: "oclusión",
    methodIntegratedGradients: "gradientes integrados",
    attributionHelp: "Qué pasos decidieron «{class}» ({method}): en rojo empujaron hacia ella, en azul en contra.",
    stripsWhere: { rows: "Junto a la imagen: una celda por fila leída.", columns: "Bajo la imagen: una celda por columna leída.",
                   "rows+columns": "Junto a la imagen: las filas leídas; debajo: las columnas.",
                   pixels: "Cada píxel tiene el color del paso que lo leyó." },
    occlusionSkipped: "La oclusión no se calcula para {T} pasos (leería la imagen {T} veces): se muestran los gradientes integrados.",
    logitLegend: "cambio del logit",
    explaining: "Calculando qué pasos decidieron…",
    decisiveTitle: "Los pasos más decisivos:",
    decisiveItem: "paso {t} ({what}): {value}",
    lines: { row: "fila {from}", rows: "filas {from}–{to}", column: "columna {from}", columns: "columnas {from}–{to}",
             pixel: "píxel de la fila {row}, columna {column}" },
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

// The side S of the runs' S x S images, which the page's strings say ({S}): 28 until the runs say theirs.
let imageSize = 28;

export function setImageSize(size) {
  imageSize = size;
}

export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  const filled = { S: imageSize, ...values };
  return typeof text === "string" ? text.replace(/\{(\w+)\}/g, (_, name) => filled[name] ?? "") : text;
}

export function fill(text, values = {}) {
  // one of the nested strings (t("now").row, ...) with its {placeholders} filled
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

// The names shown for the runs' classes (the server's, in label order: /api/runs' or the widget's classes):
// Fashion-MNIST's are translated, any other dataset's are shown as the server names them.
export function classNamesIn(lang, classes) {
  const fashion = !classes || (classes.length === CLASS_NAMES.en.length
                               && classes.every((name, i) => name === CLASS_NAMES.en[i]));
  return fashion ? CLASS_NAMES[lang] : classes;
}

let runClasses = null;

export function setClasses(classes) {
  runClasses = classes;
}

export function className(index) {
  return classNamesIn(current, runClasses)[index];
}

export function setLanguage(lang, root = document) {
  current = Object.hasOwn(STRINGS, lang ?? "") ? lang : "en";
  document.documentElement.lang = current;
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute(element.tagName === "IMG" ? "alt" : "aria-label", t(element.dataset.i18nLabel));
  }
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === current));
  }
}
