"""The recurrence written out with its actual numbers: what a small recurrent model computes at every step.

For the first reader's first layer, forward direction (the rows reader of read="rows+columns"; block 1 of a
residual stack), every vector of the cell's equations at every step -- x_t, the input and hidden parts, the
gates, the candidate, h_t -- computed again from the model's own parameters, as plain lists of floats (JSON).
The page and the notebook widget show them when a step is clicked (issue 21, item 3).

    from rowrnn import unroll
    numbers = unroll(model, image_uint8)              # uint8 (28, 28); hidden size <= 16
    numbers["terms"][-1]["values"][5]                 # h_t after the sixth step: hidden_size floats
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .constants import IMAGE_SIZE
from .errors import RowrnnError
from .models import ElmanRNN
from .pixels import model_input
from .recurrences import g

DECIMALS = 6          # digits each number keeps: the page shows 3-4, tests compare to 1e-5


class Term(NamedTuple):
    """One vector of the equations at every step: name (machine key), label (plain text), latex, kind
    (input, pixels, previous, part, sum, gate, candidate, state, constant, output), values (T, n)."""

    name: str
    label: str
    latex: str
    kind: str
    values: torch.Tensor


def _x_term(x: torch.Tensor) -> Term:
    return Term("x_t", "x_t", "x_t", "input", x)


def _previous(h: torch.Tensor, name: str = "h_prev", label: str = "h_{t-1}", latex: str = "h_{t-1}") -> Term:
    """h_{t-1} at every step t: the state before it (zeros at the first step). (T, n) -> (T, n)."""
    return Term(name, label, latex, "previous", torch.cat([torch.zeros_like(h[:1]), h[:-1]]))


# -- the classic cells: weights named as torch.nn.RNN's (weight_ih_l0, ...), gates stacked along dim 0 ----------

def _classic_weights(reader) -> tuple[torch.Tensor, ...]:
    """(W_ih, W_hh, b_ih, b_hh) of layer 0, forward direction, as float32 on the CPU."""
    return tuple(getattr(reader, f"{kind}_l0").detach().float().cpu()
                 for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def _nonlinearity(reader) -> str:
    """'tanh' or 'relu': nn.RNN keeps the name, ElmanRNN the function."""
    if isinstance(reader, ElmanRNN):
        return next(name for name, f in ElmanRNN.ACTIVATIONS.items() if f is reader.activation)
    return reader.nonlinearity


def _rnn(reader, x: torch.Tensor, elman: bool):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): (T, I) -> terms, equation lines (text, latex)."""
    W_ih, W_hh, b_ih, b_hh = _classic_weights(reader)
    act = _nonlinearity(reader)
    f = ElmanRNN.ACTIVATIONS[act]
    input_part = x @ W_ih.T + b_ih                                   # (T, I) -> (T, H): all steps at once
    h, hidden_parts, pres, hs = x.new_zeros(W_hh.shape[0]), [], [], []
    for a_t in input_part:
        hidden_parts.append(h @ W_hh.T + b_hh)
        pres.append(a_t + hidden_parts[-1])
        h = f(pres[-1])
        hs.append(h)
    h = torch.stack(hs)
    terms = [_x_term(x), _previous(h),
             Term("input_part", "W_ih x_t + b_ih", r"W_{ih} x_t + b_{ih}", "part", input_part),
             Term("hidden_part", "W_hh h_{t-1} + b_hh", r"W_{hh} h_{t-1} + b_{hh}", "part", torch.stack(hidden_parts)),
             Term("preactivation", "a_t", "a_t", "sum", torch.stack(pres)),
             Term("h_t", "h_t", "h_t", "output", h)]
    text = [f"a_t = W_ih x_t + b_ih + W_hh h_{{t-1}} + b_hh", f"h_t = {act}(a_t), h_0 = 0"]
    latex = [r"a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}", rf"h_t = \{act}(a_t),\; h_0 = 0"
             if act == "tanh" else r"h_t = \max(0, a_t),\; h_0 = 0"]
    if elman:    # the notebook's picture: one matrix on [x_t ; h_{t-1}], the same numbers
        text.insert(0, f"h_t = {act}(W [x_t ; h_{{t-1}}] + b), W = [W_ih | W_hh], b = b_ih + b_hh")
        latex.insert(0, rf"h_t = \mathrm{{{act}}}(W [x_t ; h_{{t-1}}] + b),\; W = [W_{{ih}} \mid W_{{hh}}],"
                        r"\; b = b_{ih} + b_{hh}")
    return terms, text, latex, act


