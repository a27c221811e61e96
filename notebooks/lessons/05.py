"""Lesson 05 — your own data: its cells, in English and Spanish.

Markdown is written in both languages; each code cell is written once, in English, and the Spanish notebook's
code is that cell passed through SPANISH (its comments, printed words and labels; see lessons.common.translate).
"""
from .common import CREDIT, INSTALL, code, md, params

NAMES = {"en": "05-your-own-data", "es": "05-tus-propios-datos"}

CELLS = [
    md("""# 05 — Your own data: a reader for handwritten digits

Until now every network read Fashion-MNIST. But a recurrent reader does not care what it reads: give it any
folder of labelled images and it learns to tell them apart, one row at a time. In this lesson you will
1. take a real dataset that comes with scikit-learn — 1,797 handwritten digits of 8×8 pixels, in 16 grey
   levels — and write it as a **folder of images**, one subfolder per class, the layout you would use for your own
   drawings or photos;
2. train a reader on that folder: 8 steps, each one row of 8 pixels;
3. watch it read, step by step;
4. see, class by class, which digits it gets right.

""" + CREDIT["en"],
       """# 05 — Tus propios datos: un lector de dígitos manuscritos

Hasta ahora todas las redes leían Fashion-MNIST. Pero a un lector recurrente le da igual lo que lee: dale
cualquier carpeta de imágenes etiquetadas y aprende a distinguirlas, fila a fila. En esta lección vas a
1. tomar un conjunto de datos real que viene con scikit-learn (1.797 dígitos manuscritos de 8×8 píxeles, en 16
   niveles de gris) y escribirlo como una **carpeta de imágenes**, una subcarpeta por clase: la misma
   organización que usarías para tus propios dibujos o fotos;
2. entrenar un lector sobre esa carpeta: 8 pasos, cada uno una fila de 8 píxeles;
3. verlo leer, paso a paso;
4. ver, clase por clase, qué dígitos acierta.

""" + CREDIT["es"]),
    code(INSTALL),
    code('''%matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

import rowrnn as utils
from rowrnn import datasets'''),
    params('''EPOCHS = 12        # about 10 seconds on 2 CPU cores: 1,438 small images an epoch
HIDDEN_SIZE = 32   # units of the GRU''',
           quick={"EPOCHS": 2}),
    md("""## The digits

scikit-learn's digits were written by 43 people; each one is 8×8 pixels whose values go from 0 (white paper) to
16 (ink). An image folder holds ordinary pictures, 0 to 255, so we stretch the 17 values onto that range:""",
       """## Los dígitos

Los dígitos de scikit-learn los escribieron 43 personas; cada uno son 8×8 píxeles cuyos valores van de 0 (papel
en blanco) a 16 (tinta). Una carpeta de imágenes guarda imágenes corrientes, de 0 a 255, así que estiramos los 17
valores a ese rango:"""),
    code('''digits = load_digits()
images = np.rint(digits.images * 255 / 16).astype(np.uint8)   # (1797, 8, 8): 0-16 -> 0-255
names = [str(k) for k in range(10)]
print(images.shape, "images; images of each digit:", np.bincount(digits.target).tolist())

fig, axes = plt.subplots(1, 10, figsize=(12, 1.8), layout="constrained")
for ax, image, label in zip(axes, images, digits.target):
    ax.imshow(image, cmap="gray")   # ink light on dark: the numbers the network reads
    ax.set_title(f"label {label}")
    ax.axis("off")
plt.show()'''),
    md("""## A folder of images

rowrnn reads the layout torchvision's `ImageFolder` reads: one folder per class, named after it, with the
images inside (PNG, JPEG, any size and colour: they are converted to grey at the size you choose). With
`DIR/train/<class>/…` and `DIR/test/<class>/…` you decide which images test the network; with a single
`DIR/<class>/…`, as here, rowrnn holds out 20 % of each class as the test split — always the same images,
whatever the seed. This is all it takes to use **your own drawings**: draw them, save them in a folder per class,
and pass that folder instead.""",
       """## Una carpeta de imágenes

rowrnn lee la organización que lee `ImageFolder` de torchvision: una carpeta por clase, con su nombre, y las
imágenes dentro (PNG, JPEG, de cualquier tamaño y color: se pasan a gris al tamaño que elijas). Con
`DIR/train/<clase>/…` y `DIR/test/<clase>/…` decides tú qué imágenes ponen a prueba la red; con una sola
`DIR/<clase>/…`, como aquí, rowrnn aparta el 20 % de cada clase como conjunto de test (siempre las mismas
imágenes, sea cual sea la semilla). No hace falta más para usar **tus propios dibujos**: dibújalos, guárdalos en
una carpeta por clase y pasa esa carpeta en su lugar."""),
    code('''folder = datasets.write_image_folder(images, digits.target, names, "digits")
for class_folder in sorted(folder.iterdir())[:3]:
    files = sorted(p.name for p in class_folder.iterdir())
    print(f"{class_folder}/: {len(files)} files ({files[0]}, {files[1]}, ...)")'''),
    md("""## Train a reader

The course's network with two changes: a GRU of 32 units instead of an RNN of 8, and images of 8×8 instead
of 28×28, so each of its **8 steps reads one row of 8 pixels**. `dataset` names the folder and `image_size`
the side the images are converted to; rowrnn records both, and the class names it found, in the run's
`config.json`, so every later command knows what this run reads.""",
       """## Entrenar un lector

La red del curso con dos cambios: una GRU de 32 unidades en lugar de una RNN de 8, e imágenes de 8×8 en lugar de
28×28, así que cada uno de sus **8 pasos lee una fila de 8 píxeles**. `dataset` nombra la carpeta e
`image_size` el lado al que se convierten las imágenes; rowrnn guarda los dos, y los nombres de clase que
encontró, en el `config.json` de la ejecución, para que cualquier orden posterior sepa qué lee."""),
    code('''cfg = utils.build_config("notebook", {"dataset": str(folder), "image_size": 8, "cell": "gru",
                                      "hidden_size": HIDDEN_SIZE, "epochs": EPOCHS, "batch_size": 64, "lr": 0.01})
result = utils.fit(cfg)
model, run = utils.load_model(result.path)
print("classes:", run.config.data.classes)
print(f"steps: {model.num_steps}, pixels a step: {model.rnn.input_size}, outputs: {model.fc.out_features}")
print(f"test accuracy: {result.metrics['accuracy']:.4f} on {result.metrics['images']} images (chance: 0.1)")'''),
    md("""## Watch it read

`step_probabilities` stops the reading after each step and asks for the network's whole answer: what it
would say having seen only the first rows. Every row of a heat map below is one step; every column, one digit.""",
       """## Verlo leer

`step_probabilities` corta la lectura después de cada paso y pide la respuesta completa de la red: lo que diría
habiendo visto solo las primeras filas. Cada fila de los mapas de calor es un paso; cada columna, un dígito."""),
    code('''_, test = datasets.load_dataset(run.config.data, splits=("test",))
picked = [int((test.labels == digit).nonzero()[0]) for digit in (0, 3, 7)]   # the first test 0, 3 and 7
with torch.no_grad():
    probabilities = model.step_probabilities(test.images[picked])             # (3, 8 steps, 10 digits)
utils.plots.plot_reading(test.images[picked], probabilities, classes=names, labels=test.labels[picked])
plt.show()'''),
    md("""Look at when the right column lights up: some digits are settled after the first rows, others only
when the last rows rule out a look-alike.

## Class by class

The test metrics of the run, for each digit: precision (of the images it called this digit, how many were),
recall (of the images of this digit, how many it found) and their harmonic mean, F1.""",
       """Fíjate en cuándo se enciende la columna correcta: algunos dígitos quedan decididos tras las primeras filas,
otros solo cuando las últimas filas descartan un dígito parecido.

## Clase por clase

Las métricas de test de la ejecución, para cada dígito: precisión (de las imágenes que llamó este dígito, cuántas
lo eran), exhaustividad (de las imágenes de este dígito, cuántas encontró) y su media armónica, F1."""),
    code('''metrics, *_ = utils.evaluate_run(result.path)
table = pd.DataFrame(metrics["per_class"]).T[["precision", "recall", "f1", "support"]].astype({"support": int})
table.index.name = "digit"
table.round(3)'''),
    code('''utils.plots.plot_confusion(metrics["confusion"], classes=names,
                           title=f"digits, 8 steps of 8 pixels: accuracy {metrics['accuracy']:.3f}")
plt.show()'''),
    md("""## Your turn

Draw a few images of each class — with a paint program, or on paper and photographed — and save them as
`my_drawings/<class>/<any name>.png`. Then, here or in a terminal:

    result = utils.fit(utils.build_config("notebook", {"dataset": "my_drawings", "image_size": 16}))

    rowrnn train --dataset my_drawings --image-size 16

A few dozen images per class are enough to see it learn; the per-class table will tell you which classes your
drawings keep apart and which they mix up.""",
       """## Te toca

Dibuja unas cuantas imágenes de cada clase (con un programa de dibujo, o en papel y fotografiadas) y guárdalas
como `mis_dibujos/<clase>/<cualquier nombre>.png`. Después, aquí o en un terminal:

    result = utils.fit(utils.build_config("notebook", {"dataset": "mis_dibujos", "image_size": 16}))

    rowrnn train --dataset mis_dibujos --image-size 16

Con unas decenas de imágenes por clase basta para verla aprender; la tabla por clase te dirá qué clases separan
bien tus dibujos y cuáles confunden."""),
]

