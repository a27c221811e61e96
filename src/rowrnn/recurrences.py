"""Recurrent cells that train in parallel over time (minGRU, minLSTM, LRU) and the residual stack that reads with them.

Each cell is a linear recurrence h_t = a_t * h_{t-1} + b_t whose a_t and b_t depend on the input x_t alone
(never on h_{t-1}): every matrix product runs over all steps at once and only an elementwise recurrence is
left, which a scan computes without a loop over the steps. scan="step" runs the same recurrence as an
explicit loop over the steps; both agree up to rounding (tests/test_parallel_cells.py). scan="auto" (the
default) takes the loop on a CPU and the scan on an accelerator: measured on this project's CPU (one thread,
forward + backward of 256 images), the loop was 2-4x faster at 14, 28 and 784 steps, since a batch's
elementwise work already fills a core and the scans do more of it; the scans pay where each step costs
kernel launches (a GPU). benchmarks/scan_speed.py measures it.

    stack = ResidualStack(56, 64, num_layers=2, bidirectional=True, cell="mingru")
    out, states = stack(x)                     # (B, T, 56) -> stream (B, T, 64), top cells' outputs (B, T, 128)
    h = MinGRU(64)(x, scan="step")             # (B, T, 64) -> (B, T, 64): h_t at every step
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SCANS = ("auto", "step", "parallel")


def _check_scan(scan: str) -> str:
    if scan not in SCANS:
        raise ValueError(f"unknown scan {scan!r}; valid: {', '.join(SCANS)}")
    return scan


def _compute_dtype(t: torch.Tensor) -> torch.dtype:
    """float32 at least: sums of logarithms over 784 steps lose too much in bfloat16 (autocast)."""
    return torch.promote_types(t.dtype, torch.float32)


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t from h_0 = 0 for positive a, b given by their logs: (B, T, H) twice -> h (B, T, H).

    Heinsen's parallel scan (arXiv 2311.06281), as the minGRU paper computes it: with a*_t = sum_{r<=t} log a_r,
    log h_t = a*_t + logcumsumexp_{s<=t}(log b_s - a*_s). Cumulative sums only, no loop over t; computed in
    float32 or wider.
    """
    dtype = _compute_dtype(log_a)
    a_star = log_a.to(dtype).cumsum(dim=1)
    return (a_star + torch.logcumsumexp(log_b.to(dtype) - a_star, dim=1)).exp()


def doubling_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """step_scan's recurrence in ceil(log2 T) rounds (Hillis and Steele's scan): (B, T, H) twice -> h (B, T, H).

    h is in a's and b's dtype (their promotion, as a product's: the minimal cells pass float32 or wider, so that
    an export computes in float32 as the loop does); h_t = a_t * h_{t-1} + b_t from h_0 = 0, as step_scan's.

    After round k, (a_t, b_t) is the composition of steps t-2^k+1 .. t (h_t = a_t * h_{t-2^k} + b_t, the
    steps before the first taken as (1, 0)); composing with the pair `shift` steps back is
    (a, b) o (a', b') = (a * a', a * b' + b). What an ONNX export of minGRU and minLSTM holds: about a dozen nodes
    a round, so a graph's size grows with log2 T, not T (784 pixels: 10 rounds, not 784 steps). Any a and b
    (no logarithms: a may be 0); it does more arithmetic than the loop (T log2 T), so training keeps the others.
    """
    T, shift = a.shape[1], 1
    while shift < T:
        # (B, T, H): each step's pair `shift` steps back, the identity (1, 0) before the first step
        b = a * torch.cat([torch.zeros_like(b[:, :shift]), b[:, :-shift]], dim=1) + b
        if 2 * shift < T:                           # the last round needs no a
            a = a * torch.cat([torch.ones_like(a[:, :shift]), a[:, :-shift]], dim=1)
        shift *= 2
    return b


