"""The lessons, written once: every notebook in English and Spanish, built from the same cells.

    python notebooks/build.py              # (re)write notebooks/en/*.ipynb and notebooks/es/*.ipynb, no outputs
    python notebooks/build.py --execute    # and run each top to bottom in a fresh kernel, keeping the outputs
    python notebooks/build.py --keep-outputs   # new sources, the committed outputs of cells whose output they keep

Each notebook has one cell of constants tagged "parameters" (its epochs). Quick runs
(CI: ROWRNN_NOTEBOOKS=quick) insert a cell right after it with the small values stored in that cell's
metadata, so a learner's code is never changed to make a test fast.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The install cell asks for an installed rowrnn *distribution* and the modules the lessons import (its
# notebooks extra included): a folder named rowrnn in the working directory (a git clone) is not one.
INSTALL = '''import importlib.metadata, importlib.util, subprocess, sys

def installed(modules):
    try:  # an installed rowrnn, not just a folder named rowrnn (a git clone) next to this notebook
        importlib.metadata.distribution("rowrnn")
    except importlib.metadata.PackageNotFoundError:
        return False
    return all(importlib.util.find_spec(name) is not None for name in modules)

if not installed(["rowrnn.compare", "rowrnn.plots", "pandas", "torchmetrics"]):  # Colab, or a fresh environment
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "rowrnn[notebooks] @ git+https://github.com/rowrnn/rowrnn"])
    importlib.invalidate_caches()'''
CREDIT = {
    "en": ("The exercise comes from the notebook *Redes recurrentes — Implementando redes recurrentes simples* of "
           "the deep-learning course materials of the ETSISI, Universidad Politécnica de Madrid "
           "([github.com/blazaid/aprendizaje-profundo](https://github.com/blazaid/aprendizaje-profundo), licence "
           "CC BY-NC-SA). This lesson is written anew for rowrnn and shares no text with it."),
    "es": ("El ejercicio procede del cuaderno *Redes recurrentes — Implementando redes recurrentes simples* de los "
           "materiales del curso de aprendizaje profundo de la ETSISI, Universidad Politécnica de Madrid "
           "([github.com/blazaid/aprendizaje-profundo](https://github.com/blazaid/aprendizaje-profundo), licencia "
           "CC BY-NC-SA). Esta lección está escrita de nuevo para rowrnn y no comparte texto con él."),
}


# comments in code cells shared by both languages, as the Spanish notebooks say them
COMMENTS_ES = {
    "# Colab, or a fresh environment": "# Colab, o un entorno nuevo",
    "# an installed rowrnn, not just a folder named rowrnn (a git clone) next to this notebook":
        "# un rowrnn instalado, no solo una carpeta llamada rowrnn (un git clone) junto a este cuaderno",
    "# the course calls its helpers `utils`: rowrnn keeps their names":
        "# el curso llama `utils` a sus utilidades: rowrnn conserva sus nombres",
    "# (1, 1, 28, 28): an ankle boot": "# (1, 1, 28, 28): un botín",
    "# shipped with rowrnn: no download, works offline": "# viene con rowrnn: sin descargas, funciona sin conexión",
    "# (28 steps, 8 units)": "# (28 pasos, 8 unidades)",
}


def md(en, es):
    return ("markdown", {"en": en, "es": es})


def code(source, es=None):
    return ("code", {"en": source, "es": es if es is not None else source})


def params(source, quick, es=None):
    return ("parameters", {"en": source, "es": es if es is not None else source}, quick)


# ----------------------------------------------------------------------------- 01: simple recurrent networks

LESSON_01 = [
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
    md("Everything that decides how long the lesson takes is in the next cell.",
       "Todo lo que decide cuánto dura la lección está en la celda siguiente."),
    params('''BATCH_SIZE = 1024      # as in the course
TRAIN_EPOCHS = 25      # as in the course: about 10 seconds on a laptop CPU
TINY_EPOCHS = 60       # the tiny preset trains 150; 60 already show the difference (about 2 minutes)
STACKED_EPOCHS = 25''',
           {"TRAIN_EPOCHS": 1, "TINY_EPOCHS": 1, "STACKED_EPOCHS": 1},
           es='''BATCH_SIZE = 1024      # como en el curso
TRAIN_EPOCHS = 25      # como en el curso: unos 10 segundos en la CPU de un portátil
TINY_EPOCHS = 60       # el preset tiny entrena 150; con 60 ya se ve la diferencia (unos 2 minutos)
STACKED_EPOCHS = 25'''),
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
      "values from", image.min().item(), "to", image.max().item())''',
         es='''train_set = utils.FashionMNIST(train=True)
test_set = utils.FashionMNIST(train=False)
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
test_loader = DataLoader(test_set, batch_size=BATCH_SIZE)

image, label = train_set[0]
print(len(train_set), "imágenes de entrenamiento,", len(test_set), "de test; una imagen:", tuple(image.shape),
      "valores de", image.min().item(), "a", image.max().item())'''),
    code('''fig, axes = plt.subplots(2, 8, figsize=(14, 4))
for ax, i in zip(axes.flat, range(16)):
    ax.imshow(test_set.images[i], cmap="gray")
    ax.set_title(utils.CLASSES[test_set.labels[i]], fontsize=9)
    ax.axis("off")''',
         es='''CLASES = ["Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo",
          "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín"]   # utils.CLASSES, en español
fig, axes = plt.subplots(2, 8, figsize=(14, 4))
for ax, i in zip(axes.flat, range(16)):
    ax.imshow(test_set.images[i], cmap="gray")
    ax.set_title(CLASES[test_set.labels[i]], fontsize=9)
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
pd.DataFrame(utils.parameter_table(model), columns=["weight", "shape", "parameters", "what it is"])''',
         es='''class RNNModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(input_size=28, hidden_size=8, batch_first=True)
        self.fc = torch.nn.Linear(in_features=8, out_features=10)

    def forward(self, x):
        out, _ = self.rnn(x.squeeze(1))   # (lote, 28 filas, 28 píxeles) -> (lote, 28 pasos, 8)
        return self.fc(out[:, -1, :])     # la memoria tras la última fila -> 10 puntuaciones

torch.manual_seed(0)
model = RNNModel()
pd.DataFrame(utils.parameter_table(model), columns=["peso", "forma", "parámetros", "qué es (en inglés)"])'''),
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
print(f"test: loss {result['loss']:.3f}, macro accuracy {result['metric']:.3f}")''',
         es='''result = utils.evaluate(model=model, data_loader=test_loader, criterion=torch.nn.CrossEntropyLoss(),
                        metric_fn=MulticlassAccuracy(num_classes=10))
print(f"test: pérdida {result['loss']:.3f}, exactitud macro {result['metric']:.3f}")'''),
    md("""About 0.6 after 25 epochs — and the curves are still going down: this network is far from done. The
