"""Lesson 02 — inside the recurrence: its cells, in English and Spanish.

Markdown is written in both languages; each code cell is written once, in English, and the Spanish notebook's
code is that cell passed through SPANISH (its comments, printed words and labels; see lessons.common.translate).
"""
from .common import CLASES, CREDIT, INSTALL, code, md, params

NAMES = {"en": "02-inside-the-recurrence", "es": "02-dentro-de-la-recurrencia"}

CELLS = [
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
BATCH_SIZE = 1024''',
           quick={"TRAIN_EPOCHS": 1}),
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
print("largest difference:", (out_pytorch - out_elman).abs().max().item())'''),
    md("""And the loop itself, four lines, in the notebook — the whole of a recurrent layer:""",
       """Y el propio bucle, cuatro líneas, en el cuaderno: una capa recurrente entera:"""),
    code('''W = torch.cat([pytorch_rnn.weight_ih_l0, pytorch_rnn.weight_hh_l0], dim=1)   # (8, 28 + 8)
b = pytorch_rnn.bias_ih_l0 + pytorch_rnn.bias_hh_l0
h = torch.zeros(5, 8)
for t in range(28):
    h = torch.tanh(torch.cat([x[:, t], h], dim=1) @ W.T + b)
print("the loop's last memory equals nn.RNN's:", torch.allclose(h, out_pytorch[:, -1], atol=1e-6))'''),
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
table.iloc[[4, 9, 14, 19, 24, 27]]'''),
    md("""## The recurrence with its numbers

`utils.unroll` writes that computation out for one image, with its actual numbers at every step: the row read,
x_t (28 pixels), what the input adds, W_ih x_t + b_ih, what the memory adds, W_hh h_{t−1} + b_hh, their sum,
and h_t = tanh(sum). Row 10, where the boot has begun:""",
       """## La recurrencia con sus números

`utils.unroll` escribe ese cálculo para una imagen, con sus números reales en cada paso: la fila leída, x_t (28
píxeles), lo que aporta la entrada, W_ih x_t + b_ih, lo que aporta la memoria, W_hh h_{t−1} + b_hh, su suma, y
h_t = tanh(suma). La fila 10, donde ya ha empezado la bota:"""),
    code('''numbers = utils.unroll(rnn, test_set.images[0])      # every vector of the recurrence, at every step
print(numbers["equation"])
step = 10
vectors = {term["label"]: term["values"][step - 1] for term in numbers["terms"] if term["name"] != "x_t"}
print("h_t equals the model's own hidden states:",
      torch.allclose(torch.tensor(numbers["terms"][-1]["values"]), states, atol=1e-4))
