"""A model's reading as one traceable graph: what the static site's page runs in the browser (as ONNX).

    graph = ReadingGraph(model)                     # an nn.Module over a loaded model (eval mode)
    outputs = graph(images, keep)                   # images (N, 1, S, S) normalized; keep (N, R, T) 1 or 0
    dict(zip(graph.output_names, outputs))          # {"logits", "final", "probabilities", "hidden", "unrolled.h_t", ...}

The outputs are what rowrnn.reading.reading_view gives, computed the same way (the same functions where they trace,
exportable equivalents where they do not: no cummax, no packed sequences), so an ONNX export of it is checked
against reading_view. `keep` blanks steps as rowrnn.attribution's occlusion does (0: step t of reader r replaced by
the background), so one batched run of the same graph gives occlusion's scores. Names and shapes are written once,
here (output_names, facts), and travel in the site's manifest: the page never rebuilds them.
"""
from __future__ import annotations

import torch
from torch import nn

from .data import normalize
from .reading import MAX_UNROLLED_HIDDEN, is_recurrent
from .recurrences import reverse_within
from .unrolling import terms_of, unroll

INPUTS = ("images", "keep")          # a CNN's graph takes images alone
# the recurrence's numbers are traced step by step (unrolling.terms_of): 28 steps make a graph of a few hundred
# nodes, but a pixel reader's 784 made one of ~16,000 that took 46 s to export, 23 s to load in onnxruntime and
# 2.5 MB (a GRU-4): a pixel reader's graph goes without them (its reason: "steps")
MAX_UNROLLED_STEPS = 28         # a cost bound (Fashion-MNIST's rows), not an image size
UNROLLED_PREFIX = "unrolled."


