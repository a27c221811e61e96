"""Lesson 01 — simple recurrent networks: its cells, in English and Spanish.

Markdown is written in both languages; each code cell is written once, in English, and the Spanish notebook's
code is that cell passed through SPANISH (its comments, printed words and labels; see lessons.common.translate).
"""
from .common import CLASES, CREDIT, INSTALL, code, md, params

NAMES = {"en": "01-simple-recurrent-networks", "es": "01-redes-recurrentes-simples"}

CELLS = [
    md("""# 01 — Simple recurrent networks that read a garment

A recurrent network reads a sequence one step at a time and carries a memory, its *hidden state*, from one
step to the next. Here the sequence is an image: a 28×28 Fashion-MNIST garment read **top to bottom, one row
of 28 pixels per step**. After the 28th row, the memory is all the network knows about the garment, and a
linear layer turns it into one of 10 classes.

In this lesson you will
1. load the data and look at it;
2. build the 394-parameter network of the course and see where each parameter lives;
3. train it with a validation split, plot its learning curves and read its predictions;
4. watch how its guess changes row by row — something the course never shows;
5. see how far the *same* 394 parameters go when trained well, and what stacking recurrent layers buys.

""" + CREDIT["en"],
       """# 01 — Redes recurrentes simples que leen una prenda

Una red recurrente lee una secuencia paso a paso y lleva una memoria, su *estado oculto*, de un paso al
siguiente. Aquí la secuencia es una imagen: una prenda de Fashion-MNIST de 28×28 leída **de arriba abajo, una
fila de 28 píxeles en cada paso**. Tras la fila 28, esa memoria es todo lo que la red sabe de la prenda, y una
capa lineal la convierte en una de 10 clases.

En esta lección vas a
1. cargar los datos y mirarlos;
2. construir la red de 394 parámetros del curso y ver dónde vive cada parámetro;
3. entrenarla con una partición de validación, dibujar sus curvas de aprendizaje y leer sus predicciones;
4. ver cómo cambia su respuesta fila a fila, algo que el curso nunca enseña;
5. comprobar hasta dónde llegan *los mismos* 394 parámetros bien entrenados, y qué aporta apilar capas recurrentes.

""" + CREDIT["es"]),
    code(INSTALL),
    code('''%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

import rowrnn as utils   # the course calls its helpers `utils`: rowrnn keeps their names'''),
    md("""Everything that decides how long the lesson takes is in the next cell.""",
       """Todo lo que decide cuánto dura la lección está en la celda siguiente."""),
    params('''BATCH_SIZE = 1024      # as in the course
TRAIN_EPOCHS = 25      # as in the course: about 10 seconds on a laptop CPU
TINY_EPOCHS = 60       # the tiny preset trains 150; 60 already show the difference (about 2 minutes)
STACKED_EPOCHS = 25''',
           quick={"TRAIN_EPOCHS": 1, "TINY_EPOCHS": 1, "STACKED_EPOCHS": 1}),
    md("""## The data

`utils.FashionMNIST` finds the 60,000 training and 10,000 test images (a local copy, Debian's package, or a
download), checks them, and gives each image as the course's transform does: a `(1, 28, 28)` tensor scaled
to [-1, 1].""",
       """## Los datos

`utils.FashionMNIST` encuentra las 60.000 imágenes de entrenamiento y las 10.000 de test (una copia local, el
paquete de Debian o una descarga), las comprueba y entrega cada imagen como la transformación del curso: un
tensor `(1, 28, 28)` escalado a [-1, 1]."""),
    code('''train_set = utils.FashionMNIST(train=True)
test_set = utils.FashionMNIST(train=False)
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
test_loader = DataLoader(test_set, batch_size=BATCH_SIZE)

image, label = train_set[0]
print(len(train_set), "training images,", len(test_set), "test images; one image:", tuple(image.shape),
      "values from", image.min().item(), "to", image.max().item())'''),
    code('''fig, axes = plt.subplots(2, 8, figsize=(14, 4))
for ax, i in zip(axes.flat, range(16)):
    ax.imshow(test_set.images[i], cmap="gray")
    ax.set_title(utils.CLASSES[test_set.labels[i]], fontsize=9)
    ax.axis("off")'''),
    md("""## The network: 394 parameters

`nn.RNN(28 → 8)` reads the 28 rows; at every step it mixes the new row with its 8-number memory,
h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh). Only the memory after the last row goes on, through
`Linear(8 → 10)`. This is the course's class, as it writes it:""",
       """## La red: 394 parámetros

`nn.RNN(28 → 8)` lee las 28 filas; en cada paso mezcla la fila nueva con su memoria de 8 números,
h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh). Solo la memoria tras la última fila sigue adelante, a través
de `Linear(8 → 10)`. Esta es la clase del curso, tal como la escribe:"""),
    code('''class RNNModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(input_size=28, hidden_size=8, batch_first=True)
        self.fc = torch.nn.Linear(in_features=8, out_features=10)

    def forward(self, x):
        out, _ = self.rnn(x.squeeze(1))   # (batch, 28 rows, 28 pixels) -> (batch, 28 steps, 8)
        return self.fc(out[:, -1, :])     # the memory after the last row -> 10 scores

torch.manual_seed(0)
model = RNNModel()
pd.DataFrame(utils.parameter_table(model), columns=["weight", "shape", "parameters", "what it is"])'''),
    md("""224 + 64 + 8 + 8 numbers belong to the recurrence and 90 to the head: **394** in all. (The course's
`torchsummary` reports 90 because it does not count the RNN's weights; `rowrnn summary --verbose` prints this
table from the terminal.)""",
       """224 + 64 + 8 + 8 números pertenecen a la recurrencia y 90 a la cabeza: **394** en total. (El
`torchsummary` del curso dice 90 porque no cuenta los pesos de la RNN; `rowrnn summary --verbose` imprime esta
tabla desde la terminal.)"""),
    md("""## Training with a validation split

`utils.train` is the course's helper: it holds back 10 % of the training images to validate each epoch, and
returns the history. The metric is torchmetrics' `MulticlassAccuracy`, which by default averages the accuracy
of each class (*macro* accuracy). On a GPU the model trains there and comes back to where it was, so the
cells below work unchanged.""",
       """## Entrenar con una partición de validación

`utils.train` es la función auxiliar del curso: aparta el 10 % de las imágenes de entrenamiento para validar
cada época y devuelve el historial. La métrica es `MulticlassAccuracy` de torchmetrics, que por defecto
promedia la exactitud de cada clase (exactitud *macro*). En una GPU el modelo se entrena allí y vuelve a donde
estaba, así que las celdas siguientes funcionan sin cambios."""),
    code('''history = utils.train(model, train_loader, TRAIN_EPOCHS, torch.nn.CrossEntropyLoss(),
                      torch.optim.Adam(model.parameters(), lr=1e-3), validation_split=0.1,
                      metric_fn=MulticlassAccuracy(num_classes=10), verbose=False, seed=0)
pd.DataFrame(history).plot(logy=True, xlabel="Epoch num.", figsize=(7, 4))
plt.show()'''),
    code('''result = utils.evaluate(model=model, data_loader=test_loader, criterion=torch.nn.CrossEntropyLoss(),
                        metric_fn=MulticlassAccuracy(num_classes=10))
print(f"test: loss {result['loss']:.3f}, macro accuracy {result['metric']:.3f}")'''),
    md("""About 0.6 after 25 epochs — and the curves are still going down: this network is far from done. The
course's grid of predictions, with the names of the classes (green: right, red: wrong):""",
       """Alrededor de 0,6 tras 25 épocas, y las curvas siguen bajando: a esta red le queda mucho. La rejilla de
predicciones del curso, con los nombres de las clases (verde: acierto, rojo: fallo):"""),
    code('''images = torch.stack([test_set[i][0] for i in range(25)])
model.eval()
with torch.no_grad():
    predictions = model(images).argmax(dim=1)
utils.plots.plot_predictions(test_set.images[:25], test_set.labels[:25], predictions)
plt.show()'''),
    md("""## Watching it read, row by row

What does the network think after 5 rows? After 15? rowrnn's `RNNClassifier()` *is* the course's model
(same layers, same parameter names), so the trained weights move into it unchanged — and it can answer
that: `step_probabilities` runs the network on the first t rows only, for every t.""",
       """## Verla leer, fila a fila

¿Qué piensa la red tras 5 filas? ¿Y tras 15? `RNNClassifier()` de rowrnn *es* el modelo del curso (mismas
capas, mismos nombres de parámetros), así que los pesos entrenados pasan a él sin cambios, y puede
responderlo: `step_probabilities` ejecuta la red solo sobre las t primeras filas, para cada t."""),
    code('''reader = utils.RNNClassifier()
reader.load_state_dict(model.state_dict())
probabilities = reader.step_probabilities(images[:4])        # (4 images, 28 steps, 10 classes)
utils.plots.plot_reading(test_set.images[:4], probabilities, labels=test_set.labels[:4])
plt.show()'''),
    md("""Each row of a heat map is the answer after that many rows. A trouser looks like a dress until its
legs part. The boot is a sandal or a sneaker over its first, black rows, a coat halfway down, and a boot only
when the sole comes. The network changes its mind as it reads —
and it never looks back: everything it keeps of row 3 must survive 25 more steps in 8 numbers.""",
       """Cada fila de un mapa es la respuesta tras ese número de filas. Un pantalón parece un vestido hasta que
se separan las perneras. El botín es una sandalia o una zapatilla en sus primeras filas, negras, un abrigo a
media altura, y un botín solo cuando llega la suela. La red cambia de
opinión mientras lee, y nunca vuelve atrás: lo que guarde de la fila 3 debe sobrevivir 25 pasos más en 8 números."""),
    md("""## Watch it read, in the notebook

`utils.show_reading` shows the same reading as a widget you can play with: drag the slider (or press play)
and watch the rows light up, the bars of the current guess move, and the memory h_t fill in. Click a step to
see the recurrence with its numbers; the strip beside the image says which rows decided. Where widgets cannot
run (this notebook viewed on GitHub), the cell shows a picture of the end of the reading instead.""",
       """## Verla leer, en el cuaderno

`utils.show_reading` muestra la misma lectura como un widget con el que jugar: arrastra el deslizador (o pulsa
reproducir) y mira cómo se iluminan las filas, se mueven las barras de la respuesta del momento y se llena la
memoria h_t. Haz clic en un paso para ver la recurrencia con sus números; la franja junto a la imagen dice qué
filas decidieron. Donde los widgets no funcionan (este cuaderno visto en GitHub), la celda muestra en su lugar
una imagen del final de la lectura."""),
    code('''utils.show_reading(reader, 0, language="en")   # test image 0: the ankle boot'''),
    md("""## The same 394 parameters, trained well

The `tiny` preset keeps this exact budget and changes three things, each chosen on the validation split:
a ReLU recurrence, the *maximum* of the memory over all steps instead of its last value (so an early row is
not forgotten), and a longer one-cycle schedule with AdamW and gradient clipping. `utils.fit` trains a new run
directory (`runs/<time>-tiny`, so running the cell again never overwrites one) and reads the test split once
at the end.""",
       """## Los mismos 394 parámetros, bien entrenados

El preset `tiny` mantiene exactamente ese presupuesto y cambia tres cosas, elegidas sobre la partición de
validación: una recurrencia ReLU, el *máximo* de la memoria sobre todos los pasos en vez de su último valor (así
no se olvida una fila temprana) y un programa one-cycle más largo con AdamW y recorte del gradiente.
`utils.fit` entrena un directorio de ejecución nuevo (`runs/<hora>-tiny`, así que volver a ejecutar la celda
nunca sobrescribe otro) y lee el test una sola vez al final."""),
    code('''tiny = utils.fit(utils.build_config("tiny", {"epochs": TINY_EPOCHS}))
print(f"tiny, {TINY_EPOCHS} epochs: test accuracy {tiny.metrics['accuracy']:.3f} "
      f"with {utils.count_parameters(utils.load_model(tiny.path)[0])} parameters")'''),
    md("""## Stacking recurrent layers

The course's second objective: put two or more RNNs one on top of the other, each reading the sequence of
memories of the one below. With 8 units a layer, each extra layer adds 144 parameters:""",
       """## Apilar capas recurrentes

El segundo objetivo del curso: poner dos o más RNN una encima de otra, cada una leyendo la secuencia de
memorias de la de abajo. Con 8 unidades por capa, cada capa más añade 144 parámetros:"""),
    code('''scores = []
for layers in (1, 2, 3):
    torch.manual_seed(0)
    stacked = utils.RNNClassifier(num_layers=layers)
    utils.train(stacked, train_loader, STACKED_EPOCHS, torch.nn.CrossEntropyLoss(),
                torch.optim.Adam(stacked.parameters(), lr=1e-3), verbose=False, seed=0)
    test = utils.evaluate(model=stacked, data_loader=test_loader, criterion=torch.nn.CrossEntropyLoss(),
                          metric_fn=MulticlassAccuracy(num_classes=10))
    scores.append({"layers": layers, "parameters": utils.count_parameters(stacked),
                   "test macro accuracy": round(test["metric"], 3)})
pd.DataFrame(scores)'''),
    md("""Stacking does not help here: after 25 epochs, two and three layers score no better than one, and over
three seeds the sequel's three-layer network scores anywhere from 0.55 to 0.70 (the leaderboard in `results/`). Depth does not fix the real problem — the last-step readout
and a short, plain training — while `tiny` does, with no extra parameter at all.

**What to take away.** A recurrent network is a loop with a memory; how it *reads* (the order, what it keeps
of each step) and how it is *trained* matter as much as its size. Next: lesson 02 opens the loop.""",
       """Apilar no ayuda aquí: tras 25 épocas, dos y tres capas no superan a una, y con tres semillas la red de tres
capas de la continuación del curso obtiene cualquier cosa entre 0,55 y 0,70 (la clasificación en `results/`). La profundidad no arregla el problema de fondo
(quedarse solo con el último paso y un entrenamiento corto y sencillo), mientras que `tiny` sí, sin ningún
parámetro extra.

**Para quedarse.** Una red recurrente es un bucle con memoria; cómo *lee* (el orden, qué guarda de cada paso) y
cómo se *entrena* importan tanto como su tamaño. Siguiente: la lección 02 abre el bucle."""),
    md("""## Share it: the reading as a web page

`build_site` writes the page `rowrnn serve` shows (draw a garment, upload a photo, watch it read row by row)
as a folder of plain files: the network runs in the visitor's browser (onnxruntime-web, fetched once from the
npm registry and kept in the cache), so the folder can be published anywhere (GitHub Pages, a department web
space) and shared as a link. A photo never leaves the visitor's device.""",
       """## Compártelo: la lectura como página web

`build_site` escribe la página que muestra `rowrnn serve` (dibuja una prenda, sube una foto, mira cómo la lee
fila a fila) como una carpeta de ficheros normales: la red se ejecuta en el navegador de quien la visita
(onnxruntime-web, descargado una vez del registro de npm y guardado en la caché), así que la carpeta se puede
publicar en cualquier sitio (GitHub Pages, el espacio web de un departamento) y compartir con un enlace. Una foto
nunca sale del dispositivo de quien la visita."""),
    code('''from pathlib import Path
from rowrnn.site import build_site, runtime_dir

try:
    runtime_dir()             # onnxruntime-web: from the npm registry the first time, then from the cache
    import onnx, onnxruntime  # noqa: F401  (the export needs them: pip install 'rowrnn[onnx]')
except (utils.RowrnnError, ImportError) as error:   # offline the first time: the lesson ends without a site
    print(f"no site this time: {error}")
else:
    Path("sites").mkdir(exist_ok=True)
    site = build_site([tiny.path], Path("sites") / tiny.path.name)
    print(f"the site of {tiny.path.name} is in {site['path']}/: try it with "
          f"python -m http.server -d {site['path']} and open http://127.0.0.1:8000/")'''),
]

