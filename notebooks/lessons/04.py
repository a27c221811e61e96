"""Lesson 04 — from Elman to minGRU and LRU: its cells, in English and Spanish.

Markdown is written in both languages; each code cell is written once, in English, and the Spanish notebook's
code is that cell passed through SPANISH (its comments, printed words and labels; see lessons.common.translate).
"""
from .common import CLASES, CREDIT, INSTALL, code, md, params

NAMES = {"en": "04-recurrences-in-parallel", "es": "04-recurrencias-en-paralelo"}

CELLS = [
    md("""# 04 — From Elman to minGRU and LRU: a recurrence that trains in parallel

The course's network computes h_t = tanh(W x_t + U h_{t−1} + b): every step needs the step before it, *and a
matrix product with it*. A 28-row image is 28 such products in a row; a 784-pixel reading is 784, and nothing
can start before the previous one ends. Recurrent networks were left behind for that reason, not for their
accuracy.

In 2024 Feng and colleagues ("Were RNNs All We Needed?", arXiv 2410.01201) removed h_{t−1} from the gates of
the GRU and the LSTM: their **minGRU** decides how much to update, z_t, and what to write, h̃_t, from the input
x_t alone. The linear recurrent unit (**LRU**, Orvieto et al. 2023, arXiv 2303.06349) goes the same way with a
diagonal complex recurrence. In this lesson you will
1. see why such a recurrence can be computed for all steps at once, and check that both ways give the same
   numbers;
2. time the two ways on this machine (the answer depends on the hardware);
3. train rowrnn's `mingru` preset and read the trained network step by step;
4. see where it stands on the leaderboard.

""" + CREDIT["en"],
       """# 04 — De Elman a minGRU y LRU: una recurrencia que se entrena en paralelo

La red del curso calcula h_t = tanh(W x_t + U h_{t−1} + b): cada paso necesita el anterior, *y un producto de
matrices con él*. Una imagen de 28 filas son 28 productos seguidos; una lectura de 784 píxeles, 784, y ninguno
puede empezar antes de que acabe el anterior. Las redes recurrentes se quedaron atrás por eso, no por su
exactitud.

En 2024 Feng y sus colegas ("Were RNNs All We Needed?", arXiv 2410.01201) quitaron h_{t−1} de las puertas de
la GRU y de la LSTM: su **minGRU** decide cuánto actualizar, z_t, y qué escribir, h̃_t, solo a partir de la
entrada x_t. La unidad recurrente lineal (**LRU**, Orvieto et al. 2023, arXiv 2303.06349) sigue el mismo camino
con una recurrencia compleja diagonal. En esta lección vas a
1. ver por qué una recurrencia así se puede calcular para todos los pasos a la vez, y comprobar que las dos
   formas dan los mismos números;
2. medir el tiempo de las dos formas en esta máquina (la respuesta depende del hardware);
3. entrenar el preset `mingru` de rowrnn y leer la red entrenada paso a paso;
4. ver dónde queda en la clasificación.

""" + CREDIT["es"]),
    code(INSTALL),
    code('''%matplotlib inline
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

import rowrnn as utils
from rowrnn import recurrences'''),
    params('''EPOCHS = 3        # the mingru preset trains 18 (about 5 minutes on 2 CPU cores); 3 show the start''',
           quick={"EPOCHS": 1}),
    md("""## One recurrence, two ways to compute it

In a minGRU, z_t = σ(W_z x_t) and h̃_t = g(W_h x_t) depend on the input only, so **one matrix product over
all steps at once** gives them for every t. What is left is

  h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t,   that is   h_t = a_t ⊙ h_{t−1} + b_t,

an elementwise recurrence whose a_t and b_t are already known. Unrolled, h_t = Σ_{k≤t} (a_{k+1} ⋯ a_t) b_k:
products and sums along the steps, which cumulative sums of logarithms compute without a loop over t
(Heinsen's scan, arXiv 2311.06281, the form the paper uses; g keeps h̃ positive so that its logarithm exists).
rowrnn's cells take `scan="step"` (the loop) or `scan="parallel"` (the scan); both must give the same h:""",
       """## Una recurrencia, dos formas de calcularla

En una minGRU, z_t = σ(W_z x_t) y h̃_t = g(W_h x_t) dependen solo de la entrada, así que **un producto de
matrices sobre todos los pasos a la vez** las da para cada t. Lo que queda es

  h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t,   es decir   h_t = a_t ⊙ h_{t−1} + b_t,

una recurrencia elemento a elemento cuyos a_t y b_t ya se conocen. Desplegada, h_t = Σ_{k≤t} (a_{k+1} ⋯ a_t) b_k:
productos y sumas a lo largo de los pasos, que las sumas acumuladas de logaritmos calculan sin un bucle sobre t
(el scan de Heinsen, arXiv 2311.06281, la forma que usa el artículo; g mantiene h̃ positivo para que exista su
logaritmo). Las celdas de rowrnn aceptan `scan="step"` (el bucle) o `scan="parallel"` (el scan); las dos deben dar
el mismo h:"""),
    code('''torch.manual_seed(0)
x = torch.randn(4, 784, 16)                     # 4 sequences of 784 steps (a pixel reading), 16 features each
for name, cell in (("minGRU", recurrences.MinGRU(16)), ("minLSTM", recurrences.MinLSTM(16)),
                   ("LRU", recurrences.LRU(16))):
    with torch.no_grad():
        looped, scanned = cell(x, scan="step"), cell(x, scan="parallel")
    print(f"{name}: largest difference between the loop and the scan over 784 steps: "
          f"{(looped - scanned).abs().max():.1e}")'''),
    md("""The same numbers, up to rounding. Which one is faster depends on the machine: on a GPU every step of
a loop costs its own kernel launches, and the scan replaces 784 of them with a handful; on a CPU core a
batch's elementwise work is already enough to keep it busy, and the scan does more arithmetic than the loop.
Measure it here:""",
       """Los mismos números, salvo redondeo. Cuál es más rápida depende de la máquina: en una GPU cada paso de un
bucle cuesta sus propios lanzamientos de kernels, y el scan cambia 784 de ellos por unos pocos; en un núcleo de CPU
el trabajo elemento a elemento de un lote ya basta para tenerlo ocupado, y el scan hace más cuentas que el bucle.
Mídelo aquí:"""),
    code('''def seconds(function, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]        # the median: this machine may be busy

cell, x = recurrences.MinGRU(64), torch.randn(32, 784, 64, requires_grad=True)
timings = {scan: seconds(lambda: cell(x, scan=scan).sum().backward()) for scan in ("step", "parallel")}
gru = torch.nn.GRU(64, 64, batch_first=True)
timings["nn.GRU (cuDNN-style fused loop)"] = seconds(lambda: gru(x)[0].sum().backward())
timings = pd.Series(timings, name="seconds, forward + backward of 32 sequences of 784 steps").round(3)
timings.plot.barh(figsize=(7, 2.2)).set_xlabel("seconds (median of 3)")
plt.show()
timings'''),
    md("""rowrnn's cells take `scan="auto"` by default: the loop on a CPU, the scan on an accelerator.
What the parallel-in-time cells win on any machine is the matrix products: the GRU runs a 64×64 product at
each of the 784 steps, the minGRU one large product before the loop.

## The `mingru` preset

The preset stacks two pre-norm residual blocks (LayerNorm → a minGRU reading forwards and one reading
backwards → Linear; LayerNorm → an MLP), reads rows and columns two lines at a time, and keeps the mean and
the maximum over the steps. It has no convolution: each strip of two rows goes through a linear layer, as every
rowrnn reader does.""",
       """Las celdas de rowrnn usan `scan="auto"` por defecto: el bucle en una CPU, el scan en un acelerador.
Lo que las celdas paralelas en el tiempo ganan en cualquier máquina son los productos de matrices: la GRU hace
un producto 64×64 en cada uno de los 784 pasos, la minGRU un solo producto grande antes del bucle.

## El preset `mingru`

El preset apila dos bloques residuales con normalización previa (LayerNorm → una minGRU que lee hacia delante y
otra hacia atrás → Linear; LayerNorm → un MLP), lee filas y columnas de dos en dos líneas, y se queda con la media
y el máximo sobre los pasos. No tiene ninguna convolución: cada franja de dos filas pasa por una capa lineal, como
en todos los lectores de rowrnn."""),
    code('''cfg = utils.build_config("mingru", {"epochs": EPOCHS})
model = utils.build_model(cfg.model)
print(f"{utils.count_parameters(model):,} parameters")
print(model)'''),
    code('''result = utils.fit(cfg)
minutes = sum(result.history["seconds"]) / 60
print(f"{len(result.history['seconds'])} epochs in {minutes:.1f} minutes: best validation accuracy "
      f"{max(result.history['val_metric']):.4f}, test accuracy {result.metrics['accuracy']:.4f}")'''),
    md("""## Read step by step

The trained network is an ordinary rowrnn run: `rowrnn serve` shows it on the page beside the others, and
`step_probabilities` gives its answer after every step. With rows and columns read at once, step t means
t strips of two rows *and* t strips of two columns:""",
       """## Leer paso a paso

La red entrenada es una ejecución de rowrnn como las demás: `rowrnn serve` la muestra en la página junto a las
otras, y `step_probabilities` da su respuesta tras cada paso. Como lee filas y columnas a la vez, el paso t son
t franjas de dos filas *y* t franjas de dos columnas:"""),
    code('''model, run = utils.load_model(result.path)   # the best epoch's weights, chosen on validation
test_set = utils.FashionMNIST(train=False)
images = torch.stack([test_set[i][0] for i in range(4)])
labels = [test_set[i][1] for i in range(4)]
probabilities = model.step_probabilities(images)         # (4 images, 14 steps, 10 classes)
utils.plots.plot_reading(images, probabilities, labels=labels, read=cfg.model.read)
plt.show()'''),
    md("""## On the leaderboard

`rowrnn compare` measured the `mingru` preset with the rest of the leaderboard, on the same 2-core CPU, one
training at a time (`results/leaderboard.md` in rowrnn's repository): test accuracy **0.9097** over three seeds
(0.9091–0.9101) in **5.5 minutes** for the whole `rowrnn train`, against `fast`'s 0.8968 in 4.1 minutes and
`bilstm`'s 0.9136 in 19.4: nearly the strongest recurrent reader's accuracy in under a third of its time. It
first reached 0.90 validation accuracy after 3.6 minutes, `bilstm` after 10.3. Your short run, then the
published leaderboard for comparison:""",
       """## En la clasificación

`rowrnn compare` midió el preset `mingru` con el resto de la clasificación, en la misma CPU de 2 núcleos, una
ejecución cada vez (`results/leaderboard.md` en el repositorio de rowrnn): exactitud en test de **0,9097** con
tres semillas (0,9091–0,9101) en **5,5 minutos** para todo `rowrnn train`, frente a 0,8968 en 4,1 minutos de
`fast` y 0,9136 en 19,4 de `bilstm`: casi la exactitud del lector recurrente más fuerte en menos de un tercio de
su tiempo. Llegó a 0,90 de exactitud en validación a los 3,6 minutos; `bilstm`, a los 10,3. Tu ejecución corta
y, para comparar, la clasificación publicada:"""),
    code('''rows = utils.compare.published_leaderboard()
table = (pd.DataFrame(rows).groupby("preset")
         .agg(test_accuracy=("test_accuracy", "mean"), train_minutes=("train_minutes", "mean"),
              parameters=("parameters", "first"))
         .sort_values("test_accuracy", ascending=False).round(4))
print(f"mingru, this notebook's {EPOCHS} epochs: test accuracy {result.metrics['accuracy']:.4f}")
table'''),
]