pd.DataFrame(vectors).round(3)                       # one row per unit of the memory'''),
    md("""What the memory adds is about as large as what the row adds: at step 10 the network weighs what it has
already seen against what it reads now. `rowrnn serve` and `utils.show_reading` show the same numbers for the step you click.

## Which rows decided

Which rows did the answer depend on? Two standard ways to ask, both in units of the predicted class's logit:
*occlusion* blanks each row in turn (paints it black, the background) and measures how much the logit drops;
*integrated gradients* (Sundararajan et al. 2017) adds up the gradient along a straight path from a black image
to this one, so the scores of all the rows add up to the logit gained from the black image.""",
       """Lo que aporta la memoria es más o menos tan grande como lo que aporta la fila: en el paso 10 la red sopesa
lo que ya ha visto frente a lo que lee ahora. `rowrnn serve` y `utils.show_reading` muestran los mismos números para el paso
en el que hagas clic.

## Qué filas decidieron

¿De qué filas dependió la respuesta? Dos formas habituales de preguntarlo, ambas en unidades del logit de la
clase predicha: la *oclusión* tapa cada fila por turno (la pinta de negro, el fondo) y mide cuánto baja el
logit; los *gradientes integrados* (Sundararajan et al. 2017) suman el gradiente a lo largo de un camino recto
desde una imagen negra hasta esta, de modo que las puntuaciones de todas las filas suman el logit ganado
respecto a la imagen negra."""),
    code('''scores = {method: utils.step_attribution(rnn, test_set.images[:1], method=method)[0]   # (1 reader, 28 rows)
          for method in ("occlusion", "integrated-gradients")}
for method, score in scores.items():
    print(f"{method}: the rows that moved the answer most:", (score[0].abs().topk(3).indices + 1).tolist())
utils.plot_attribution(test_set.images[0], scores["occlusion"], read="rows",
                       target=int(probabilities[-1].argmax()), label=int(test_set.labels[0]))
plt.show()'''),
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
pd.DataFrame(rows)'''),
    md("""**What to take away.** A recurrent layer is one line of algebra in a loop. Its memory is a handful of
numbers rewritten at every step, and its gradients fade with the length of the loop; gates (GRU, LSTM) can
learn to let memory and gradient pass through. Lesson 03 asks whether such readers can match a CNN.""",
       """**Para quedarse.** Una capa recurrente es una línea de álgebra dentro de un bucle. Su memoria es un puñado
de números reescritos en cada paso, y sus gradientes se apagan con la longitud del bucle; las puertas (GRU,
LSTM) pueden aprender a dejar pasar memoria y gradiente. La lección 03 se pregunta si estos lectores pueden igualar a una CNN."""),
]

SPANISH = {
    "# every vector of the recurrence, at every step": "# cada vector de la recurrencia, en cada paso",
    '"h_t equals the model\'s own hidden states:"': '"h_t es igual a los estados ocultos del propio modelo:"',
    "# one row per unit of the memory": "# una fila por unidad de la memoria",
    "# (1 reader, 28 rows)": "# (1 lector, 28 filas)",
    '"{method}: the rows that moved the answer most:"': '"{method}: las filas que más movieron la respuesta:"',
    "utils.plot_attribution(test_set.images[0], scores[\"occlusion\"], read=\"rows\",":
        "utils.plot_attribution(test_set.images[0], scores[\"occlusion\"], read=\"rows\", classes=CLASES,",   # CLASES: above
    "label=int(test_set.labels[0]))": 'label=int(test_set.labels[0]), language="es")',
    "# each training below takes from 10 to 30 seconds on a laptop CPU":
        "# cada entrenamiento de abajo tarda de 10 a 30 segundos en la CPU de un portátil",
    "# 5 sequences of 28 steps of 28 numbers": "# 5 secuencias de 28 pasos de 28 números",
    '"largest difference:"': '"mayor diferencia:"',
    "\"the loop's last memory equals nn.RNN's:\"": '"la última memoria del bucle es la de nn.RNN:"',
    "# (1, 1, 28, 28): an ankle boot": "# (1, 1, 28, 28): un botín",
    "utils.plots.plot_hidden_states(": CLASES + "\nutils.plots.plot_hidden_states(",
    "states, label=test_set.labels[0])": 'states, label=test_set.labels[0], classes=CLASES, language="es")',
    "# (28 steps, 8 units)": "# (28 pasos, 8 unidades)",
    "# (28 steps, 10 classes)": "# (28 pasos, 10 clases)",   # CLASES: defined with the hidden states, above
    "columns=utils.CLASSES,": "columns=CLASES,",
    '"""|dLoss/dx_t| for every step t, averaged over the images."""':
        '"""|dPérdida/dx_t| para cada paso t, promediado sobre las imágenes."""',
    "# (B, T, features)": "# (B, T, rasgos)",
    "# the last memory, as in 01": "# la última memoria, como en 01",
    'label=f"{read}: {len(g)} steps"': 'label=f"{read}: {len(g)} pasos"',
    'xlabel="position in the sequence (0 = first step, 1 = last)"':
        'xlabel="posición en la secuencia (0 = primer paso, 1 = último)"',
    'ylabel="gradient size reaching that step"': 'ylabel="tamaño del gradiente que llega"',
    'title="An untrained tanh RNN"': 'title="Una RNN tanh sin entrenar"',
    'xlabel="pixel read (step)"': 'xlabel="píxel leído (paso)"',
    'title="784 steps: untrained cells"': 'title="784 pasos: celdas sin entrenar"',
    '{"cell": cell, "parameters":': '{"celda": cell, "parámetros":',
    '"test macro accuracy":': '"exactitud macro en test":',
}