course's grid of predictions, with the names of the classes (green: right, red: wrong):""",
       """Alrededor de 0,6 tras 25 épocas, y las curvas siguen bajando: a esta red le queda mucho. La rejilla de
predicciones del curso, con los nombres de las clases (verde: acierto, rojo: fallo):"""),
    code('''images = torch.stack([test_set[i][0] for i in range(25)])
model.eval()
with torch.no_grad():
    predictions = model(images).argmax(dim=1)
utils.plots.plot_predictions(test_set.images[:25], test_set.labels[:25], predictions)
plt.show()''',
         es='''images = torch.stack([test_set[i][0] for i in range(25)])
model.eval()
with torch.no_grad():
    predictions = model(images).argmax(dim=1)
utils.plots.plot_predictions(test_set.images[:25], test_set.labels[:25], predictions, classes=CLASES)
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
plt.show()''',
         es='''reader = utils.RNNClassifier()
reader.load_state_dict(model.state_dict())
probabilities = reader.step_probabilities(images[:4])        # (4 imágenes, 28 pasos, 10 clases)
utils.plots.plot_reading(test_set.images[:4], probabilities, classes=CLASES, labels=test_set.labels[:4])
plt.show()'''),
    md("""Each row of a heat map is the answer after that many rows. A trouser looks like a dress until its
legs part. The boot is a sandal or a sneaker over its first, black rows, a coat halfway down, and a boot only
when the sole comes. The network changes its mind as it reads —
and it never looks back: everything it keeps of row 3 must survive 25 more steps in 8 numbers.""",
       """Cada fila de un mapa es la respuesta tras ese número de filas. Un pantalón parece un vestido hasta que
se separan las perneras. El botín es una sandalia o una zapatilla en sus primeras filas, negras, un abrigo a
media altura, y un botín solo cuando llega la suela. La red cambia de
opinión mientras lee, y nunca vuelve atrás: lo que guarde de la fila 3 debe sobrevivir 25 pasos más en 8 números."""),
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
      f"with {utils.count_parameters(utils.load_model(tiny.path)[0])} parameters")''',
         es='''tiny = utils.fit(utils.build_config("tiny", {"epochs": TINY_EPOCHS}))