def _gru(reader, x: torch.Tensor):
    """torch.nn.GRU's equations (gates r, z, n stacked in that order): (T, I) -> terms, equation lines."""
    W_ih, W_hh, b_ih, b_hh = _classic_weights(reader)
    H = W_hh.shape[1]
    gi = (x @ W_ih.T + b_ih).split(H, dim=1)                         # (T, 3H) -> r, z, n input parts (T, H)
    h, parts, hs = x.new_zeros(H), {k: [] for k in ("r_hidden", "z_hidden", "n_hidden", "r", "z", "n")}, []
    for t in range(x.shape[0]):
        gh = (h @ W_hh.T + b_hh).split(H)
        r, z = torch.sigmoid(gi[0][t] + gh[0]), torch.sigmoid(gi[1][t] + gh[1])
        n = torch.tanh(gi[2][t] + r * gh[2])
        h = (1 - z) * n + z * h
        for key, value in zip(("r_hidden", "z_hidden", "n_hidden", "r", "z", "n"), (*gh, r, z, n)):
            parts[key].append(value)
        hs.append(h)
    p = {k: torch.stack(v) for k, v in parts.items()}
    h = torch.stack(hs)
    terms = [_x_term(x), _previous(h)]
    for gate, symbol, kind in (("r", "r", "gate"), ("z", "z", "gate"), ("n", "n", "candidate")):
        index = "rzn".index(gate)
        terms += [Term(f"{gate}_input", f"W_i{symbol} x_t + b_i{symbol}", rf"W_{{i{symbol}}} x_t + b_{{i{symbol}}}",
                       "part", gi[index]),
                  Term(f"{gate}_hidden", f"W_h{symbol} h_{{t-1}} + b_h{symbol}",
                       rf"W_{{h{symbol}}} h_{{t-1}} + b_{{h{symbol}}}", "part", p[f"{gate}_hidden"]),
                  Term(gate, f"{symbol}_t", f"{symbol}_t", kind, p[gate])]
    terms.append(Term("h_t", "h_t", "h_t", "output", h))
    text = ["r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)",
            "z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)",
            "n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))",
            "h_t = (1 - z_t) * n_t + z_t * h_{t-1}, h_0 = 0"]
    latex = [r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})",
             r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})",
             r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))",
             r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1},\; h_0 = 0"]
    return terms, text, latex, None