def step_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The same recurrence as log_space_scan, one step at a time: (B, T, H) twice -> h (B, T, H)."""
    h, states = b.new_zeros(b.shape[0], b.shape[2]), []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):   # unbind: slicing x[:, t] would cost O(T^2) in backward
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states, dim=1)


def g(x: torch.Tensor) -> torch.Tensor:
    """The minGRU paper's positive activation for the candidate: x + 0.5 for x >= 0, sigmoid(x) below.

    Written max(x, 0) + sigmoid(-relu(-x)): the same floats as torch.where over the two branches (sigmoid(0) =
    0.5) and the same gradient, 1 at x = 0 included, at less cost: a `mingru` training step took 3 % less on
    this project's CPU (75.7 against 78.0 ms, `python benchmarks/step_time.py --preset mingru --g-where`)."""
    return x.clamp(min=0) + torch.sigmoid(-F.relu(-x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), computed without taking the log of a sigmoid (relu keeps the unused branch finite)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class _MinimalCell(nn.Module):
    """What minGRU and minLSTM share: one Linear(size -> GATES * size) from the input, nothing from h."""

    GATES = 1
    # ONNX has no logcumsumexp: an export traces doubling_scan, log2(T) rounds (a traced step loop made a pixel
    # reader's graph 12,871 nodes, 2 MB, and onnxruntime-web took about a minute to load it)
    ONNX_SCAN = "doubling"

    def __init__(self, size: int, scan: str = "auto"):
        super().__init__()
        self.size, self.scan = size, _check_scan(scan)
        self.linear = nn.Linear(size, self.GATES * size)

    @classmethod
    def parameter_count(cls, size: int) -> int:
        """Weights of a cell of `size` units: GATES * size * (size + 1) (one Linear with bias)."""
        return cls.GATES * size * (size + 1)


class MinGRU(_MinimalCell):
    """minGRU, Feng et al. 2024, "Were RNNs All We Needed?" (arXiv 2410.01201), in the paper's log-space form.

    z_t = sigmoid(Linear_z(x_t)), h~_t = g(Linear_h(x_t)), h_t = (1 - z_t) * h_{t-1} + z_t * h~_t, h_0 = 0,
    with the paper's g (x + 0.5 for x >= 0, else sigmoid(x)) keeping h~ positive so that the parallel scan
    can work with logarithms. (B, T, size) -> (B, T, size). One Linear(size -> 2 size) holds [z | h~].
    scan="parallel" is Heinsen's log-space scan; scan="step" the explicit loop. Under ONNX export (ONNX has no
    logcumsumexp) doubling_scan is traced, or the loop for scan="step".
    Note the candidate: the paper's first, plain form has h~ = Linear_h(x); its log-space form, used here in
    both scans, has h~ = g(Linear_h(x)) > 0.
    """

    GATES = 2              # weight blocks of the one Linear: z and h~
    SAVED_PER_STEP = 11    # about how many floats per unit and step the backward pass keeps (memory estimate)

    def forward(self, x: torch.Tensor, scan: str | None = None) -> torch.Tensor:
        """(B, T, size) -> h (B, T, size); scan overrides self.scan ("auto", "step", "parallel") for this call."""
        k_z, k_h = self.linear(x).to(_compute_dtype(x)).chunk(2, dim=-1)      # (B, T, H) each
        mode = _scan(self, scan, x)                                           # decided once a forward
        if mode == "parallel":
            # log(1 - z) = -softplus(k_z), log z = -softplus(-k_z)
            return log_space_scan(-F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h))
        z = torch.sigmoid(k_z)
        return _linear_scan(mode)(torch.sigmoid(-k_z), z * g(k_h))            # 1 - z, exactly, for large k_z


