"""Classifiers that read a 28x28 image as a sequence, and a small CNN baseline.

The defaults of RNNClassifier ARE the notebook's model: nn.RNN(28 -> 8), the
output at the last step, Linear(8 -> 10); 394 parameters named rnn.* and fc.*.

    model = RNNClassifier()                    # the notebook model
    logits = model(x)                          # (B, 1, 28, 28) -> (B, 10)
    probs = model.step_probabilities(x)        # (B, 28, 10): the guess after each row
    states = model.hidden_states(x)            # (B, 28, 8): h_t while it reads

The cells mingru, minlstm and lru (rowrnn.recurrences) train in parallel over time; they read inside a
pre-norm residual stack (input projection, blocks of cell + MLP), and the pooled features pass a LayerNorm.
"""
from __future__ import annotations

import functools
import math
import operator

import torch
from torch import nn

from .constants import CLASSES, IMAGE_SIZE, NUM_CLASSES
from .errors import RowrnnError
from .pixels import model_input
from .recurrences import PARALLEL_CELLS, SCANS, ResidualStack, describe_parameter


class ElmanRNN(nn.Module):
    """The recurrence written out for reading: h_t = tanh(W . [x_t ; h_{t-1}] + b).

    The notebook's picture -- the previous output is concatenated with the input.
    Parameters have nn.RNN's names and shapes (W = [weight_ih | weight_hh],
    b = bias_ih + bias_hh), so weights move between the two unchanged.
    """

    ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 dropout=0.0, bidirectional=False, batch_first=True):
        super().__init__()
        if not batch_first:
            raise ValueError("ElmanRNN only supports batch_first=True")
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.bidirectional = bidirectional
        self.activation = self.ACTIVATIONS[nonlinearity]
        bound = 1 / math.sqrt(hidden_size)  # nn.RNN's initialization
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * directions
            for suffix in [f"l{layer}"] + ([f"l{layer}_reverse"] if bidirectional else []):
                for name, shape in ((f"weight_ih_{suffix}", (hidden_size, in_size)),
                                    (f"weight_hh_{suffix}", (hidden_size, hidden_size)),
                                    (f"bias_ih_{suffix}", (hidden_size,)),
                                    (f"bias_hh_{suffix}", (hidden_size,))):
                    self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def _run(self, x, suffix):
        W = torch.cat([getattr(self, f"weight_ih_{suffix}"), getattr(self, f"weight_hh_{suffix}")], dim=1)
        b = getattr(self, f"bias_ih_{suffix}") + getattr(self, f"bias_hh_{suffix}")
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            h = self.activation(torch.cat([x[:, t], h], dim=1) @ W.T + b)  # (B, I+H) -> (B, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1)                                  # (B, T, H)

    def forward(self, x):
        """(B, T, input_size) -> (outputs of the top layer (B, T, hidden_size * directions), each layer's and
        direction's last state (num_layers * directions, B, hidden_size)), as nn.RNN with batch_first=True."""
        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout and self.training:
                x = nn.functional.dropout(x, self.dropout)
            out = self._run(x, f"l{layer}")
            finals.append(out[:, -1])
            if self.bidirectional:
                back = self._run(x.flip(1), f"l{layer}_reverse").flip(1)
                finals.append(back[:, 0])
                out = torch.cat([out, back], dim=2)                         # (B, T, 2H)
            x = out
        return x, torch.stack(finals)                                       # as nn.RNN: (output, h_n)


# The registries: the config's choices and the CLI's --choices come from these.
RECURRENT_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM, "elman": ElmanRNN,
                   **{name: functools.partial(ResidualStack, cell=name) for name in PARALLEL_CELLS}}
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "elman": 1}          # weight blocks per layer and direction (classic cells)
NONLINEARITIES = tuple(ElmanRNN.ACTIVATIONS)                  # for the rnn and elman cells
READOUTS = ("last", "mean", "max", "mean+max")
READS = ("rows", "columns", "rows+columns", "pixels", "permuted-pixels")
INITS = ("default", "orthogonal")