def _lstm(reader, x: torch.Tensor):
    """torch.nn.LSTM's equations (gates i, f, g, o stacked in that order; no projection): (T, I) -> terms."""
    W_ih, W_hh, b_ih, b_hh = _classic_weights(reader)
    H = W_hh.shape[1]
    gi = (x @ W_ih.T + b_ih).split(H, dim=1)                         # (T, 4H) -> i, f, g, o input parts
    h, c = x.new_zeros(H), x.new_zeros(H)
    hidden, gates, cs, hs = [], [], [], []
    for t in range(x.shape[0]):
        gh = (h @ W_hh.T + b_hh).split(H)
        i, f = torch.sigmoid(gi[0][t] + gh[0]), torch.sigmoid(gi[1][t] + gh[1])
        g_, o = torch.tanh(gi[2][t] + gh[2]), torch.sigmoid(gi[3][t] + gh[3])
        c = f * c + i * g_
        h = o * torch.tanh(c)
        hidden.append(gh)
        gates.append((i, f, g_, o))
        cs.append(c)
        hs.append(h)
    h, c = torch.stack(hs), torch.stack(cs)
    terms = [_x_term(x), _previous(h), _previous(c, "c_prev", "c_{t-1}", "c_{t-1}")]
    for index, gate in enumerate("ifgo"):
        terms += [Term(f"{gate}_input", f"W_i{gate} x_t + b_i{gate}", rf"W_{{i{gate}}} x_t + b_{{i{gate}}}", "part",
                       gi[index]),
                  Term(f"{gate}_hidden", f"W_h{gate} h_{{t-1}} + b_h{gate}",
                       rf"W_{{h{gate}}} h_{{t-1}} + b_{{h{gate}}}",
                       "part", torch.stack([step[index] for step in hidden])),
                  Term(gate, f"{gate}_t", f"{gate}_t", "candidate" if gate == "g" else "gate",
                       torch.stack([step[index] for step in gates]))]
    terms += [Term("c_t", "c_t", "c_t", "state", c), Term("h_t", "h_t", "h_t", "output", h)]
    text = ["i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)",
            "f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)",
            "g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)",
            "o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)",
            "c_t = f_t * c_{t-1} + i_t * g_t, c_0 = 0",
            "h_t = o_t * tanh(c_t), h_0 = 0"]
    latex = [r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})",
             r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})",
             r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})",
             r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})",
             r"c_t = f_t \odot c_{t-1} + i_t \odot g_t,\; c_0 = 0",
             r"h_t = o_t \odot \tanh(c_t),\; h_0 = 0"]
    return terms, text, latex, None


# -- the parallel cells of a residual stack (rowrnn.recurrences): the cell's input is block 1's normalized input --

_BLOCK_INPUT = ("x_t = LN(W_in p_t + b_in): block 1's normalized input, from the pixels p_t",
                r"x_t = \mathrm{LN}(W_{in} p_t + b_{in})")
_G = ("g(a) = a + 0.5 for a >= 0, sigmoid(a) below",
      r"g(a) = a + \tfrac12 \text{ for } a \ge 0,\; \sigma(a) \text{ below}")


def _linear_parts(cell, x: torch.Tensor, count: int) -> tuple[torch.Tensor, ...]:
    """The cell's one Linear on every step, split into its count blocks: (T, w) -> count x (T, w)."""
    W, b = cell.linear.weight.detach().float().cpu(), cell.linear.bias.detach().float().cpu()
    return (x @ W.T + b).chunk(count, dim=1)


def _mingru(cell, x: torch.Tensor):
    """minGRU (Feng et al. 2024, rowrnn.recurrences.MinGRU), step by step: (T, w) -> terms, equation lines."""
    k_z, k_h = _linear_parts(cell, x, 2)
    z, candidate = torch.sigmoid(k_z), g(k_h)
    h, hs = x.new_zeros(x.shape[1]), []
    for t in range(x.shape[0]):
        h = torch.sigmoid(-k_z[t]) * h + z[t] * candidate[t]       # 1 - z as the model computes it
        hs.append(h)
    h = torch.stack(hs)
    terms = [_previous(h), Term("z_preactivation", "W_z x_t + b_z", r"W_z x_t + b_z", "part", k_z),
             Term("z", "z_t", "z_t", "gate", z),
             Term("h_tilde_preactivation", "W_h x_t + b_h", r"W_h x_t + b_h", "part", k_h),
             Term("h_tilde", "h~_t", r"\tilde h_t", "candidate", candidate),
             Term("h_t", "h_t", "h_t", "output", h)]
    text = ["z_t = sigmoid(W_z x_t + b_z)", "h~_t = g(W_h x_t + b_h), " + _G[0],
            "h_t = (1 - z_t) * h_{t-1} + z_t * h~_t, h_0 = 0"]
    latex = [r"z_t = \sigma(W_z x_t + b_z)", r"\tilde h_t = g(W_h x_t + b_h),\; " + _G[1],
             r"h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t,\; h_0 = 0"]
    return terms, text, latex