class MinLSTM(_MinimalCell):
    """minLSTM, Feng et al. 2024 (arXiv 2410.01201), in the paper's log-space form (g on the candidate).

    f_t = sigmoid(Linear_f(x_t)), i_t = sigmoid(Linear_i(x_t)), normalized f'_t = f_t / (f_t + i_t),
    i'_t = i_t / (f_t + i_t); h~_t = g(Linear_h(x_t)); h_t = f'_t * h_{t-1} + i'_t * h~_t, h_0 = 0.
    (B, T, size) -> (B, T, size). One Linear(size -> 3 size) holds [f | i | h~].
    """

    GATES = 3
    SAVED_PER_STEP = 13

    def forward(self, x: torch.Tensor, scan: str | None = None) -> torch.Tensor:
        """(B, T, size) -> h (B, T, size); scan overrides self.scan ("auto", "step", "parallel") for this call."""
        k_f, k_i, k_h = self.linear(x).to(_compute_dtype(x)).chunk(3, dim=-1)
        # f' = f / (f + i) = sigmoid(log f - log i), from log f = -softplus(-k_f): no 0/0 when both underflow
        diff = F.softplus(-k_f) - F.softplus(-k_i)                          # log i - log f
        mode = _scan(self, scan, x)                                         # decided once a forward
        if mode == "parallel":
            return log_space_scan(-F.softplus(diff), -F.softplus(-diff) + log_g(k_h))   # log f', log i' + log h~
        return _linear_scan(mode)(torch.sigmoid(-diff), torch.sigmoid(diff) * g(k_h))