print(f"tiny, {TINY_EPOCHS} épocas: exactitud en test {tiny.metrics['accuracy']:.3f} "
      f"con {utils.count_parameters(utils.load_model(tiny.path)[0])} parámetros")'''),
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
pd.DataFrame(scores)''',
         es='''scores = []
for layers in (1, 2, 3):
    torch.manual_seed(0)
    stacked = utils.RNNClassifier(num_layers=layers)
    utils.train(stacked, train_loader, STACKED_EPOCHS, torch.nn.CrossEntropyLoss(),
                torch.optim.Adam(stacked.parameters(), lr=1e-3), verbose=False, seed=0)
    test = utils.evaluate(model=stacked, data_loader=test_loader, criterion=torch.nn.CrossEntropyLoss(),
                          metric_fn=MulticlassAccuracy(num_classes=10))
    scores.append({"capas": layers, "parámetros": utils.count_parameters(stacked),
                   "exactitud macro en test": round(test["metric"], 3)})
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
]


# ----------------------------------------------------------------------------- 02: inside the recurrence

LESSON_02 = [
    md("""# 02 — Inside the recurrence

Lesson 01 used `nn.RNN` as a black box. Here we open it: write the recurrence by hand and check it against
PyTorch, watch the hidden state of one image while it is read, follow the guess row by row, see why
gradients fade over long sequences, and what the gates of a GRU or an LSTM change.

""" + CREDIT["en"],
       """# 02 — Dentro de la recurrencia

La lección 01 usó `nn.RNN` como una caja negra. Aquí la abrimos: escribimos la recurrencia a mano y la
comprobamos contra PyTorch, miramos el estado oculto de una imagen mientras se lee, seguimos la respuesta fila
a fila, vemos por qué los gradientes se apagan en secuencias largas y qué cambian las puertas de una GRU o una
LSTM.

""" + CREDIT["es"]),
    code(INSTALL),
    code('''%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

import rowrnn as utils'''),
    params('''TRAIN_EPOCHS = 25      # each training below takes from 10 to 30 seconds on a laptop CPU
BATCH_SIZE = 1024''', {"TRAIN_EPOCHS": 1},
           es='''TRAIN_EPOCHS = 25      # cada entrenamiento de abajo tarda de 10 a 30 segundos en la CPU de un portátil
BATCH_SIZE = 1024'''),
    md("""## The Elman cell, written out

The course draws the simple recurrent unit as *the previous output concatenated with the input*:
h_t = tanh(W · [x_t ; h_{t−1}] + b). `utils.ElmanRNN` is that line of algebra as code, with `nn.RNN`'s
parameter names (W is `[weight_ih | weight_hh]`, b is `bias_ih + bias_hh`). Give both the same weights and
they compute the same thing:""",
       """## La celda de Elman, escrita a mano

El curso dibuja la unidad recurrente simple como *la salida anterior concatenada con la entrada*:
h_t = tanh(W · [x_t ; h_{t−1}] + b). `utils.ElmanRNN` es esa línea de álgebra hecha código, con los nombres de
parámetros de `nn.RNN` (W es `[weight_ih | weight_hh]`, b es `bias_ih + bias_hh`). Con los mismos pesos, las
dos calculan lo mismo:"""),
    code('''torch.manual_seed(0)
pytorch_rnn = torch.nn.RNN(28, 8, batch_first=True)
elman = utils.ElmanRNN(28, 8)
elman.load_state_dict(pytorch_rnn.state_dict())

x = torch.randn(5, 28, 28)                         # 5 sequences of 28 steps of 28 numbers
out_pytorch, _ = pytorch_rnn(x)
out_elman, _ = elman(x)
print("largest difference:", (out_pytorch - out_elman).abs().max().item())''',
         es='''torch.manual_seed(0)
pytorch_rnn = torch.nn.RNN(28, 8, batch_first=True)
elman = utils.ElmanRNN(28, 8)
elman.load_state_dict(pytorch_rnn.state_dict())

x = torch.randn(5, 28, 28)                         # 5 secuencias de 28 pasos de 28 números
out_pytorch, _ = pytorch_rnn(x)
out_elman, _ = elman(x)
print("mayor diferencia:", (out_pytorch - out_elman).abs().max().item())'''),
    md("""And the loop itself, four lines, in the notebook — the whole of a recurrent layer:""",
       """Y el propio bucle, cuatro líneas, en el cuaderno: una capa recurrente entera:"""),
    code('''W = torch.cat([pytorch_rnn.weight_ih_l0, pytorch_rnn.weight_hh_l0], dim=1)   # (8, 28 + 8)
b = pytorch_rnn.bias_ih_l0 + pytorch_rnn.bias_hh_l0
h = torch.zeros(5, 8)
for t in range(28):
    h = torch.tanh(torch.cat([x[:, t], h], dim=1) @ W.T + b)