def _minlstm(cell, x: torch.Tensor):
    """minLSTM (Feng et al. 2024, rowrnn.recurrences.MinLSTM), step by step: (T, w) -> terms, equation lines."""
    k_f, k_i, k_h = _linear_parts(cell, x, 3)
    diff = F.softplus(-k_f) - F.softplus(-k_i)                       # log i - log f, as the model computes it
    f_norm, i_norm, candidate = torch.sigmoid(-diff), torch.sigmoid(diff), g(k_h)
    h, hs = x.new_zeros(x.shape[1]), []
    for t in range(x.shape[0]):
        h = f_norm[t] * h + i_norm[t] * candidate[t]
        hs.append(h)
    h = torch.stack(hs)
    terms = [_previous(h), Term("f_preactivation", "W_f x_t + b_f", r"W_f x_t + b_f", "part", k_f),
             Term("f", "f_t", "f_t", "gate", torch.sigmoid(k_f)),
             Term("i_preactivation", "W_i x_t + b_i", r"W_i x_t + b_i", "part", k_i),
             Term("i", "i_t", "i_t", "gate", torch.sigmoid(k_i)),
             Term("f_normalized", "f'_t", "f'_t", "gate", f_norm), Term("i_normalized", "i'_t", "i'_t", "gate", i_norm),
             Term("h_tilde_preactivation", "W_h x_t + b_h", r"W_h x_t + b_h", "part", k_h),
             Term("h_tilde", "h~_t", r"\tilde h_t", "candidate", candidate),
             Term("h_t", "h_t", "h_t", "output", h)]
    text = ["f_t = sigmoid(W_f x_t + b_f), i_t = sigmoid(W_i x_t + b_i)",
            "f'_t = f_t / (f_t + i_t), i'_t = i_t / (f_t + i_t)", "h~_t = g(W_h x_t + b_h), " + _G[0],
            "h_t = f'_t * h_{t-1} + i'_t * h~_t, h_0 = 0"]
    latex = [r"f_t = \sigma(W_f x_t + b_f),\; i_t = \sigma(W_i x_t + b_i)",
             r"f'_t = \frac{f_t}{f_t + i_t},\; i'_t = \frac{i_t}{f_t + i_t}",
             r"\tilde h_t = g(W_h x_t + b_h),\; " + _G[1],
             r"h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t,\; h_0 = 0"]
    return terms, text, latex


def _lru(cell, x: torch.Tensor):
    """The LRU (Orvieto et al. 2023, rowrnn.recurrences.LRU), step by step, its complex numbers as real and
    imaginary parts: (T, w) -> terms, equation lines."""
    p = {name: q.detach().float().cpu() for name, q in cell.named_parameters()}
    T = x.shape[0]
    magnitude, phase, gamma = torch.exp(-torch.exp(p["nu_log"])), torch.exp(p["theta_log"]), torch.exp(p["gamma_log"])
    lam_re, lam_im = magnitude * torch.cos(phase), magnitude * torch.sin(phase)
    bx_re, bx_im = x @ p["B_re"].T, x @ p["B_im"].T                   # (T, w) -> (T, N)
    s_re, s_im = x.new_zeros(bx_re.shape[1]), x.new_zeros(bx_re.shape[1])
    states_re, states_im = [], []
    for t in range(T):
        s_re, s_im = (lam_re * s_re - lam_im * s_im + gamma * bx_re[t],
                      lam_re * s_im + lam_im * s_re + gamma * bx_im[t])
        states_re.append(s_re)
        states_im.append(s_im)
    s_re, s_im = torch.stack(states_re), torch.stack(states_im)
    c_part = s_re @ p["C_re"].T - s_im @ p["C_im"].T                  # Re(C h_t): (T, N) -> (T, w)
    d_part = x * p["D"]

    def constant(v):                                                  # the same at every step: (N,) -> (T, N)
        return v.expand(T, -1)

    terms = [Term("Bx_re", "Re(B x_t)", r"\mathrm{Re}(B x_t)", "part", bx_re),
             Term("Bx_im", "Im(B x_t)", r"\mathrm{Im}(B x_t)", "part", bx_im),
             Term("gamma", "gamma", r"\gamma", "constant", constant(gamma)),
             Term("lambda_magnitude", "|lambda|", r"|\lambda|", "constant", constant(magnitude)),
             Term("lambda_phase", "arg lambda", r"\arg\lambda", "constant", constant(phase)),
             _previous(s_re, "state_re_prev", "Re h_{t-1}", r"\mathrm{Re}\, h_{t-1}"),
             _previous(s_im, "state_im_prev", "Im h_{t-1}", r"\mathrm{Im}\, h_{t-1}"),
             Term("state_re", "Re h_t", r"\mathrm{Re}\, h_t", "state", s_re),
             Term("state_im", "Im h_t", r"\mathrm{Im}\, h_t", "state", s_im),
             Term("Ch_re", "Re(C h_t)", r"\mathrm{Re}(C h_t)", "part", c_part),
             Term("Dx", "D * x_t", r"D \odot x_t", "part", d_part),
             Term("y_t", "y_t", "y_t", "output", c_part + d_part)]
    text = ["lambda = exp(-exp(nu_log) + i exp(theta_log)): |lambda| = exp(-exp(nu_log)), arg lambda = exp(theta_log)",
            "h_t = lambda * h_{t-1} + gamma * (B x_t), h_0 = 0 (complex)", "y_t = Re(C h_t) + D * x_t"]
    latex = [r"\lambda = \exp(-e^{\nu_{\log}} + i\, e^{\theta_{\log}})",
             r"h_t = \lambda \odot h_{t-1} + \gamma \odot (B x_t),\; h_0 = 0",
             r"y_t = \mathrm{Re}(C h_t) + D \odot x_t"]
    return terms, text, latex