class LRU(nn.Module):
    """Linear recurrent unit, Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks for Long Sequences"
    (arXiv 2303.06349): a complex diagonal recurrence with an exponential parametrization.

    lambda = exp(-exp(nu_log) + i exp(theta_log)), h_t = lambda * h_{t-1} + gamma * (B x_t), h_0 = 0,
    y_t = Re(C h_t) + D * x_t. (B, T, size) -> y (B, T, size); the state has state_size complex units
    (default size). Initialization as the paper: |lambda| uniform on the ring [r_min, r_max] (by area), phase
    uniform in [0, max_phase], gamma = sqrt(1 - |lambda|^2) (trainable through gamma_log, as the reference
    code), B and C complex Gaussian scaled by 1/sqrt(2 size) and 1/sqrt(state_size), D standard Gaussian.
    Defaults: a ring near the unit circle with small phases (0.9, 0.999, pi/10), the paper's choice for long
    sequences, so that 784 pixel steps keep a memory.
    Complex numbers are kept as real and imaginary parts (ONNX has no complex type). scan="parallel" uses
    powers of lambda: within chunks of about sqrt(T) steps h = sum_s lambda^(t-s) b_s as one product with the
    (chunk x chunk) matrix of powers, then lambda^(j+1) carries each chunk's end into the next (T/chunk steps).
    """

    ONNX_SCAN = "parallel"
    SAVED_PER_STEP = 12

    def __init__(self, size: int, state_size: int | None = None, r_min: float = 0.9, r_max: float = 0.999,
                 max_phase: float = math.pi / 10, scan: str = "auto"):
        super().__init__()
        N = state_size or size
        self.size, self.state_size, self.scan = size, N, _check_scan(scan)
        tiny = torch.finfo(torch.float32).tiny
        u1, u2 = torch.rand(N).clamp(min=tiny), torch.rand(N).clamp(min=tiny)
        nu_log = torch.log(-0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2))
        magnitude = torch.exp(-torch.exp(nu_log))
        self.nu_log = nn.Parameter(nu_log)                                       # (N,)
        self.theta_log = nn.Parameter(torch.log(max_phase * u2))                 # (N,)
        self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - magnitude ** 2)))  # (N,)
        self.B_re = nn.Parameter(torch.randn(N, size) / math.sqrt(2 * size))
        self.B_im = nn.Parameter(torch.randn(N, size) / math.sqrt(2 * size))
        self.C_re = nn.Parameter(torch.randn(size, N) / math.sqrt(N))
        self.C_im = nn.Parameter(torch.randn(size, N) / math.sqrt(N))
        self.D = nn.Parameter(torch.randn(size))

    @staticmethod
    def parameter_count(size: int) -> int:
        """Weights of an LRU of `size` units whose state has as many (the default state_size)."""
        return 3 * size + 4 * size * size + size        # nu, theta, gamma; B, C (re, im); D (state_size = size)

    def forward(self, x: torch.Tensor, scan: str | None = None) -> torch.Tensor:
        """(B, T, size) -> y (B, T, size); scan overrides self.scan ("auto", "step", "parallel") for this call."""
        dtype = _compute_dtype(x)
        log_magnitude, theta = -torch.exp(self.nu_log.to(dtype)), torch.exp(self.theta_log.to(dtype))  # (N,)
        gamma = torch.exp(self.gamma_log.to(dtype))
        b_re = (x @ self.B_re.T).to(dtype) * gamma                              # (B, T, H) -> (B, T, N)
        b_im = (x @ self.B_im.T).to(dtype) * gamma
        if _scan(self, scan, x) == "parallel":
            h_re, h_im = self._powers_scan(b_re, b_im, log_magnitude, theta)
        else:
            h_re, h_im = self._step_scan(b_re, b_im, log_magnitude, theta)
        return h_re @ self.C_re.T.to(dtype) - h_im @ self.C_im.T.to(dtype) + x.to(dtype) * self.D   # Re(C h) + D x

    @staticmethod
    def _step_scan(b_re, b_im, log_magnitude, theta):
        lam_re, lam_im = torch.exp(log_magnitude) * torch.cos(theta), torch.exp(log_magnitude) * torch.sin(theta)
        h_re, h_im = b_re.new_zeros(b_re.shape[0], b_re.shape[2]), b_im.new_zeros(b_im.shape[0], b_im.shape[2])
        out_re, out_im = [], []
        for b_re_t, b_im_t in zip(b_re.unbind(1), b_im.unbind(1)):
            h_re, h_im = (lam_re * h_re - lam_im * h_im + b_re_t,
                          lam_re * h_im + lam_im * h_re + b_im_t)
            out_re.append(h_re)
            out_im.append(h_im)
        return torch.stack(out_re, dim=1), torch.stack(out_im, dim=1)

    @staticmethod
    def _powers_scan(b_re, b_im, log_magnitude, theta):
        batch, T, N = b_re.shape
        C = math.ceil(math.sqrt(T))                                             # chunk length
        chunks = math.ceil(T / C)
        pad = chunks * C - T                                                    # zeros at the end change nothing before
        b_re = F.pad(b_re, (0, 0, 0, pad)).reshape(batch, chunks, C, N)
        b_im = F.pad(b_im, (0, 0, 0, pad)).reshape(batch, chunks, C, N)
        steps = torch.arange(C, device=b_re.device)
        lag = steps[:, None] - steps[None, :]                                   # (C, C): t - s
        power = lag.clamp(min=0).to(b_re.dtype)[..., None]                      # (C, C, 1)
        K_mag = torch.exp(power * log_magnitude) * (lag >= 0).to(b_re.dtype)[..., None]   # |lambda|^(t-s), s <= t
        K_re, K_im = K_mag * torch.cos(power * theta), K_mag * torch.sin(power * theta)    # (C, C, N)
        # within each chunk: h_local[t] = sum_{s <= t} lambda^(t-s) b[s]      (B, chunks, C, N)
        local_re = torch.einsum("tsn,bcsn->bctn", K_re, b_re) - torch.einsum("tsn,bcsn->bctn", K_im, b_im)
        local_im = torch.einsum("tsn,bcsn->bctn", K_re, b_im) + torch.einsum("tsn,bcsn->bctn", K_im, b_re)
        carry = (steps + 1).to(b_re.dtype)[:, None]                             # (C, 1): lambda^(j+1)
        P_re = torch.exp(carry * log_magnitude) * torch.cos(carry * theta)
        P_im = torch.exp(carry * log_magnitude) * torch.sin(carry * theta)
        out_re, out_im = [local_re[:, 0]], [local_im[:, 0]]
        for c in range(1, chunks):                                              # the previous chunk's end carried in
            s_re, s_im = out_re[-1][:, -1:], out_im[-1][:, -1:]                 # (B, 1, N)
            out_re.append(local_re[:, c] + P_re * s_re - P_im * s_im)
            out_im.append(local_im[:, c] + P_re * s_im + P_im * s_re)
        return torch.cat(out_re, dim=1)[:, :T], torch.cat(out_im, dim=1)[:, :T]


