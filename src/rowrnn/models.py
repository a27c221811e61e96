"""Classifiers that read a 28x28 image as a sequence, and a small CNN baseline.

The defaults of RNNClassifier ARE the notebook's model: nn.RNN(28 -> 8), the
output at the last step, Linear(8 -> 10); 394 parameters named rnn.* and fc.*.

    model = RNNClassifier()                    # the notebook model
    logits = model(x)                          # (B, 1, 28, 28) -> (B, 10)
    probs = model.step_probabilities(x)        # (B, 28, 10): the guess after each row
"""
from __future__ import annotations

import math

import torch
from torch import nn

NUM_CLASSES = 10
IMAGE_SIZE = 28


class ElmanRNN(nn.Module):
    """The recurrence written out for reading: h_t = tanh(W . [x_t ; h_{t-1}] + b).

    The notebook's picture -- the previous output is concatenated with the input.
    Parameters have nn.RNN's names and shapes (W = [weight_ih | weight_hh],
    b = bias_ih + bias_hh), so weights move between the two unchanged.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 dropout=0.0, bidirectional=False, batch_first=True):
        super().__init__()
        if not batch_first:
            raise ValueError("ElmanRNN only supports batch_first=True")
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.bidirectional = bidirectional
        self.activation = {"tanh": torch.tanh, "relu": torch.relu}[nonlinearity]
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


RECURRENT_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM, "elman": ElmanRNN}
READOUTS = ("last", "mean", "max", "mean+max")
READS = ("rows", "columns", "rows+columns", "pixels", "permuted-pixels")


def pixel_permutation(seed: int) -> torch.Tensor:
    """The fixed pixel order of --read permuted-pixels: a function of the seed alone."""
    return torch.randperm(IMAGE_SIZE * IMAGE_SIZE, generator=torch.Generator().manual_seed(seed))


class RNNClassifier(nn.Module):
    """A recurrent reader (or two, for rows+columns), a readout, and a linear head."""

    def __init__(self, cell="rnn", hidden_size=8, num_layers=1, bidirectional=False,
                 nonlinearity="tanh", dropout=0.0, readout="last", read="rows",
                 permutation_seed=0, init="default"):
        super().__init__()
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"unknown cell {cell!r}; valid: {', '.join(RECURRENT_CELLS)}")
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; valid: {', '.join(READOUTS)}")
        if read not in READS:
            raise ValueError(f"unknown read {read!r}; valid: {', '.join(READS)}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: tanh, relu")
        self.cell, self.readout, self.read = cell, readout, read
        self.hidden_size, self.bidirectional = hidden_size, bidirectional
        input_size = 1 if "pixels" in read else IMAGE_SIZE
        kwargs = dict(num_layers=num_layers, batch_first=True, bidirectional=bidirectional, dropout=dropout)
        if cell in ("rnn", "elman"):
            kwargs["nonlinearity"] = nonlinearity
        self.rnn = RECURRENT_CELLS[cell](input_size, hidden_size, **kwargs)
        readers = 1
        if read == "rows+columns":
            self.rnn_columns = RECURRENT_CELLS[cell](input_size, hidden_size, **kwargs)
            readers = 2
        if read == "permuted-pixels":
            self.register_buffer("permutation", pixel_permutation(permutation_seed))
        features = hidden_size * (2 if bidirectional else 1) * (2 if readout == "mean+max" else 1) * readers
        self.fc = nn.Linear(features, NUM_CLASSES)
        if init == "orthogonal":
            for name, p in self.named_parameters():
                if "weight_hh" in name:
                    for gate in p.data.split(hidden_size):   # gates stacked along dim 0
                        nn.init.orthogonal_(gate)
                elif "bias" in name and not name.startswith("fc"):
                    nn.init.zeros_(p)

    def sequences(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image as the sequence(s) each reader sees: (B, 1, 28, 28) -> [(B, T, F)]."""
        x = x.reshape(x.shape[0], IMAGE_SIZE, IMAGE_SIZE)           # the notebook's squeeze(1)
        if self.read == "rows":
            return [x]                                               # (B, 28, 28): row t at step t
        if self.read == "columns":
            return [x.transpose(1, 2)]                               # (B, 28, 28): column t at step t
        if self.read == "rows+columns":
            return [x, x.transpose(1, 2)]
        pixels = x.reshape(x.shape[0], -1)                           # (B, 784)
        if self.read == "permuted-pixels":
            pixels = pixels[:, self.permutation]
        return [pixels.unsqueeze(-1)]                                # (B, 784, 1)

    def _features(self, out: torch.Tensor) -> torch.Tensor:
        if self.readout == "last":
            if not self.bidirectional:
                return out[:, -1]                                    # (B, T, H) -> (B, H)
            H = self.hidden_size                                     # backward direction ends at t=0
            return torch.cat([out[:, -1, :H], out[:, 0, H:]], dim=1)
        if self.readout == "mean":
            return out.mean(dim=1)
        if self.readout == "max":
            return out.amax(dim=1)
        return torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=1)

    def forward(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Logits (B, 10); `steps` reads only the first steps of each sequence."""
        readers = [self.rnn] + ([self.rnn_columns] if self.read == "rows+columns" else [])
        feats = []
        for reader, seq in zip(readers, self.sequences(x)):
            out, _ = reader(seq[:, :steps])                          # (B, T, H * directions)
            feats.append(self._features(out))
        return self.fc(torch.cat(feats, dim=1))

    @property
    def num_steps(self) -> int:
        return IMAGE_SIZE * IMAGE_SIZE if "pixels" in self.read else IMAGE_SIZE

    @torch.no_grad()
    def step_probabilities(self, x: torch.Tensor, num_points: int | None = None) -> torch.Tensor:
        """Class probabilities after reading the first t steps, t = 1..T: (B, 1, 28, 28) -> (B, T', 10).

        Each row is the model's whole answer when the sequence stops at t, so it is
        exact for every cell, readout and direction; the last row equals softmax(model(x)).
        num_points picks T' evenly spaced prefix lengths (all T by default).
        """
        T = self.num_steps
        lengths = range(1, T + 1) if num_points is None else torch.linspace(1, T, num_points).round().int().tolist()
        probs = [self(x, steps=t).softmax(dim=-1) for t in lengths]
        return torch.stack(probs, dim=1)


class CNNClassifier(nn.Module):
    """Two conv layers (c, 2c channels), max-pooling, a linear head: the baseline the notebook compares to."""

    def __init__(self, channels=32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.BatchNorm2d(2 * channels), nn.ReLU(),
            nn.MaxPool2d(2))                                          # (B, 1, 28, 28) -> (B, 2c, 7, 7)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(2 * channels * 7 * 7, NUM_CLASSES)

    def forward(self, x):
        x = x.reshape(x.shape[0], 1, IMAGE_SIZE, IMAGE_SIZE)
        return self.fc(self.dropout(self.features(x).flatten(1)))


MODELS = {"recurrent": RNNClassifier, "cnn": CNNClassifier}


def build_model(cfg) -> nn.Module:
    """A model from a ModelConfig (or anything with the same attributes)."""
    if cfg.arch not in MODELS:
        raise ValueError(f"unknown arch {cfg.arch!r}; valid: {', '.join(MODELS)}")
    if cfg.arch == "cnn":
        return CNNClassifier(channels=cfg.hidden_size)
    return RNNClassifier(cell=cfg.cell, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                         bidirectional=cfg.bidirectional, nonlinearity=cfg.nonlinearity,
                         dropout=cfg.dropout, readout=cfg.readout, read=cfg.read,
                         permutation_seed=cfg.permutation_seed, init=cfg.init)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