_PARALLEL = {"mingru": _mingru, "minlstm": _minlstm, "lru": _lru}


def _rounded(values: torch.Tensor, decimals: int) -> list[list[float]]:
    return [[round(v, decimals) for v in row] for row in values.double().tolist()]


def terms_of(model, pixels: torch.Tensor) -> tuple[list[Term], list[str], list[str], str | None, torch.Tensor]:
    """The equations' vectors of the first reader's first layer, forward direction, for one sequence of steps as
    model.sequences gives it: pixels (T, F) float32 on the CPU -> (terms, plain-text lines, LaTeX lines,
    nonlinearity or None, x (T, n): what the cell reads). The one computation behind unroll and the static site's
    graph (rowrnn.graphs), which traces it into ONNX outputs."""
    reader, x, nonlinearity = model.readers[0], pixels, None                    # x_t: what the cell reads
    if model.cell in _PARALLEL:
        w = model.hidden_size
        block = reader.blocks[0]
        u = F.linear(pixels, reader.input.weight.detach().float().cpu(), reader.input.bias.detach().float().cpu())
        norm = block.norm_cell
        x = F.layer_norm(u, (w,), norm.weight.detach().float().cpu(), norm.bias.detach().float().cpu(),
                         norm.eps)                                              # (T, F) -> (T, w)
        terms, text, latex = _PARALLEL[model.cell](block.cell, x)
        terms = [Term("p_t", "p_t", "p_t", "pixels", pixels), _x_term(x)] + terms
        text, latex = [_BLOCK_INPUT[0]] + text, [_BLOCK_INPUT[1]] + latex
    elif model.cell in ("rnn", "elman"):
        terms, text, latex, nonlinearity = _rnn(reader, pixels, elman=model.cell == "elman")
    else:
        terms, text, latex, _ = {"gru": _gru, "lstm": _lstm}[model.cell](reader, pixels)
    return terms, text, latex, nonlinearity, x