print("the loop's last memory equals nn.RNN's:", torch.allclose(h, out_pytorch[:, -1], atol=1e-6))''',
         es='''W = torch.cat([pytorch_rnn.weight_ih_l0, pytorch_rnn.weight_hh_l0], dim=1)   # (8, 28 + 8)
b = pytorch_rnn.bias_ih_l0 + pytorch_rnn.bias_hh_l0
h = torch.zeros(5, 8)
for t in range(28):
    h = torch.tanh(torch.cat([x[:, t], h], dim=1) @ W.T + b)
print("la última memoria del bucle es la de nn.RNN:", torch.allclose(h, out_pytorch[:, -1], atol=1e-6))'''),
    md("""## The hidden state of one image, while it is read

Train the course's network (as in lesson 01), then look at its memory h_t after each row of one garment:
a 28 × 8 map, one row per step.""",
       """## El estado oculto de una imagen mientras se lee

Entrenamos la red del curso (como en la lección 01) y miramos su memoria h_t tras cada fila de una prenda:
un mapa de 28 × 8, una fila por paso."""),
    code('''train_set, test_set = utils.FashionMNIST(train=True), utils.FashionMNIST(train=False)
train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)

def trained(model):
    torch.manual_seed(0)
    utils.train(model, train_loader, TRAIN_EPOCHS, torch.nn.CrossEntropyLoss(),
                torch.optim.Adam(model.parameters(), lr=1e-3), validation_split=0.1,
                metric_fn=MulticlassAccuracy(num_classes=10), verbose=False, seed=0)
    return model.eval()

torch.manual_seed(0)
rnn = trained(utils.RNNClassifier())
image = test_set[0][0].unsqueeze(0)                  # (1, 1, 28, 28): an ankle boot
with torch.no_grad():
    states = rnn.hidden_states(image)[0]             # (28 steps, 8 units)
utils.plots.plot_hidden_states(test_set.images[0], states, label=test_set.labels[0])
plt.show()'''),
    md("""Rows 1–7 are black: in those steps the memory only settles to where an empty row drives it. It changes
sharply where the boot begins, at row 8, and keeps changing until the sole. Most units spend long stretches
near ±1 (tanh's limits): with only 8 numbers, each one carries a coarse fact. The guess formed from those
memories, step by step:""",
       """Las filas 1–7 son negras: en esos pasos la memoria solo se asienta donde la lleva una fila vacía. Cambia de
golpe donde empieza la bota, en la fila 8, y sigue cambiando hasta la suela. Casi todas las unidades pasan
largos tramos cerca de ±1 (los límites de tanh): con solo 8 números, cada una guarda un dato grueso. La
respuesta que sale de esas memorias, paso a paso:"""),
    code('''probabilities = rnn.step_probabilities(image)[0]    # (28 steps, 10 classes)
table = pd.DataFrame(probabilities.numpy(), columns=utils.CLASSES, index=range(1, 29)).round(2)
table.iloc[[4, 9, 14, 19, 24, 27]]''',
         es='''probabilities = rnn.step_probabilities(image)[0]    # (28 pasos, 10 clases)
CLASES = ["Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo",
          "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín"]
table = pd.DataFrame(probabilities.numpy(), columns=CLASES, index=range(1, 29)).round(2)
table.iloc[[4, 9, 14, 19, 24, 27]]'''),
    md("""## Why gradients fade over long sequences

To learn, the loss at the end must send a signal back to every step. How much of it reaches row t? Below, the
size of the gradient of the loss with respect to each step's input, for an untrained tanh RNN reading the image
as 28 rows, and the same network reading it as 784 single pixels (the "sequential MNIST" task). Each step back
multiplies the signal by the recurrent weights and tanh's slope — less than 1, so it shrinks geometrically.""",
       """## Por qué los gradientes se apagan en secuencias largas

Para aprender, la pérdida del final tiene que mandar una señal a cada paso. ¿Cuánta llega a la fila t? Abajo,
el tamaño del gradiente de la pérdida respecto a la entrada de cada paso, para una RNN tanh sin entrenar que lee
la imagen como 28 filas, y la misma leyéndola como 784 píxeles sueltos (la tarea "MNIST secuencial"). Cada paso
hacia atrás multiplica la señal por los pesos recurrentes y la pendiente de tanh, menores que 1: se encoge
geométricamente."""),
    code('''def gradient_per_step(model, images, labels):
    """|dLoss/dx_t| for every step t, averaged over the images."""
    sequence = model.sequences(images)[0].detach().requires_grad_(True)   # (B, T, features)
    out, _ = model.rnn(sequence)
    loss = torch.nn.functional.cross_entropy(model.fc(out[:, -1]), labels)   # the last memory, as in 01
    loss.backward()
    return sequence.grad.norm(dim=2).mean(dim=0)                          # (T,)