def _scan(cell: nn.Module, scan: str | None, x: torch.Tensor) -> str:
    """The scan a call uses: its argument, else the cell's own; "auto" is the loop on a CPU, the scan elsewhere;
    a traced ONNX export takes one that ONNX can hold, of few nodes (the cell's ONNX_SCAN: "doubling" for
    minGRU and minLSTM, "parallel" for the LRU), or the loop where "step" is asked for."""
    scan = _check_scan(scan or cell.scan)
    if torch.onnx.is_in_onnx_export():
        return "step" if scan == "step" else cell.ONNX_SCAN
    if scan == "auto":
        return "step" if x.device.type == "cpu" else "parallel"
    return scan


def _linear_scan(mode: str):
    """The function computing a minimal cell's recurrence from (a, b) when its log-space scan is not taken, for
    the mode _scan decided: doubling_scan for "doubling" (an ONNX export: the cell's ONNX_SCAN), else step_scan."""
    return doubling_scan if mode == "doubling" else step_scan


PARALLEL_CELLS = {"mingru": MinGRU, "minlstm": MinLSTM, "lru": LRU}


def reverse_within(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Each sequence reversed within its own length (padding stays in place): (N, T, F), (N,) -> (N, T, F).

    With lengths=None, x.flip(1). Its own inverse.
    """
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device)[None, :]                  # (1, T)
    index = lengths.to(x.device)[:, None] - 1 - steps                           # (N, T)
    index = torch.where(index >= 0, index, steps)
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


class ResidualBlock(nn.Module):
    """Pre-norm residual block: x + Linear(cell(LN x) || reversed cell(LN x)), then x + MLP(LN x).

    The MLP is Linear(w -> 2w), GELU, Linear(2w -> w). (B, T, w) -> ((B, T, w), the cells' outputs
    (B, T, w * directions)).
    """

    def __init__(self, width: int, cell: str, bidirectional: bool, scan: str = "auto"):
        super().__init__()
        self.bidirectional = bidirectional
        self.norm_cell = nn.LayerNorm(width)
        self.cell = PARALLEL_CELLS[cell](width, scan=scan)
        if bidirectional:
            self.cell_reverse = PARALLEL_CELLS[cell](width, scan=scan)
        self.mix = nn.Linear(width * (2 if bidirectional else 1), width)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    @staticmethod
    def parameter_count(width: int, cell: str, bidirectional: bool) -> int:
        """Weights of one block: its cells, the mixing Linear, the MLP and the two LayerNorms."""
        directions = 2 if bidirectional else 1
        cells = directions * PARALLEL_CELLS[cell].parameter_count(width)
        mix, mlp = directions * width * width + width, 4 * width * width + 3 * width
        return 2 * 2 * width + cells + mix + mlp                                # the two LayerNorms: scale, shift

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """(B, T, w) -> (the block's output (B, T, w), the cells' outputs (B, T, w * directions)); lengths (B,):
        where each sequence ends, for the reverse cell."""
        y = self.norm_cell(x)
        states = self.cell(y)                                                   # (B, T, w)
        if self.bidirectional:
            back = reverse_within(self.cell_reverse(reverse_within(y, lengths)), lengths)
            states = torch.cat([states, back], dim=2)                           # (B, T, 2w)
        x = x + self.mix(states.to(x.dtype))
        return x + self.mlp(self.norm_mlp(x)), states


class ResidualStack(nn.Module):
    """Linear(input_size -> hidden_size), then num_layers ResidualBlocks: a reader built from parallel cells.

    Takes nn.RNN's arguments so RNNClassifier builds it like the other cells; dropout acts between blocks
    (on each block's output but the last), as nn.RNN's between layers. forward(x, lengths) returns
    (the residual stream (B, T, w), the top block's cell outputs (B, T, w * directions)); with lengths,
    each sequence is read only up to its own length (the reverse cells start at its end) and both outputs
    are zero beyond it.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True,
                 bidirectional: bool = False, dropout: float = 0.0, cell: str = "mingru", scan: str = "auto"):
        super().__init__()
        if not batch_first:
            raise ValueError("ResidualStack only supports batch_first=True")
        if cell not in PARALLEL_CELLS:
            raise ValueError(f"unknown cell {cell!r}; valid: {', '.join(PARALLEL_CELLS)}")
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.bidirectional, self.dropout = bidirectional, dropout
        self.input = nn.Linear(input_size, hidden_size)
        self.blocks = nn.ModuleList(ResidualBlock(hidden_size, cell, bidirectional, scan) for _ in range(num_layers))

    @staticmethod
    def parameter_count(input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, cell: str) -> int:
        """Weights of the stack: the input Linear and num_layers blocks."""
        return (input_size + 1) * hidden_size + num_layers * ResidualBlock.parameter_count(hidden_size, cell,
                                                                                          bidirectional)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """(B, T, input_size) -> (the residual stream (B, T, w), the top block's cell outputs
        (B, T, w * directions)); lengths (B,): where each sequence ends."""
        x = self.input(x)                                                       # (B, T, F) -> (B, T, w)
        for index, block in enumerate(self.blocks):
            if index and self.dropout and self.training:
                x = F.dropout(x, self.dropout)
            x, states = block(x, lengths)
        if lengths is not None:
            valid = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None])[..., None]
            x, states = x * valid, states * valid
        return x, states