class ReadingGraph(nn.Module):
    """One model's reading for the page: forward(images (N, 1, S, S), keep (N, R, T)) -> a tuple, named by
    output_names:

    logits (N, K): the model's answer on the (kept) sequences (K classes; S = image_size, the model's); final (N, K): the probabilities after the whole
    image (reading_view's final: the last row of probabilities, softmax(logits) for a CNN); and for a recurrent
    model probabilities (N, T, K) after every step t = 1..T (step_logits' softmax), hidden (N, T, H) (hidden_states),
    and, for hidden size <= MAX_UNROLLED_HIDDEN and at most MAX_UNROLLED_STEPS steps, one output per term of rowrnn.unrolling.unroll ("unrolled.<name>",
    (T, n)) for the FIRST image of the batch. keep: 1 reads step t of reader r as it is, 0 replaces it by the
    background (a black pixel, normalize(0) = -1), as rowrnn.attribution's occlusion does; a CNN takes no keep.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval()
        self.recurrent = is_recurrent(model)
        self.image_size = int(model.image_size)     # S: the run's dataset's, which the model was built for
        self.unrolls = (self.recurrent and model.hidden_size <= MAX_UNROLLED_HIDDEN
                        and model.num_steps <= MAX_UNROLLED_STEPS)
        # why a recurrent graph has no unrolled outputs (reading_view's unrolled_reason, plus "steps"), else None
        self.unrolled_reason = (None if self.unrolls else "not-recurrent" if not self.recurrent
                                else "hidden-size" if model.hidden_size > MAX_UNROLLED_HIDDEN else "steps")
        self.background = float(normalize(torch.zeros((), dtype=torch.uint8)))
        self.output_names = ["logits", "final"]
        self.unrolled = None
        if self.recurrent:
            self.output_names += ["probabilities", "hidden"]
            if self.unrolls:   # the static part (equations, labels, kinds) once, from a blank image
                self.unrolled = unroll(model, torch.zeros(self.image_size, self.image_size, dtype=torch.uint8),
                                       max_hidden=MAX_UNROLLED_HIDDEN)
                self.output_names += [UNROLLED_PREFIX + term["name"] for term in self.unrolled["terms"]]
            if model.bidirectional and not model.stacked:
                self.directions = nn.ModuleList(_direction_layers(reader) for reader in model.readers)
        # eval mode for good: an export puts a module in eval mode and back into the mode it found it in, which
        # would leave the model (BatchNorm, dropout) in training mode after an export of a fresh wrapper
        self.eval()

    @property
    def input_names(self) -> list[str]:
        """["images", "keep"] for a recurrent model, ["images"] for a CNN."""
        return list(INPUTS) if self.recurrent else ["images"]

    def example(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs of the right shapes (zeros image, all steps kept), for tracing."""
        images = torch.zeros(batch, 1, self.image_size, self.image_size)
        if not self.recurrent:
            return (images,)
        return images, torch.ones(batch, len(self.model.readers), self.model.num_steps)

    def forward(self, images: torch.Tensor, keep: torch.Tensor | None = None):
        """images (N, 1, S, S) normalized, keep (N, R, T) (None for a CNN) -> the outputs, in output_names'
        order (see the class)."""
        m = self.model
        if not self.recurrent:
            logits = m(images)
            return logits, logits.softmax(-1)
        blank = torch.full((), self.background, dtype=images.dtype)
        sequences = [torch.where(keep[:, r, :, None] > 0.5, seq, blank)             # (N, T, F) per reader
                     for r, seq in enumerate(m.sequences(images))]
        if m.bidirectional:
            # every prefix is read again (its backward direction starts at its end), and the whole sequence is
            # the last prefix: the logits and hidden states come from that read, so that each reader is traced
            # once, not twice. onnxruntime's session set-up grows faster than the graph: the mingru preset's
            # 2,839 nodes took 1.1 s in onnxruntime-web (Chromium, wasm loaded), its 1,683 now 0.4 s; the
            # bidirectional LSTMs' graphs also stop carrying their weights twice (bilstm: 2.6 MB -> 1.3 MB)
            step_logits, reads = self._prefix_reading(sequences)
            logits = step_logits[:, -1]
        else:
            reads = [m._read(reader, seq) for reader, seq in zip(m.readers, sequences)]   # (N, T, w), (N, T, H)
            # m.read_sequences from the same reads (the exporter's CSE merged a second trace only in part)
            logits = m._head(torch.cat([m._features(out) for out, _ in reads], dim=1))
            # one pass: the readout of every prefix (cummax as log2(T) shifted maxima: ONNX has none)
            step_logits = m._head(torch.cat([_prefix_features(out, m.readout) for out, _ in reads], dim=2))
        probabilities = step_logits.softmax(-1)                                   # (N, T, K)
        hidden = torch.cat([states for _, states in reads], dim=2)                # (N, T, H * directions * R)
        outputs = [logits, probabilities[:, -1], probabilities, hidden]
        if self.unrolls:
            outputs += [term.values for term in terms_of(m, sequences[0][0])[0]]   # (T, n) each
        return tuple(outputs)

    def _prefix_reading(self, sequences: list[torch.Tensor]):
        """A bidirectional model's RNNClassifier.step_logits, written so that it traces into ONNX, and its
        reading of the whole sequences: -> (step logits (N, T, K), [(what the readout reads (N, T, w), what
        hidden_states shows (N, T, H)) per reader], as RNNClassifier._read gives them)."""
        m = self.model
        T = sequences[0].shape[1]
        # (N*T,): prefix lengths 1..T for each image, from the data so that the batch size stays dynamic in ONNX
        steps = torch.ones_like(sequences[0][:, :, 0], dtype=torch.long).cumsum(1).reshape(-1)
        feats, reads = [], []
        for r, (reader, seq) in enumerate(zip(m.readers, sequences)):
            padded = seq.repeat_interleave(T, dim=0)                              # (N*T, T, F), read up to steps
            if m.stacked:      # the stack reads each sequence up to its length; its stream mixes both directions
                out, states = reader(padded, lengths=steps)
                feats.append(_masked_readout(out, steps, m.readout, None))
            else:
                out = states = _bidirectional_classic(self.directions[r], reader, padded, steps)
                feats.append(_masked_readout(out, steps, m.readout, m.hidden_size))
            # copy n*T + T-1 read image n's whole sequence: (N*T, T, w) -> (N, T, w)
            reads.append((out.reshape(-1, T, *out.shape[1:])[:, -1], states.reshape(-1, T, *states.shape[1:])[:, -1]))
        return m._head(torch.cat(feats, dim=1)).reshape(-1, T, m.fc.out_features), reads