images = torch.stack([test_set[i][0] for i in range(64)])
labels = test_set.labels[:64]
fig, ax = plt.subplots(figsize=(8, 4))
for read in ("rows", "pixels"):
    torch.manual_seed(0)
    g = gradient_per_step(utils.RNNClassifier(read=read, hidden_size=32), images, labels)
    ax.plot(torch.linspace(0, 1, len(g)), g, label=f"{read}: {len(g)} steps")
ax.set(yscale="log", xlabel="position in the sequence (0 = first step, 1 = last)",
       ylabel="gradient size reaching that step", title="An untrained tanh RNN")
ax.legend()
plt.show()''',
         es='''def gradient_per_step(model, images, labels):
    """|dPérdida/dx_t| para cada paso t, promediado sobre las imágenes."""
    sequence = model.sequences(images)[0].detach().requires_grad_(True)   # (B, T, rasgos)
    out, _ = model.rnn(sequence)
    loss = torch.nn.functional.cross_entropy(model.fc(out[:, -1]), labels)   # la última memoria, como en 01
    loss.backward()
    return sequence.grad.norm(dim=2).mean(dim=0)                          # (T,)

images = torch.stack([test_set[i][0] for i in range(64)])
labels = test_set.labels[:64]
fig, ax = plt.subplots(figsize=(8, 4))
for read in ("rows", "pixels"):
    torch.manual_seed(0)
    g = gradient_per_step(utils.RNNClassifier(read=read, hidden_size=32), images, labels)
    ax.plot(torch.linspace(0, 1, len(g)), g, label=f"{read}: {len(g)} pasos")
ax.set(yscale="log", xlabel="posición en la secuencia (0 = primer paso, 1 = último)",
       ylabel="tamaño del gradiente que llega", title="Una RNN tanh sin entrenar")
ax.legend()
plt.show()'''),
    md("""Over 28 steps the signal loses about six orders of magnitude; over 784 it vanishes entirely long before
the first pixels: a plain RNN cannot learn what the top of the image says when it reads pixel by pixel.

## What gates change

A GRU and an LSTM add *gates*: small learned switches that decide, at every step, how much of the memory to
keep and how much to overwrite. When a gate keeps the memory, the gradient passes through almost untouched.
The same measurement for the three cells, on pixels:""",
       """En 28 pasos la señal pierde unos seis órdenes de magnitud; en 784 desaparece mucho antes de los
primeros píxeles: una RNN simple no puede aprender lo que dice la parte de arriba de la imagen si la lee píxel a
píxel.

## Qué cambian las puertas

Una GRU y una LSTM añaden *puertas*: pequeños interruptores aprendidos que deciden, en cada paso, cuánta memoria
conservar y cuánta sobrescribir. Cuando una puerta conserva la memoria, el gradiente pasa casi intacto. La misma
medida para las tres celdas, leyendo píxeles:"""),
    code('''fig, ax = plt.subplots(figsize=(8, 4))
for cell in ("rnn", "gru", "lstm"):
    torch.manual_seed(0)
    g = gradient_per_step(utils.RNNClassifier(cell=cell, read="pixels", hidden_size=32), images, labels)
    ax.plot(g, label=cell)
ax.set(yscale="log", xlabel="pixel read (step)", ylabel="gradient size reaching that step",
       title="784 steps: untrained cells")
ax.legend()
plt.show()''',
         es='''fig, ax = plt.subplots(figsize=(8, 4))
for cell in ("rnn", "gru", "lstm"):
    torch.manual_seed(0)
    g = gradient_per_step(utils.RNNClassifier(cell=cell, read="pixels", hidden_size=32), images, labels)
    ax.plot(g, label=cell)
ax.set(yscale="log", xlabel="píxel leído (paso)", ylabel="tamaño del gradiente que llega",
       title="784 pasos: celdas sin entrenar")
ax.legend()
plt.show()'''),
    md("""Untrained, the gates change little: in all three cells the signal is gone long before the first pixels.
What gates give is the *ability to learn* to keep it: a gate that learns to stay open passes the memory, and
the gradient, through a step untouched, and a plain RNN has no such switch. The price: 3 (GRU) or 4 (LSTM)
times the weights of a plain RNN of the same width. Trained, the difference shows; same 8 units, same
recipe, reading rows:""",
       """Sin entrenar, las puertas cambian poco: en las tres celdas la señal desaparece mucho antes de los primeros
píxeles. Lo que dan las puertas es la *capacidad de aprender* a conservarla: una puerta que aprende a quedarse
abierta deja pasar la memoria, y el gradiente, sin tocarlos, y una RNN simple no tiene ese interruptor. El
precio: 3 (GRU) o 4 (LSTM) veces los pesos de una RNN simple de la misma anchura. Entrenadas, la diferencia
se nota; mismas 8 unidades, misma receta, leyendo filas:"""),
    code('''test_loader = DataLoader(test_set, batch_size=BATCH_SIZE)