SPANISH = {
    "# about 10 seconds on 2 CPU cores: 1,438 small images an epoch":
        "# unos 10 segundos en 2 núcleos: 1.438 imágenes pequeñas por época",
    "# units of the GRU": "# unidades de la GRU",
    '"images; images of each digit:"': '"imágenes; imágenes de cada dígito:"',
    'f"label {label}"': 'f"etiqueta {label}"',
    "# ink light on dark: the numbers the network reads": "# tinta clara sobre fondo oscuro: los números que lee la red",
    '{len(files)} files (': '{len(files)} archivos (',
    'print("classes:", run': 'print("clases:", run',
    'f"steps: {model.num_steps}, pixels a step: {model.rnn.input_size}, outputs: {model.fc.out_features}"':
        'f"pasos: {model.num_steps}, píxeles por paso: {model.rnn.input_size}, salidas: {model.fc.out_features}"',
    'f"test accuracy: {result': 'f"exactitud en test: {result',
    ":.4f} on {result.metrics['images']} images (chance: 0.1)\"":
        ":.4f} en {result.metrics['images']} imágenes (azar: 0.1)\"",
    "# the first test 0, 3 and 7": "# el primer 0, 3 y 7 del test",
    "# (3, 8 steps, 10 digits)": "# (3, 8 pasos, 10 dígitos)",
    "labels=test.labels[picked])": 'labels=test.labels[picked], language="es")',
    'table.index.name = "digit"': 'table.columns = ["precisión", "exhaustividad", "F1", "imágenes"]\ntable.index.name = "dígito"',
    'f"digits, 8 steps of 8 pixels: accuracy {': 'f"dígitos, 8 pasos de 8 píxeles: exactitud {',
    "classes=names,\n": 'classes=names, language="es",\n',
}