def unroll(model, image, *, max_hidden: int = 16, decimals: int = DECIMALS, value_range=None) -> dict:
    """The recurrence of a small recurrent model written out with its actual numbers at every step.

    model: a recurrent rowrnn.RNNClassifier (any cell, read, rows_per_step, layers, directions) whose
    hidden_size is at most max_hidden (16 by default: more numbers than a page can show). image: one image,
    (S, S), (1, S, S) or (1, 1, S, S) with S = model.image_size (28 for Fashion-MNIST), in the forms of
    rowrnn.pixels.model_input's table (uint8 pixels
    normalized as the page's Panel.read does, or normalized floats; value_range=(0, 1) declares ToTensor()
    floats; a file or PIL image: rowrnn.load_image first).
    Computed on the CPU, without gradients, from the model's parameters of the FIRST reader's FIRST layer,
    FORWARD direction (the rows reader for read="rows+columns"; block 1 of a residual stack).

    Returns a JSON-able dict: cell, reader ("rows", "columns", "pixels" or "permuted-pixels"), layer (0),
    direction ("forward"), num_layers, bidirectional, hidden_size, input_size (numbers in x_t), steps (T),
    nonlinearity ("tanh"/"relu" for rnn and elman, else None), x_source ("pixels", or "block_input" for the
    parallel cells, whose x_t is block 1's normalized input LN(W_in p_t + b_in) and whose pixels p_t come as
    the term "p_t"), equation (plain-text lines joined by newlines), equation_latex (LaTeX, lines joined by \\\\),
    output (the name of the term that equals model.hidden_states' first layer, forward direction: "h_t", or
    "y_t" for the LRU), and terms: [{"name", "label", "latex", "kind", "values": T lists of floats}], kind one
    of input, pixels, previous, part, sum, gate, candidate, state, constant, output. Numbers are rounded to
    `decimals` digits. Equations: torch.nn.RNN/GRU/LSTM's (PyTorch docs); minGRU and minLSTM of Feng et al.
    2024, "Were RNNs All We Needed?"; the LRU of Orvieto et al. 2023.

    Raises RowrnnError (one line, naming the argument) when model is not a recurrent reader (a CNN), its
    hidden size is more than max_hidden, image (or value_range) is refused by rowrnn.pixels.model_input (not one
    image, another dtype, NaN, undeclared floats that are not normalized), or the numbers are NaN or infinite
    (diverged weights: JSON has no NaN).
    """
    if not (hasattr(model, "readers") and hasattr(model, "sequences")):
        kind = type(model).__name__
        raise RowrnnError(f"model is {'an' if kind[0] in 'AEIOU' else 'a'} {kind}, which does not read step by step: "
                          "unroll shows the recurrence of a recurrent model (an RNNClassifier)")
    if isinstance(max_hidden, bool) or not isinstance(max_hidden, int) or max_hidden < 1:
        raise RowrnnError(f"max_hidden must be a positive integer, got {max_hidden!r}")
    H = model.hidden_size
    if H > max_hidden:
        raise RowrnnError(f"model's hidden size {H} is more than max_hidden={max_hidden}: the numbers view is for "
                          f"small models; pass max_hidden={H} to see them anyway")
    parameter = next(model.parameters())
    batch = model_input(image, value_range=value_range, name="image", single=True,
                        size=model.image_size).to(parameter.device)
    with torch.no_grad():
        pixels = model.sequences(batch)[0][0].detach().float().cpu()            # (T, F): the first reader's steps
        terms, text, latex, nonlinearity, x = terms_of(model, pixels)
    bad = torch.stack([~torch.isfinite(term.values).all(dim=1) for term in terms])   # (terms, T)
    if bad.any():   # name the first step that goes wrong, and its first term in the order of the equations
        step = int(bad.any(dim=0).nonzero()[0])
        label = terms[int(bad[:, step].nonzero()[0])].label
        raise RowrnnError(f"model gives NaN or infinite numbers ({label} at step {step + 1}): its weights are "
                          "broken (a diverged training?); retrain it, or pass another model")
    return {
        "cell": model.cell, "reader": model.read.split("+")[0], "layer": 0, "direction": "forward",
        "num_layers": len(getattr(model.readers[0], "blocks", ())) or model.readers[0].num_layers,
        "bidirectional": bool(model.bidirectional), "hidden_size": H,
        "input_size": int(x.shape[1]),
        "steps": int(pixels.shape[0]), "nonlinearity": nonlinearity,
        "x_source": "block_input" if model.cell in _PARALLEL else "pixels",
        "equation": "\n".join(text), "equation_latex": r" \\ ".join(latex), "output": terms[-1].name,
        "terms": [{"name": t.name, "label": t.label, "latex": t.latex, "kind": t.kind,
                   "values": _rounded(t.values, decimals)} for t in terms],
    }