def _prefix_features(out: torch.Tensor, readout: str) -> torch.Tensor:
    """RNNClassifier._prefix_features with the running maximum as log2(T) shifted maxima (Hillis and Steele's
    scan; ONNX has no cummax, and a loop over 784 pixels would be 784 nodes): (N, T, H) -> (N, T, F)."""
    if readout == "last":
        return out
    T = out.shape[1]
    steps = torch.arange(1, T + 1, dtype=out.dtype)[:, None]
    mean = out.cumsum(dim=1) / steps
    peak, shift = out, 1
    while shift < T:                    # peak[t] = max(out[t-2^k+1 .. t]) after round k
        floor = torch.full_like(peak[:, :shift], float("-inf"))
        peak = torch.maximum(peak, torch.cat([floor, peak[:, :-shift]], dim=1))
        shift *= 2
    return {"mean": mean, "max": peak, "mean+max": torch.cat([mean, peak], dim=2)}[readout]


def _direction_layers(reader: nn.Module) -> nn.ModuleList:
    """A bidirectional nn.RNN/GRU/LSTM as one-direction one-layer copies [(forward, backward) per layer], so that
    each prefix's backward direction can start at the prefix's end (what packed sequences do, which ONNX export
    does not take). An ElmanRNN is read by its own _run: its list is empty."""
    if not isinstance(reader, nn.RNNBase):
        return nn.ModuleList()
    layers = nn.ModuleList()
    for layer in range(reader.num_layers):
        pair = nn.ModuleList()
        for suffix in (f"l{layer}", f"l{layer}_reverse"):
            weight = getattr(reader, f"weight_ih_{suffix}")
            kwargs = {"nonlinearity": reader.nonlinearity} if isinstance(reader, nn.RNN) else {}
            copy = type(reader)(weight.shape[1], reader.hidden_size, batch_first=True, **kwargs)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(copy, f"{kind}_l0").data.copy_(getattr(reader, f"{kind}_{suffix}").data)
            pair.append(copy.eval())
        layers.append(pair)
    return layers


def _bidirectional_classic(layers, reader, x: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """A bidirectional classic reader's top-layer outputs with each sequence read only up to its own length (the
    backward direction starting at its end), as packed sequences give them: (N, T, F), (N,) -> (N, T, 2H),
    what lies beyond a length is left unread (masked by _masked_readout)."""
    for layer in range(reader.num_layers):
        if len(layers):
            forward = layers[layer][0](x)[0]
            backward = reverse_within(layers[layer][1](reverse_within(x, steps))[0], steps)
        else:                                                                      # ElmanRNN
            forward = reader._run(x, f"l{layer}")
            backward = reverse_within(reader._run(reverse_within(x, steps), f"l{layer}_reverse"), steps)
        x = torch.cat([forward, backward], dim=2)                                 # (N, T, 2H)
    return x


def _masked_readout(out: torch.Tensor, steps: torch.Tensor, readout: str, H: int | None) -> torch.Tensor:
    """RNNClassifier._packed_prefix_features' readout of outputs read up to each length: (N, T, w), (N,) ->
    (N, features). H: the hidden size of a bidirectional classic reader, whose "last" is the forward direction's
    last step and the backward direction's first; None for a stack (its last step only)."""
    valid = (torch.arange(out.shape[1])[None, :] < steps[:, None])[..., None]     # (N, T, 1)
    rows = torch.arange(steps.shape[0])             # not len(): the batch size stays dynamic in ONNX
    ends = out[rows, steps - 1]
    last = ends if H is None else torch.cat([ends[:, :H], out[:, 0, H:]], dim=1)
    mean = (out * valid).sum(dim=1) / steps.to(out.dtype)[:, None]
    peak = out.masked_fill(~valid, float("-inf")).amax(dim=1)
    return {"last": last, "mean": mean, "max": peak, "mean+max": torch.cat([mean, peak], dim=1)}[readout]