def set_scan(module: nn.Module, scan: str) -> nn.Module:
    """Make every parallel cell inside module use scan ("auto", "step" or "parallel"); returns module."""
    _check_scan(scan)
    for m in module.modules():
        if isinstance(m, tuple(PARALLEL_CELLS.values())):
            m.scan = scan
    return module


_MEANINGS = {  # {} is weights, bias (Linear) or scale, shift (LayerNorm)
    "input": "input projection {} (a step's pixels -> width)",
    "norm_cell": "layer norm {} before the cell", "norm_mlp": "layer norm {} before the MLP",
    "mix": "mixing {} (the cells' outputs -> width)",
    "mlp.0": "MLP expansion {} (width -> 2 width)", "mlp.2": "MLP projection {} (2 width -> width)",
    ("mingru", "linear"): "gate and candidate {} (z, h~ stacked)",
    ("minlstm", "linear"): "gates and candidate {} (f, i, h~ stacked)",
    ("lru", "nu_log"): "log(-log|lambda|): how fast each state decays",
    ("lru", "theta_log"): "log of lambda's phase: how fast each state turns",
    ("lru", "gamma_log"): "log of the input normalization gamma",
    ("lru", "B_re"): "input matrix B, real part", ("lru", "B_im"): "input matrix B, imaginary part",
    ("lru", "C_re"): "output matrix C, real part", ("lru", "C_im"): "output matrix C, imaginary part",
    ("lru", "D"): "direct input-to-output weights D",
}


def describe_parameter(cell: str, name: str) -> str:
    """What a ResidualStack parameter is, from its name inside the stack ('blocks.0.cell.linear.weight')."""
    parts = name.split(".")
    kind = {"weight": "weights", "bias": "bias"}.get(parts[-1], "")
    if parts[0] == "input":
        return _MEANINGS["input"].format(kind)
    block, owner, rest = int(parts[1]), parts[2], parts[3:]
    if owner in ("cell", "cell_reverse"):
        meaning = _MEANINGS[(cell, rest[0])].format(kind) + (", backward direction" if owner == "cell_reverse" else "")
    else:
        if owner.startswith("norm"):
            kind = {"weight": "scale", "bias": "shift"}[rest[-1]]
        meaning = _MEANINGS[".".join([owner] + rest[:-1])].format(kind)
    return f"{meaning}, block {block + 1}"