def strip_heights(image_size: int = IMAGE_SIZE) -> tuple[int, ...]:
    """The rows_per_step an image of image_size S pixels a side allows: S's divisors, ascending (1, 2, 4, 7, 14,
    28 at 28; 1, 2, 4, 8 at 8), since a reading of rows (or columns) takes S/k strips of k rows. The one list
    config's --rows-per-step check and rowrnn.plots name."""
    return tuple(k for k in range(1, image_size + 1) if image_size % k == 0)


def pixel_permutation(seed: int, image_size: int = IMAGE_SIZE) -> torch.Tensor:
    """The fixed pixel order of --read permuted-pixels (image_size ** 2 pixels): a function of the seed alone."""
    return torch.randperm(image_size * image_size, generator=torch.Generator().manual_seed(seed))


class _CheckedLoading:
    """load_state_dict that checks the weights first (rowrnn.state_dicts.fit_state_dict): the course's route,
    `RNNClassifier().load_state_dict(notebook.state_dict())`, names every mismatch in one line, refuses integer
    weights and converts (and says) half precision, as rowrnn.load_model does."""

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """torch's load_state_dict (same arguments and result) of the state_dict fit_state_dict returns.
        Raises WeightsMismatch (a RowrnnError and a RuntimeError) for weights that do not fit, in one line."""
        from .state_dicts import fit_state_dict
        return super().load_state_dict(fit_state_dict(self, state_dict, strict=strict), strict=strict, assign=assign)


