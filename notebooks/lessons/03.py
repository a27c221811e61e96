"""Lesson 03 — comparable to CNNs?: its cells, in English and Spanish.

Markdown is written in both languages; each code cell is written once, in English, and the Spanish notebook's
code is that cell passed through SPANISH (its comments, printed words and labels; see lessons.common.translate).
"""
from .common import CLASES, CREDIT, INSTALL, code, md, params, verdict

NAMES = {"en": "03-comparable-to-cnns", "es": "03-comparables-a-las-cnn"}

CELLS = [
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
    params('''STRONG_EPOCHS = 2       # the bilstm preset trains 32 (about 20 minutes on 2 CPU cores); 2 take ~2 minutes
CNN_EPOCHS = 2          # the cnn preset trains 25''',
           quick={"STRONG_EPOCHS": 1, "CNN_EPOCHS": 1}),
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
          f"test accuracy {result.metrics['accuracy']:.4f}")'''),
    code('''fig, axes = plt.subplots(1, 2, figsize=(16, 6.5), layout="constrained")
for ax, (name, result) in zip(axes, (("bilstm (recurrent)", strong), ("cnn", cnn))):
    utils.plots.plot_confusion(result.metrics["confusion"], ax=ax,
                               title=f"{name}: accuracy {result.metrics['accuracy']:.3f}")
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
print(f"gap: {100 * (summary.loc['cnn', 'test_accuracy'] - best_recurrent.test_accuracy):.2f} points")'''),
    md(*verdict()),
]

SPANISH = {
    "# the bilstm preset trains 32 (about 20 minutes on 2 CPU cores); 2 take ~2 minutes":
        "# el preset bilstm entrena 32 (unos 20 minutos en 2 núcleos); 2 tardan ~2 minutos",
    "# the cnn preset trains 25": "# el preset cnn entrena 25",
    "utils.compare.REFERENCES)": 'utils.compare.REFERENCES, language="es")',
    "plot_accuracy_vs_minutes(rows)": 'plot_accuracy_vs_minutes(rows, language="es")',
    "# shipped with rowrnn: no download, works offline": "# viene con rowrnn: sin descargas, funciona sin conexión",
    "} epochs, {sum(": "} épocas, {sum(",
    ':.1f} minutes, "': ':.1f} minutos, "',
    'f"test accuracy {result': 'f"exactitud en test {result',
    "fig, axes = plt.subplots(1, 2,": CLASES + "\nfig, axes = plt.subplots(1, 2,",
    '"bilstm (recurrent)"': '"bilstm (recurrente)"',
    '(result.metrics["confusion"], ax=ax,': '(result.metrics["confusion"], classes=CLASES, language="es", ax=ax,',
    "{name}: accuracy {result": "{name}: exactitud {result",
    '"best recurrent-only preset:': '"mejor preset solo recurrente:',
    "(worst seed {": "(peor semilla {",
    ':,} parameters")': ':,} parámetros")',
    'f"gap: {100': 'f"diferencia: {100',
    ':.2f} points")': ':.2f} puntos")',
}