SPANISH = {
    "# onnxruntime-web: from the npm registry the first time, then from the cache":
        "# onnxruntime-web: del registro de npm la primera vez, después de la caché",
    "# noqa: F401  (the export needs them: pip install 'rowrnn[onnx]')":
        "# noqa: F401  (la exportación los necesita: pip install 'rowrnn[onnx]')",
    "# offline the first time: the lesson ends without a site":
        "# sin conexión la primera vez: la lección termina sin sitio",
    'f"no site this time: {error}"': 'f"esta vez no hay sitio: {error}"',
    "f\"the site of {tiny.path.name} is in {site['path']}/: try it with \"":
        "f\"el sitio de {tiny.path.name} está en {site['path']}/: pruébalo con \"",
    "and open http://127.0.0.1:8000/\"": "y abre http://127.0.0.1:8000/\"",
    'utils.show_reading(reader, 0, language="en")   # test image 0: the ankle boot':
        'utils.show_reading(reader, 0, language="es")   # imagen de test 0: el botín',
    "# the course calls its helpers `utils`: rowrnn keeps their names":
        "# el curso llama `utils` a sus utilidades: rowrnn conserva sus nombres",
    "# as in the course: about 10 seconds on a laptop CPU": "# como en el curso: unos 10 segundos en la CPU de un portátil",
    "# as in the course": "# como en el curso",
    "# the tiny preset trains 150; 60 already show the difference (about 2 minutes)":
        "# el preset tiny entrena 150; con 60 ya se ve la diferencia (unos 2 minutos)",
    '"training images,", len(test_set), "test images; one image:"':
        '"imágenes de entrenamiento,", len(test_set), "de test; una imagen:"',
    '"values from", image.min().item(), "to"': '"valores de", image.min().item(), "a"',
    "fig, axes = plt.subplots(2, 8,": CLASES + "\nfig, axes = plt.subplots(2, 8,",
    "ax.set_title(utils.CLASSES[": "ax.set_title(CLASES[",
    "# (batch, 28 rows, 28 pixels) -> (batch, 28 steps, 8)": "# (lote, 28 filas, 28 píxeles) -> (lote, 28 pasos, 8)",
    "# the memory after the last row -> 10 scores": "# la memoria tras la última fila -> 10 puntuaciones",
    'columns=["weight", "shape", "parameters", "what it is"]':
        'columns=["peso", "forma", "parámetros", "qué es (en inglés)"]',
    "test: loss {result['loss']:.3f}, macro accuracy": "test: pérdida {result['loss']:.3f}, exactitud macro",
    "test_set.labels[:25], predictions)": 'test_set.labels[:25], predictions, classes=CLASES, language="es")',
    "# (4 images, 28 steps, 10 classes)": "# (4 imágenes, 28 pasos, 10 clases)",
    "probabilities, labels=": 'probabilities, classes=CLASES, language="es", labels=',
    "{TINY_EPOCHS} epochs: test accuracy": "{TINY_EPOCHS} épocas: exactitud en test",
    ')[0])} parameters")': ')[0])} parámetros")',
    'f"with {utils': 'f"con {utils',
    '{"layers": layers, "parameters":': '{"capas": layers, "parámetros":',
    '"test macro accuracy":': '"exactitud macro en test":',
}