rows = []
for cell in ("rnn", "gru", "lstm"):
    torch.manual_seed(0)
    model = trained(utils.RNNClassifier(cell=cell))
    test = utils.evaluate(model=model, data_loader=test_loader, criterion=torch.nn.CrossEntropyLoss(),
                          metric_fn=MulticlassAccuracy(num_classes=10))
    rows.append({"cell": cell, "parameters": utils.count_parameters(model),
                 "test macro accuracy": round(test["metric"], 3)})
pd.DataFrame(rows)''',
         es='''test_loader = DataLoader(test_set, batch_size=BATCH_SIZE)
rows = []
for cell in ("rnn", "gru", "lstm"):
    torch.manual_seed(0)
    model = trained(utils.RNNClassifier(cell=cell))
    test = utils.evaluate(model=model, data_loader=test_loader, criterion=torch.nn.CrossEntropyLoss(),
                          metric_fn=MulticlassAccuracy(num_classes=10))
    rows.append({"celda": cell, "parámetros": utils.count_parameters(model),
                 "exactitud macro en test": round(test["metric"], 3)})
pd.DataFrame(rows)'''),
    md("""**What to take away.** A recurrent layer is one line of algebra in a loop. Its memory is a handful of
numbers rewritten at every step, and its gradients fade with the length of the loop; gates (GRU, LSTM) can
learn to let memory and gradient pass through. Lesson 03 asks whether such readers can match a CNN.""",
       """**Para quedarse.** Una capa recurrente es una línea de álgebra dentro de un bucle. Su memoria es un puñado
de números reescritos en cada paso, y sus gradientes se apagan con la longitud del bucle; las puertas (GRU,
LSTM) pueden aprender a dejar pasar memoria y gradiente. La lección 03 se pregunta si estos lectores pueden igualar a una CNN."""),
]


# ----------------------------------------------------------------------------- 03: comparable to CNNs?

LESSON_03 = [
    md("""# 03 — Comparable to convolutional networks?

The course promises that a network reading rows gets "results comparable to convolutional networks (CNN)".
Here we test that promise with numbers: the leaderboard rowrnn measured (every preset, up to three seeds, the test
split read once per run), a short run of the strongest recurrent preset and of a CNN on your machine, where each
one goes wrong, and an honest conclusion.

""" + CREDIT["en"],
       """# 03 — ¿Comparables a las redes convolucionales?

El curso promete que una red que lee filas consigue "resultados comparables a los de las redes de convolución
(CNN)". Aquí ponemos esa promesa a prueba con números: la clasificación que midió rowrnn (cada preset, hasta tres
semillas, el test leído una vez por ejecución), una ejecución corta del preset recurrente más fuerte y de una
CNN en tu máquina, dónde se equivoca cada una, y una conclusión honesta.

""" + CREDIT["es"]),
    code(INSTALL),
    code('''%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

import rowrnn as utils'''),
    params('''STRONG_EPOCHS = 2       # the bilstm preset trains 32 (about 25 minutes on 2 CPU cores); 2 take ~2 minutes