class RNNClassifier(_CheckedLoading, nn.Module):
    """A recurrent reader (or two, for rows+columns), a readout, and a linear head.

    rows_per_step=k reads strips of k rows (or columns) per step: T = S/k steps of S*k pixels, for images of
    image_size S (28: Fashion-MNIST's) pixels a side; num_classes is the head's outputs (10).
    The parallel cells (mingru, minlstm, lru) read with a ResidualStack of num_layers blocks of width
    hidden_size, their bidirectional blocks mixing both directions back to hidden_size at every step;
    scan ("auto", "step" or "parallel") picks how their recurrence is computed (the results are equal;
    "auto" loops on a CPU, where that is faster, and scans on an accelerator).
    """

    def __init__(self, cell="rnn", hidden_size=8, num_layers=1, bidirectional=False,
                 nonlinearity="tanh", dropout=0.0, readout="last", read="rows",
                 permutation_seed=0, init="default", rows_per_step=1, readout_dropout=0.0, scan="auto",
                 num_classes=NUM_CLASSES, image_size=IMAGE_SIZE):
        super().__init__()
        for name, value, valid in (("cell", cell, RECURRENT_CELLS), ("readout", readout, READOUTS),
                                   ("read", read, READS), ("nonlinearity", nonlinearity, NONLINEARITIES),
                                   ("init", init, INITS), ("scan", scan, SCANS)):
            if value not in valid:
                raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")
        try:   # any integer (a NumPy one too, as before), never a bool, a float or a string
            steps = None if isinstance(rows_per_step, bool) else operator.index(rows_per_step)
        except TypeError:
            steps = None
        if steps is None or steps < 1:
            raise ValueError(f"rows_per_step must be a positive integer dividing image_size, got {rows_per_step!r}")
        rows_per_step = steps
        if "pixels" in read and rows_per_step != 1:
            raise ValueError("rows_per_step applies to reading rows or columns, not pixels")
        if "pixels" not in read and image_size % rows_per_step:
            raise ValueError(f"rows_per_step {rows_per_step} does not divide image_size {image_size}")
        self.num_classes, self.image_size = num_classes, image_size
        self.stacked = cell in PARALLEL_CELLS                        # a ResidualStack of parallel cells
        if self.stacked and (init != "default" or nonlinearity != "tanh"):
            raise ValueError(f"init and nonlinearity apply to the rnn, gru, lstm and elman cells, not {cell!r}")
        self.cell, self.readout, self.read = cell, readout, read
        self.hidden_size, self.bidirectional, self.rows_per_step = hidden_size, bidirectional, rows_per_step
        input_size = 1 if "pixels" in read else image_size * rows_per_step
        kwargs = dict(num_layers=num_layers, batch_first=True, bidirectional=bidirectional, dropout=dropout)
        if cell in ("rnn", "elman"):
            kwargs["nonlinearity"] = nonlinearity
        if self.stacked:
            kwargs["scan"] = scan
        self.rnn = RECURRENT_CELLS[cell](input_size, hidden_size, **kwargs)
        if read == "rows+columns":
            self.rnn_columns = RECURRENT_CELLS[cell](input_size, hidden_size, **kwargs)
        if read == "permuted-pixels":
            self.register_buffer("permutation", pixel_permutation(permutation_seed, image_size))
        self.dropout = nn.Dropout(readout_dropout)                   # no parameters: old weights still load
        features = readout_features(hidden_size, bidirectional, readout, read, cell)
        self.norm = nn.LayerNorm(features) if self.stacked else nn.Identity()   # Identity: old weights still load
        self.fc = nn.Linear(features, num_classes)
        if init == "orthogonal":
            for name, p in self.named_parameters():
                if "weight_hh" in name:
                    for gate in p.data.split(hidden_size):   # gates stacked along dim 0
                        nn.init.orthogonal_(gate)
                elif "bias" in name and not name.startswith("fc"):
                    nn.init.zeros_(p)

    @classmethod
    def from_config(cls, cfg, num_classes: int = NUM_CLASSES, image_size: int = IMAGE_SIZE) -> "RNNClassifier":
        """The reader a ModelConfig (arch "recurrent") describes, for num_classes classes of image_size images."""
        return cls(cell=cfg.cell, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                   bidirectional=cfg.bidirectional, nonlinearity=cfg.nonlinearity, dropout=cfg.dropout,
                   readout=cfg.readout, read=cfg.read, permutation_seed=cfg.permutation_seed, init=cfg.init,
                   rows_per_step=cfg.rows_per_step, readout_dropout=cfg.readout_dropout,
                   num_classes=num_classes, image_size=image_size)

    @property
    def readers(self) -> list[nn.Module]:
        """The recurrent layers that read the image: [rows] or, for read="rows+columns", [rows, columns]."""
        return [self.rnn] + ([self.rnn_columns] if self.read == "rows+columns" else [])

    @property
    def num_steps(self) -> int:
        """Steps of one reading: S*S for pixels (784 at 28), else S / rows_per_step."""
        S = self.image_size
        return S * S if "pixels" in self.read else S // self.rows_per_step

    def sequences(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image as the sequence(s) each reader sees: (B, 1, S, S) -> [(B, T, F)]."""
        B, k, S = x.shape[0], self.rows_per_step, self.image_size
        x = x.reshape(B, S, S)                                       # the notebook's squeeze(1)
        if "pixels" in self.read:
            pixels = x.reshape(B, -1)                                # (B, 784)
            if self.read == "permuted-pixels":
                pixels = pixels[:, self.permutation]
            return [pixels.unsqueeze(-1)]                            # (B, 784, 1)
        rows, columns = x, x.transpose(1, 2)                         # step t: row t, or column t
        chosen = {"rows": [rows], "columns": [columns], "rows+columns": [rows, columns]}[self.read]
        return [s.reshape(B, S // k, S * k) for s in chosen]        # (B, S/k, Sk): k lines a step

    def _head(self, features: torch.Tensor) -> torch.Tensor:
        """(..., F) -> (..., 10): the logits from readout features."""
        return self.fc(self.dropout(self.norm(features)))

    def _read(self, reader: nn.Module, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F) -> (what the readout reads, what hidden_states shows): the same tensor for the classic
        cells; for a stack, its residual stream and its top block's cell outputs h_t."""
        out, states = reader(seq)
        return (out, states) if self.stacked else (out, out)

    def _features(self, out: torch.Tensor) -> torch.Tensor:
        """(B, T, H * directions) -> (B, F): the readout over the whole sequence read."""
        if self.readout == "last":
            if not self.bidirectional or self.stacked:                # a stack's stream mixes both directions
                return out[:, -1]
            H = self.hidden_size                                     # backward direction ends at t=0
            return torch.cat([out[:, -1, :H], out[:, 0, H:]], dim=1)
        if self.readout == "mean":
            return out.mean(dim=1)
        if self.readout == "max":
            return out.amax(dim=1)
        return torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=1)

    def _prefix_features(self, out: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, T, F): the readout of every prefix 1..t at once (one direction only)."""
        if self.readout == "last":
            return out
        steps = torch.arange(1, out.shape[1] + 1, device=out.device, dtype=out.dtype)[:, None]
        mean, peak = out.cumsum(dim=1) / steps, out.cummax(dim=1).values
        return {"mean": mean, "max": peak, "mean+max": torch.cat([mean, peak], dim=2)}[self.readout]

    def forward(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Logits (B, 10); `steps` reads only the first steps of each sequence."""
        return self.read_sequences([seq[:, :steps] for seq in self.sequences(x)])

    def read_sequences(self, sequences: list[torch.Tensor]) -> torch.Tensor:
        """Logits (B, 10) from the sequences each reader sees, as `sequences` gives them: [(B, T, F)] -> (B, 10).
        The part of forward after the image is cut into steps: attribution changes one step of one reader here."""
        feats = [self._features(reader(seq)[0]) for reader, seq in zip(self.readers, sequences)]  # each (B, F)
        return self._head(torch.cat(feats, dim=1))

    def _images(self, x, value_range) -> torch.Tensor:
        """A helper's x through rowrnn.pixels.model_input -> (B, 1, 28, 28) on the device and in the dtype of the
        model's weights."""
        weight = self.fc.weight
        return model_input(x, value_range=value_range, name="x", size=self.image_size,
                           dtype=weight.dtype).to(weight.device)

    def hidden_states(self, x: torch.Tensor, *, value_range=None) -> torch.Tensor:
        """The top layer's output h_t at every step: images (B, 1, 28, 28) -> (B, T, H * directions * readers).

        For a stack of parallel cells: the top block's cell outputs (h_t of each direction's minGRU or minLSTM,
        y_t of each LRU), before they are mixed into the residual stream.
        x, like every helper's here (not forward's, the training path, which takes normalized floats as they
        are): any form of rowrnn.pixels.model_input's table (uint8 pixels, normalized floats; value_range=(0, 1)
        declares ToTensor() floats), shaped (B, 1, 28, 28), (B, 28, 28) or (28, 28). Raises RowrnnError for
        images (or value_range) that model_input refuses.
        """
        x = self._images(x, value_range)
        return torch.cat([self._read(reader, seq)[1] for reader, seq in zip(self.readers, self.sequences(x))],
                         dim=2)

    def step_logits(self, x: torch.Tensor, lengths=None, *, value_range=None) -> torch.Tensor:
        """Logits after reading the first t steps, for t in lengths (default 1..T): (B, 1, 28, 28) -> (B, T', 10).
        x and value_range: as for hidden_states (rowrnn.pixels.model_input's table).

        Row t equals model(x, steps=t). A forward-only model needs one pass (the readout of every prefix
        comes from cumulative sums and maxima). A bidirectional one must re-read each prefix, since its
        backward direction starts from the prefix's end: all prefixes go through as one packed batch of
        sequences of lengths t (a stack of parallel cells takes the lengths itself; the from-scratch ElmanRNN,
        which takes no packed input, reads them one by one).
        """
        x = self._images(x, value_range)
        lengths = list(range(1, self.num_steps + 1)) if lengths is None else [int(t) for t in lengths]
        if not self.bidirectional:
            feats = [self._prefix_features(reader(seq)[0]) for reader, seq in zip(self.readers, self.sequences(x))]
            logits = self._head(torch.cat(feats, dim=2))                # (B, T, F) -> (B, T, 10)
            return logits[:, [t - 1 for t in lengths]]
        if self.cell == "elman":
            return torch.stack([self(x, steps=t) for t in lengths], dim=1)
        B, P = x.shape[0], len(lengths)
        steps = torch.tensor(lengths).repeat(B)                           # (B*P,): prefix lengths, image-major
        feats = [self._packed_prefix_features(reader, seq.repeat_interleave(P, dim=0), steps)
                 for reader, seq in zip(self.readers, self.sequences(x))]
        return self._head(torch.cat(feats, dim=1)).reshape(B, P, -1)

    def reading(self, x: torch.Tensor, *, value_range=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(step_logits(x), hidden_states(x)), from one pass of the readers when they only read forward.
        x and value_range: as for hidden_states (rowrnn.pixels.model_input's table)."""
        x = self._images(x, value_range)
        if self.bidirectional:
            return self.step_logits(x, value_range=(-1, 1)), self.hidden_states(x, value_range=(-1, 1))
        reads = [self._read(reader, seq) for reader, seq in zip(self.readers, self.sequences(x))]  # each (B, T, H)
        logits = self._head(torch.cat([self._prefix_features(out) for out, _ in reads], dim=2))
        return logits, torch.cat([states for _, states in reads], dim=2)

    def _packed_prefix_features(self, reader, seq: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Readout features of each sequence read only up to its own length: (N, T, F), (N,) -> (N, features)."""
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        if self.stacked:
            out = reader(seq, lengths=steps)[0]                                 # (N, T, H), zero past each length
        else:
            packed = pack_padded_sequence(seq, steps, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(reader(packed)[0], batch_first=True, total_length=seq.shape[1])  # (N, T, 2H)
        valid = (torch.arange(seq.shape[1], device=seq.device)[None, :] < steps.to(seq.device)[:, None])[..., None]
        rows = torch.arange(len(steps), device=seq.device)
        H = self.hidden_size
        last = (out[rows, steps.to(seq.device) - 1] if self.stacked else
                torch.cat([out[rows, steps.to(seq.device) - 1, :H], out[:, 0, H:]], dim=1))
        mean = out.sum(dim=1) / steps.to(out)[:, None]                  # padding is zero
        peak = out.masked_fill(~valid, float("-inf")).amax(dim=1)
        return {"last": last, "mean": mean, "max": peak, "mean+max": torch.cat([mean, peak], dim=1)}[self.readout]

    @torch.no_grad()
    def step_probabilities(self, x: torch.Tensor, num_points: int | None = None, *, value_range=None) -> torch.Tensor:
        """Class probabilities after reading the first t steps: (B, 1, 28, 28) -> (B, T', 10).

        Each row is the model's whole answer when the sequence stops at t, so it is
        exact for every cell, readout and direction; the last row equals softmax(model(x)).
        num_points picks T' evenly spaced prefix lengths (all T by default). x and value_range: as for
        hidden_states (rowrnn.pixels.model_input's table).
        """
        lengths = None if num_points is None else torch.linspace(1, self.num_steps, num_points).round().long().tolist()
        return self.step_logits(x, lengths, value_range=value_range).softmax(dim=-1)


def readout_features(hidden_size: int, bidirectional: bool, readout: str, read: str, cell: str = "rnn") -> int:
    """Width of the vector the linear head reads (a stack of parallel cells outputs hidden_size per step)."""
    directions = 2 if bidirectional and cell not in PARALLEL_CELLS else 1
    return hidden_size * directions * (2 if readout == "mean+max" else 1) * (2 if read == "rows+columns" else 1)


class CNNClassifier(_CheckedLoading, nn.Module):
    """Two stages of `blocks` conv layers (c, then 2c channels), each ending in max-pooling, and a linear head.

    blocks=1 is the two-conv baseline; blocks=2 the four-conv network of the cnn preset.
    """

    def __init__(self, channels=32, blocks=1, num_classes=NUM_CLASSES, image_size=IMAGE_SIZE):
        super().__init__()
        self.num_classes, self.image_size = num_classes, image_size
        layers, in_channels = [], 1
        for out_channels in (channels, 2 * channels):
            for _ in range(blocks):
                layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
                           nn.ReLU()]
                in_channels = out_channels
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)                       # (B, 1, S, S) -> (B, 2c, S//4, S//4)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(2 * channels * (image_size // 4) ** 2, num_classes)

    @classmethod
    def from_config(cls, cfg, num_classes: int = NUM_CLASSES, image_size: int = IMAGE_SIZE) -> "CNNClassifier":
        """The CNN a ModelConfig (arch "cnn") describes: hidden_size channels, num_layers convolutions a stage."""
        return cls(channels=cfg.hidden_size, blocks=cfg.num_layers, num_classes=num_classes, image_size=image_size)

    def forward(self, x):
        """Normalized images (B, 1, S, S) (or (B, S, S)) -> logits (B, num_classes)."""
        x = x.reshape(x.shape[0], 1, self.image_size, self.image_size)
        return self.fc(self.dropout(self.features(x).flatten(1)))


MODELS = {"recurrent": RNNClassifier, "cnn": CNNClassifier}


def build_model(cfg, *, num_classes: int | None = None, image_size: int | None = None) -> nn.Module:
    """A model from a ModelConfig (or anything with the same attributes), or from a whole RunConfig (its .model,
    as rowrnn.build_config returns), for num_classes classes of images image_size pixels a side. Left out, they
    are a RunConfig's (its num_classes and data.image_size: rowrnn.datasets.dataset_of says the same), else
    Fashion-MNIST's 10 and 28. Raises RowrnnError for something that has no arch (naming cfg: pass a
    ModelConfig) or an arch that is not one of MODELS ("recurrent", "cnn")."""
    if not hasattr(cfg, "arch") and hasattr(getattr(cfg, "model", None), "arch"):
        data = getattr(cfg, "data", None)
        num_classes = num_classes or getattr(cfg, "num_classes", None)
        image_size = image_size or getattr(data, "image_size", None)
        cfg = cfg.model                                   # a RunConfig: its model section
    if not hasattr(cfg, "arch"):
        raise RowrnnError(f"cfg must be a ModelConfig (rowrnn.build_config(...).model) or a RunConfig, "
                          f"got {type(cfg).__name__}")
    if cfg.arch not in MODELS:
        raise RowrnnError(f"cfg.arch must be one of {', '.join(MODELS)}, got {cfg.arch!r}")
    return MODELS[cfg.arch].from_config(cfg, num_classes=num_classes or NUM_CLASSES,
                                        image_size=image_size or IMAGE_SIZE)


def class_names(model, classes=None) -> tuple:
    """The names of a model's outputs, in label order: `classes` when given (checked: one name per output),
    else the run's classes that rowrnn.load_model records on the model it loads (model.classes, from
    rowrnn.datasets.dataset_of), else Fashion-MNIST's for a bare model of 10 outputs and "0".."C-1" for one of
    another number. Raises RowrnnError naming `classes` when their number is not the model's outputs."""
    outputs = getattr(model, "num_classes", None)            # None: a model of unknown outputs (an OnnxClassifier)
    if classes is None:
        classes = getattr(model, "classes", None)
        if classes is None:
            outputs = outputs or NUM_CLASSES
            return CLASSES if outputs == NUM_CLASSES else tuple(str(i) for i in range(outputs))
    classes = tuple(str(c) for c in classes)
    if outputs is not None and len(classes) != outputs:
        raise RowrnnError(f"classes names {len(classes)} classes, but the model has {outputs} outputs: give one "
                          f"name per output (rowrnn.load_model's model knows its run's)")
    return classes


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in model (every parameter with requires_grad), all layers included."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


RNN_WEIGHTS = {"weight_ih": "input-to-hidden weights W_ih", "weight_hh": "hidden-to-hidden weights W_hh",
               "bias_ih": "input-to-hidden bias b_ih", "bias_hh": "hidden-to-hidden bias b_hh"}
GATE_ORDER = {"gru": "r, z, n", "lstm": "i, f, g, o"}  # how PyTorch stacks the gates along dim 0


def parameter_table(model: nn.Module) -> list[tuple[str, tuple, int, str]]:
    """(name, shape, count, meaning) for every weight tensor: where a model's parameters are."""
    rows = []
    for name, p in model.named_parameters():
        owner_name, _, leaf = name.rpartition(".")
        owner = model.get_submodule(owner_name)
        reader_name, _, inner = name.partition(".")
        if getattr(model, "stacked", False) and reader_name in ("rnn", "rnn_columns"):
            meaning = (describe_parameter(model.cell, inner)
                       + (", column reader" if reader_name == "rnn_columns" else ""))
        elif isinstance(owner, (nn.RNNBase, ElmanRNN)):
            kind, _, where = leaf.partition("_l")                   # 'weight_ih', '0_reverse'
            layer, _, reverse = where.partition("_")
            cell = getattr(model, "cell", "")
            meaning = (RNN_WEIGHTS[kind] + (f" ({GATE_ORDER[cell]} gates stacked)" if cell in GATE_ORDER else "")
                       + f", layer {int(layer) + 1}" + (", backward direction" if reverse else "")
                       + (", column reader" if owner_name == "rnn_columns" else ""))
        elif isinstance(owner, nn.LayerNorm):
            meaning = "layer norm " + {"weight": "scale", "bias": "shift"}[leaf] + " of the readout features"
        else:
            meaning = {nn.Linear: "linear head", nn.Conv2d: "convolution", nn.BatchNorm2d: "batch norm"}.get(
                type(owner), owner_name) + {"weight": " weights", "bias": " bias"}.get(leaf, f" {leaf}")
        rows.append((name, tuple(p.shape), p.numel(), meaning))
    return rows


def parameter_count(cfg, *, num_classes: int = NUM_CLASSES, image_size: int = IMAGE_SIZE) -> int:
    """The parameters build_model(cfg, num_classes=..., image_size=...) would have, in closed form: nothing is
    allocated or looped over, so absurd sizes (num_layers = 10**8) are counted instantly."""
    H, L, S, C = cfg.hidden_size, cfg.num_layers, image_size, num_classes
    if cfg.arch == "cnn":
        def conv(c_in, c_out):  # weights + bias + BatchNorm's scale and shift
            return c_in * c_out * 9 + 3 * c_out
        stages = conv(1, H) + (L - 1) * conv(H, H) + conv(H, 2 * H) + (L - 1) * conv(2 * H, 2 * H)
        return stages + 2 * H * (S // 4) ** 2 * C + C
    directions = 2 if cfg.bidirectional else 1
    input_size = 1 if "pixels" in cfg.read else S * cfg.rows_per_step
    features = readout_features(H, cfg.bidirectional, cfg.readout, cfg.read, cfg.cell)
    if cfg.cell in PARALLEL_CELLS:
        per_reader = ResidualStack.parameter_count(input_size, H, L, cfg.bidirectional, cfg.cell)
        head = 2 * features                                      # the LayerNorm on the readout features
    else:
        block = directions * GATES[cfg.cell] * H                 # rows of W_ih, W_hh and the biases
        per_reader = block * (input_size + H + 2) + (L - 1) * block * (H * directions + H + 2)
        head = 0
    return per_reader * (2 if cfg.read == "rows+columns" else 1) + head + features * C + C


def activation_count(cfg, batch_size: int, *, image_size: int = IMAGE_SIZE) -> int:
    """Rough number of floats a training step keeps for the backward pass (for the memory estimate)."""
    H, L, S = cfg.hidden_size, cfg.num_layers, image_size
    if cfg.arch == "cnn":
        return batch_size * 6 * (H * S ** 2 + 2 * H * (S // 2) ** 2) * L
    steps = S * S if "pixels" in cfg.read else S // cfg.rows_per_step
    readers = 2 if cfg.read == "rows+columns" else 1
    directions = 2 if cfg.bidirectional else 1
    if cfg.cell in PARALLEL_CELLS:  # per block: norms, MLP (2w twice), mix, residuals ~ 10w, plus each cell's
        per_cell = PARALLEL_CELLS[cfg.cell].SAVED_PER_STEP
        return batch_size * steps * H * readers * (1 + L * (10 + directions * per_cell))
    return batch_size * steps * H * directions * L * readers * (2 * GATES[cfg.cell] + 2)