SPANISH = {
    "# the mingru preset trains 18 (about 5 minutes on 2 CPU cores); 3 show the start":
        "# el preset mingru entrena 18 (unos 5 minutos en 2 núcleos); 3 muestran el comienzo",
    "# 4 sequences of 784 steps (a pixel reading), 16 features each":
        "# 4 secuencias de 784 pasos (una lectura por píxeles), 16 rasgos cada una",
    '}: largest difference between the loop and the scan over 784 steps: "':
        '}: mayor diferencia entre el bucle y el scan en 784 pasos: "',
    "# the median: this machine may be busy": "# la mediana: esta máquina puede estar ocupada",
    '"nn.GRU (cuDNN-style fused loop)"': '"nn.GRU (bucle fusionado, como cuDNN)"',
    'set_xlabel("seconds (median of 3)")': 'set_xlabel("segundos (mediana de 3)")',
    'name="seconds, forward + backward of 32 sequences of 784 steps"':
        'name="segundos, ida y vuelta de 32 secuencias de 784 pasos"',
    '} epochs in {minutes:.1f} minutes: best validation accuracy "':
        '} épocas en {minutes:.1f} minutos: mejor exactitud en validación "',
    'f"{max(result.history[\'val_metric\']):.4f}, test accuracy {': 'f"{max(result.history[\'val_metric\']):.4f}, exactitud en test {',
    "# (4 images, 14 steps, 10 classes)": "# (4 imágenes, 14 pasos, 10 clases)",
    "utils.plots.plot_reading(images, probabilities, labels=labels, read=cfg.model.read)":
        CLASES + "\nutils.plots.plot_reading(images, probabilities, labels=labels, read=cfg.model.read, classes=CLASES,"
                 '\n                         language="es")',
    ':,} parameters")': ':,} parámetros")',
    "# the best epoch's weights, chosen on validation": "# los pesos de la mejor época, elegida con la validación",
    'f"mingru, this notebook\'s {EPOCHS} epochs: test accuracy {':
        'f"mingru, las {EPOCHS} épocas de este cuaderno: exactitud en test {',
}