CNN_EPOCHS = 2          # the cnn preset trains 25''',
           {"STRONG_EPOCHS": 1, "CNN_EPOCHS": 1},
           es='''STRONG_EPOCHS = 2       # el preset bilstm entrena 32 (unos 25 minutos en 2 núcleos); 2 tardan ~2 minutos
CNN_EPOCHS = 2          # el preset cnn entrena 25'''),
    md("""## The leaderboard

`rowrnn compare` trained every preset with three seeds on a 2-core CPU (one run for each pixel reader and,
for lack of CPU time, for the CNN); the test split was read once per run, after the epoch was chosen on
validation. The mean per preset, and its worst seed:""",
       """## La clasificación

`rowrnn compare` entrenó cada preset con tres semillas en una CPU de 2 núcleos (una ejecución para cada lector
de píxeles y, por falta de tiempo de CPU, para la CNN); el test se leyó una vez por ejecución, después de
elegir la época sobre la validación. La media de cada preset, y su peor semilla:"""),
    code('''rows = utils.compare.published_leaderboard()   # shipped with rowrnn: no download, works offline
runs = pd.DataFrame(rows)[["preset", "seed", "test_accuracy", "parameters", "train_minutes", "epochs"]]
summary = (runs.groupby("preset")
           .agg(test_accuracy=("test_accuracy", "mean"), worst_seed=("test_accuracy", "min"),
                parameters=("parameters", "first"), train_minutes=("train_minutes", "mean"))
           .sort_values("test_accuracy", ascending=False).round(4))
summary'''),
    code('''utils.plots.plot_leaderboard(utils.compare.summarize(rows), utils.compare.REFERENCES)
utils.plots.plot_accuracy_vs_minutes(rows)
plt.show()'''),
    md("""## A short run of each, on your machine

The strongest recurrent preset, `bilstm`, reads the image twice — rows top to bottom and columns left to
right — with bidirectional LSTMs of 128 units, and keeps the mean and the maximum of every step. The `cnn`
preset is a small convolutional network (four 3×3 convolutions, 60K parameters) trained with the same
recipe. Both for only a few epochs here: enough to see how each one errs, not their final accuracy.""",
       """## Una ejecución corta de cada una, en tu máquina

El preset recurrente más fuerte, `bilstm`, lee la imagen dos veces (filas de arriba abajo y columnas de
izquierda a derecha) con LSTM bidireccionales de 128 unidades, y se queda con la media y el máximo de todos los
pasos. El preset `cnn` es una red convolucional pequeña (cuatro convoluciones 3×3, 60K parámetros) entrenada
con la misma receta. Las dos, aquí, solo unas pocas épocas: lo justo para ver cómo se equivoca cada una, no su
exactitud final."""),
    code('''strong = utils.fit(utils.build_config("bilstm", {"epochs": STRONG_EPOCHS}))
cnn = utils.fit(utils.build_config("cnn", {"epochs": CNN_EPOCHS}))
for name, result in (("bilstm", strong), ("cnn", cnn)):
    print(f"{name}: {len(result.history['seconds'])} epochs, {sum(result.history['seconds']) / 60:.1f} minutes, "
          f"test accuracy {result.metrics['accuracy']:.4f}")''',
         es='''strong = utils.fit(utils.build_config("bilstm", {"epochs": STRONG_EPOCHS}))
cnn = utils.fit(utils.build_config("cnn", {"epochs": CNN_EPOCHS}))
for name, result in (("bilstm", strong), ("cnn", cnn)):
    print(f"{name}: {len(result.history['seconds'])} épocas, {sum(result.history['seconds']) / 60:.1f} minutos, "
          f"exactitud en test {result.metrics['accuracy']:.4f}")'''),
    code('''fig, axes = plt.subplots(1, 2, figsize=(16, 6.5), layout="constrained")
for ax, (name, result) in zip(axes, (("bilstm (recurrent)", strong), ("cnn", cnn))):
    utils.plots.plot_confusion(result.metrics["confusion"], ax=ax,
                               title=f"{name}: accuracy {result.metrics['accuracy']:.3f}")
plt.show()''',
         es='''CLASES = ["Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo",
          "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín"]
fig, axes = plt.subplots(1, 2, figsize=(16, 6.5), layout="constrained")
for ax, (name, result) in zip(axes, (("bilstm (recurrente)", strong), ("cnn", cnn))):
    utils.plots.plot_confusion(result.metrics["confusion"], classes=CLASES, ax=ax,
                               title=f"{name}: exactitud {result.metrics['accuracy']:.3f}")
plt.show()'''),
    md("""Both stumble on the same garments: shirts, T-shirts, pullovers and coats, which differ in details a few
pixels wide. Footwear is mistaken only for other footwear (sandal, sneaker, boot), and trousers almost never.

## The verdict""",
       """Las dos tropiezan con las mismas prendas: camisas, camisetas, jerséis y abrigos, que se distinguen por
detalles de pocos píxeles. El calzado solo se confunde con otro calzado (sandalia, zapatilla, botín), y los pantalones casi nunca.

## El veredicto"""),
    code('''best_recurrent = summary.drop(index=["cnn"]).iloc[0]
print(f"best recurrent-only preset: {best_recurrent.name}, {best_recurrent.test_accuracy:.4f} "
      f"(worst seed {best_recurrent.worst_seed:.4f}), {int(best_recurrent.parameters):,} parameters")
print(f"cnn: {summary.loc['cnn', 'test_accuracy']:.4f} (worst seed {summary.loc['cnn', 'worst_seed']:.4f}), "
      f"{summary.loc['cnn', 'parameters']:,} parameters")
print(f"gap: {100 * (summary.loc['cnn', 'test_accuracy'] - best_recurrent.test_accuracy):.2f} points")''',
         es='''best_recurrent = summary.drop(index=["cnn"]).iloc[0]
print(f"mejor preset solo recurrente: {best_recurrent.name}, {best_recurrent.test_accuracy:.4f} "
      f"(peor semilla {best_recurrent.worst_seed:.4f}), {int(best_recurrent.parameters):,} parámetros")
print(f"cnn: {summary.loc['cnn', 'test_accuracy']:.4f} (peor semilla {summary.loc['cnn', 'worst_seed']:.4f}), "
      f"{summary.loc['cnn', 'parameters']:,} parámetros")
print(f"diferencia: {100 * (summary.loc['cnn', 'test_accuracy'] - best_recurrent.test_accuracy):.2f} puntos")'''),
    md("VERDICT_EN", "VERDICT_ES"),
]

NOTEBOOKS = {
    "01": ("01-simple-recurrent-networks", "01-redes-recurrentes-simples", LESSON_01),
    "02": ("02-inside-the-recurrence", "02-dentro-de-la-recurrencia", LESSON_02),
    "03": ("03-comparable-to-cnns", "03-comparables-a-las-cnn", LESSON_03),
}
LANGUAGES = ("en", "es")


# ----------------------------------------------------------------------------- building and running

def path_of(key: str, lang: str) -> Path:
    en, es, _ = NOTEBOOKS[key]
    return HERE / lang / f"{en if lang == 'en' else es}.ipynb"


def build(key: str, lang: str):
    import nbformat
    verdict = _verdicts()
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python"}})
    for kind, texts, *rest in NOTEBOOKS[key][2]:
        text = texts[lang].replace("VERDICT_EN", verdict["en"]).replace("VERDICT_ES", verdict["es"])
        if lang == "es" and kind != "markdown":
            for en, es in COMMENTS_ES.items():
                text = text.replace(en, es)
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
                cell.metadata["rowrnn"] = {"quick": rest[0]}
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids, so rebuilding changes nothing
        cell.id = f"{key}-{i:02d}"
    return nb


def _verdicts() -> dict:
    """The conclusion of lesson 03 in both languages, kept in verdict.md beside this script."""
    text = (HERE / "verdict.md").read_text()
    en, _, es = text.partition("<!-- es -->")
    return {"en": en.replace("<!-- en -->", "").strip(), "es": es.strip()}


def execute(nb, cwd: Path, quick: bool = False, overrides: dict | None = None, timeout: int = 1800):
    """Run nb top to bottom in a fresh kernel, in cwd; quick (or overrides) adds a cell after the parameters."""
    from nbclient import NotebookClient
    import nbformat
    nb = copy.deepcopy(nb)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    values = {**(nb.cells[index].metadata["rowrnn"]["quick"] if quick else {}), **(overrides or {})}
    if values:
        injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in values.items()))
        injected.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(index + 1, injected)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    return nb


def keep_outputs(nb, committed) -> list[str]:
    """Copy committed's outputs and execution counts into nb, cell by cell (matched by id and kind);
    returns the ids of code cells whose source changed (their outputs are kept as they were)."""
    nb.metadata = committed.metadata      # the kernel's language_info of that run
    old = {c.id: c for c in committed.cells}
    changed = []
    for cell in nb.cells:
        before = old.get(cell.id)
        if cell.cell_type != "code" or before is None or before.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = before.outputs, before.execution_count
        if "execution" in before.metadata:   # the kernel's timings of that run
            cell.metadata["execution"] = before.metadata["execution"]
        if before.source != cell.source:
            changed.append(cell.id)
    return changed


def main(argv=None) -> int:
    import nbformat
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run each notebook and keep its outputs")
    parser.add_argument("--only", default=None, help="comma-separated keys (01,02,03) or file stems")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep the committed notebook's outputs, cell by cell (same id and kind), for a change of "
                             "sources that changes no output (a comment, an import, where data comes from); the "
                             "cells whose code changed are listed: rerun with --execute if any output would differ")
    args = parser.parse_args(argv)
    for key in NOTEBOOKS:
        for lang in LANGUAGES:
            path = path_of(key, lang)
            if args.only and key not in args.only.split(",") and path.stem not in args.only.split(","):
                continue
            nb = build(key, lang)
            if args.execute:
                print(f"running {path.relative_to(HERE)}", file=sys.stderr, flush=True)
                nb = execute(nb, path.parent)
            elif args.keep_outputs and path.exists():
                for cell_id in keep_outputs(nb, nbformat.read(path, as_version=4)):
                    print(f"{path.relative_to(HERE)}: cell {cell_id}: new code, its committed outputs kept",
                          file=sys.stderr)
            path.parent.mkdir(exist_ok=True)
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sys.exit(main())
