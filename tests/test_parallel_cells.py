"""minGRU, minLSTM and LRU: the parallel scan, the step loop and a written-out recurrence agree (forward and
gradients, float64), for every cell, reading order and strip height; the stacks work wherever a reader works."""
import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import synthetic_split, write_dataset

import rowrnn
from rowrnn import export
from rowrnn.cli import main
from rowrnn.config import build_config
from rowrnn.constants import CLASSES
from rowrnn.errors import RowrnnError
from rowrnn.models import RNNClassifier, build_model, count_parameters, parameter_count, parameter_table
from rowrnn.recurrences import (LRU, PARALLEL_CELLS, MinGRU, MinLSTM, ResidualStack, g, log_space_scan,
                                reverse_within, set_scan, step_scan)

CELLS = list(PARALLEL_CELLS)
x4 = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1   # images in the models' units, [-1, 1]


# ----------------------------------------------------------------------------- written-out recurrences

def written_out(cell, x):
    """The paper's equations one step at a time, from the cell's parameters: (B, T, H) -> (B, T, H)."""
    if isinstance(cell, LRU):   # complex numbers as complex numbers, not as the cell's real pairs
        lam = torch.exp(torch.complex(-torch.exp(cell.nu_log), torch.exp(cell.theta_log)))
        B, C = torch.complex(cell.B_re, cell.B_im), torch.complex(cell.C_re, cell.C_im)
        gamma = torch.exp(cell.gamma_log)
        h, ys = torch.zeros(x.shape[0], cell.state_size, dtype=lam.dtype), []
        for t in range(x.shape[1]):
            h = lam * h + gamma * (x[:, t].to(lam.dtype) @ B.T)      # h_t = lambda h_{t-1} + gamma (B x_t)
            ys.append((h @ C.T).real + cell.D * x[:, t])              # y_t = Re(C h_t) + D x_t
        return torch.stack(ys, dim=1)
    W, b = cell.linear.weight, cell.linear.bias
    H = cell.size
    h, hs = torch.zeros(x.shape[0], H, dtype=x.dtype), []
    for t in range(x.shape[1]):
        k = x[:, t] @ W.T + b
        candidate = torch.where(k[:, -H:] >= 0, k[:, -H:] + 0.5, torch.sigmoid(k[:, -H:]))   # g(Linear_h x_t)
        if isinstance(cell, MinGRU):
            z = torch.sigmoid(k[:, :H])
            h = (1 - z) * h + z * candidate
        else:
            f, i = torch.sigmoid(k[:, :H]), torch.sigmoid(k[:, H:2 * H])
            h = f / (f + i) * h + i / (f + i) * candidate
        hs.append(h)
    return torch.stack(hs, dim=1)


def assert_tight(actual, expected):
    """Equal to float64 rounding: 1e-10 of the tensor's largest entry (sums over 784 steps round too)."""
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10 * max(1.0, expected.abs().max().item()))


def outputs_and_gradients(fn, module, x, weight):
    """fn(x) and the gradients of sum(fn(x) * weight) with respect to x and every parameter."""
    module.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    (out * weight).sum().backward()
    return [out.detach(), x.grad] + [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("steps", [1, 2, 14, 28, 784])
@pytest.mark.parametrize("batch", [1, 3])
def test_parallel_step_and_written_out_loop_agree_forward_and_backward(name, steps, batch):
    torch.manual_seed(steps + batch)
    cell = PARALLEL_CELLS[name](5).double()
    x = torch.randn(batch, steps, 5, dtype=torch.float64)
    weight = torch.randn(batch, steps, 5, dtype=torch.float64)
    parallel = outputs_and_gradients(lambda v: cell(v, scan="parallel"), cell, x, weight)
    step = outputs_and_gradients(lambda v: cell(v, scan="step"), cell, x, weight)
    loop = outputs_and_gradients(lambda v: written_out(cell, v), cell, x, weight)
    assert parallel[0].shape == (batch, steps, 5)
    assert len(parallel) == 2 + len(list(cell.parameters()))
    for a, b, c in zip(parallel, step, loop):
        assert_tight(a, c)
        assert_tight(b, c)


def test_the_recurrence_is_the_one_the_paper_writes():
    """h_t = a_t h_{t-1} + b_t from h_0 = 0, worked by hand for two steps; g is the paper's."""
    a, b = torch.tensor([[[0.5], [0.25]]]), torch.tensor([[[2.0], [4.0]]])
    expected = torch.tensor([[[2.0], [0.25 * 2.0 + 4.0]]])
    torch.testing.assert_close(step_scan(a, b), expected)
    torch.testing.assert_close(log_space_scan(a.log(), b.log()), expected)
    torch.testing.assert_close(g(torch.tensor([-2.0, 0.0, 3.0])), torch.tensor([torch.sigmoid(torch.tensor(-2.0)), 0.5,
                                                                               3.5]))


def test_g_is_the_papers_piecewise_form_bit_for_bit():
    """g is written without torch.where for speed: the same floats as the paper's two branches, at 0, at the
    extremes and at a million random values, in float32 and bfloat16; the same gradient, at 0 included."""
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.cat([torch.randn(1_000_000) * 6, torch.tensor([0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 1e30,
                                                                 -1e30, float("inf"), float("-inf")])]).to(dtype)
        assert torch.equal(g(x), torch.where(x >= 0, x + 0.5, torch.sigmoid(x)))
    x = torch.cat([torch.randn(10_000) * 6, torch.tensor([0.0, -0.0, 1e-30, -1e-30])]).requires_grad_()
    g(x).sum().backward()
    reference = x.detach().clone().requires_grad_()
    torch.where(reference >= 0, reference + 0.5, torch.sigmoid(reference)).sum().backward()
    assert torch.equal(x.grad, reference.grad)               # the training trajectory of the where form, exactly
    assert x.grad[-4:].tolist()[:2] == [1.0, 1.0]


def test_the_log_space_scan_keeps_float32_precision_over_784_steps():
    torch.manual_seed(0)
    cell = MinGRU(8)
    x = torch.randn(2, 784, 8) * 3
    reference = cell.double()(x.double(), scan="step")
    cell.float()
    torch.testing.assert_close(cell(x, scan="parallel").double(), reference, rtol=1e-4, atol=1e-5)


def test_lru_initialization_follows_the_paper():
    torch.manual_seed(0)
    cell = LRU(64, r_min=0.5, r_max=0.9, max_phase=1.0)
    magnitude = torch.exp(-torch.exp(cell.nu_log))
    assert 0.5 <= magnitude.min() and magnitude.max() <= 0.9
    assert 0 < torch.exp(cell.theta_log).min() and torch.exp(cell.theta_log).max() <= 1.0
    torch.testing.assert_close(torch.exp(cell.gamma_log), torch.sqrt(1 - magnitude ** 2))
    assert cell.B_re.shape == (64, 64) and cell.C_im.shape == (64, 64) and cell.D.shape == (64,)
    assert count_parameters(cell) == LRU.parameter_count(64) == 3 * 64 + 4 * 64 * 64 + 64


def test_min_lstm_normalizes_its_gates():
    """f' + i' = 1: a constant input held forever drives h to g(candidate) exactly as the paper's minLSTM."""
    cell = MinLSTM(3).double()
    x = torch.randn(1, 1, 3, dtype=torch.float64).expand(1, 400, 3)
    candidate = g(cell.linear(x[:, 0])[:, -3:])
    torch.testing.assert_close(cell(x)[:, -1], candidate, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("scan", ["step", "parallel"])
def test_min_lstm_gates_that_underflow_stay_finite(scan):
    """f = sigmoid(-300) and i = sigmoid(-200) are 0 in float32, where f / (f + i) is 0/0; the normalized gates
    are f' = sigmoid(-100) ~ 0 and i' ~ 1, so h_t = g(1) = 1.5 at every step."""
    cell = MinLSTM(2)
    with torch.no_grad():
        cell.linear.weight.zero_()
        cell.linear.bias.copy_(torch.tensor([-300.0, -300.0, -200.0, -200.0, 1.0, 1.0]))   # f, i, h~
    h = cell(torch.zeros(1, 3, 2), scan=scan)    # log space: a* = -300 after 3 steps costs float32 some digits
    torch.testing.assert_close(h, torch.full((1, 3, 2), 1.5), rtol=1e-4, atol=1e-4)


def test_an_unknown_scan_names_the_valid_ones():
    with pytest.raises(ValueError, match=re.escape("unknown scan 'fft'; valid: auto, step, parallel")):
        MinGRU(4, scan="fft")
    with pytest.raises(ValueError, match=re.escape("valid: auto, step, parallel")):
        RNNClassifier(cell="lru", scan="chunked")


@pytest.mark.parametrize("name", CELLS)
def test_auto_loops_on_a_cpu_and_scans_elsewhere(name, monkeypatch):
    """The loop measured faster on this CPU at every length; an accelerator's device takes the scan."""
    from rowrnn import recurrences

    def no_scan(*args):
        raise AssertionError("the parallel scan ran")

    monkeypatch.setattr(recurrences, "log_space_scan", no_scan)
    monkeypatch.setattr(recurrences.LRU, "_powers_scan", staticmethod(no_scan))
    cell = PARALLEL_CELLS[name](4)
    assert cell.scan == "auto" and cell(torch.randn(2, 3, 4)).shape == (2, 3, 4)
    with pytest.raises(AssertionError, match="the parallel scan ran"):
        cell(torch.randn(2, 3, 4), scan="parallel")
    with pytest.raises(AssertionError, match="the parallel scan ran"):
        cell.to("meta")(torch.randn(2, 3, 4, device="meta"))


# ----------------------------------------------------------------------------- the stack

def test_reverse_within_reverses_each_sequence_inside_its_length():
    x = torch.arange(10.0).reshape(2, 5, 1)
    out = reverse_within(x, torch.tensor([5, 3]))
    assert out[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]
    torch.testing.assert_close(reverse_within(out, torch.tensor([5, 3])), x)
    torch.testing.assert_close(reverse_within(x), x.flip(1))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("scan", ["step", "parallel"])
def test_a_stack_reads_each_sequence_only_up_to_its_length(name, scan):
    torch.manual_seed(0)
    stack = ResidualStack(6, 4, num_layers=2, bidirectional=True, cell=name, scan=scan).double().eval()
    x = torch.randn(3, 9, 6, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 1])
    out, states = stack(x, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        alone_out, alone_states = stack(x[i:i + 1, :n])
        torch.testing.assert_close(out[i, :n], alone_out[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(states[i, :n], alone_states[0], rtol=1e-12, atol=1e-12)
        assert out[i, n:].abs().sum() == 0 and states[i, n:].abs().sum() == 0


def test_the_probe_architecture_has_the_probes_parameter_count():
    """PROBES.md's bidirectional minGRU stack: 177,290 parameters, built and in closed form."""
    cfg = build_config("mingru")
    model = build_model(cfg.model)
    assert count_parameters(model) == parameter_count(cfg.model) == 177_290
    assert (cfg.train.batch_size, cfg.train.lr, cfg.train.optimizer, cfg.train.schedule) == (256, 3e-3, "adamw",
                                                                                             "onecycle")
    assert isinstance(model.norm, torch.nn.LayerNorm) and model.fc.in_features == 256
    # the description quotes results/mingru/leaderboard.json, the measured mean of its three seeds
    board = json.loads((Path(__file__).resolve().parents[1] / "results" / "mingru" / "leaderboard.json").read_text())
    rows = [r for r in board if r["preset"] == "mingru"]
    mean = sum(r["test_accuracy"] for r in rows) / len(rows)
    assert len(rows) == 3 and f"{mean:.4f}" in rowrnn.PRESETS["mingru"][0]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("read", ["rows", "columns", "rows+columns", "pixels", "permuted-pixels"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_cell_and_read_runs_forward_and_backward_with_the_counted_parameters(name, read, bidirectional):
    torch.manual_seed(0)
    model = RNNClassifier(cell=name, hidden_size=6, num_layers=2, bidirectional=bidirectional, read=read,
                          readout="mean+max")
    out = model(x4[:2])
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    d, w, inputs = (2 if bidirectional else 1), 6, (1 if "pixels" in read else 28)
    cell = {"mingru": 2 * w * w + 2 * w, "minlstm": 3 * w * w + 3 * w, "lru": 4 * w * w + 4 * w}[name]
    block = 4 * w + d * cell + (d * w * w + w) + (w * 2 * w + 2 * w + 2 * w * w + w)
    readers = 2 if read == "rows+columns" else 1
    features = w * 2 * readers
    expected = readers * ((inputs + 1) * w + 2 * block) + 2 * features + features * 10 + 10
    assert count_parameters(model) == expected


READS = [("rows", 1), ("rows", 2), ("rows", 4), ("rows", 7), ("rows", 14), ("rows", 28), ("columns", 2),
         ("rows+columns", 2), ("rows+columns", 7), ("pixels", 1), ("permuted-pixels", 1)]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("read, rows_per_step", READS, ids=[f"{r}-{k}" for r, k in READS])
def test_the_step_and_parallel_scans_give_one_model(name, read, rows_per_step):
    """The whole classifier, float64: forward and every parameter's gradient equal under both scans."""
    torch.manual_seed(0)
    bidirectional = read != "columns"
    model = RNNClassifier(cell=name, hidden_size=4, num_layers=2, bidirectional=bidirectional, read=read,
                          rows_per_step=rows_per_step, readout="mean+max" if bidirectional else "last").double()
    x = x4[:2].double()
    weight = torch.randn(2, 10, dtype=torch.float64)
    parallel = outputs_and_gradients(set_scan(model, "parallel"), model, x, weight)
    step = outputs_and_gradients(set_scan(model, "step"), model, x, weight)
    assert all(m.scan == "step" for m in model.modules() if isinstance(m, tuple(PARALLEL_CELLS.values())))
    for a, b in zip(parallel, step):
        assert_tight(a, b)


STEP_CASES = [dict(cell=c, readout=r, read=rd, bidirectional=b, num_layers=n)
              for c in CELLS for r in ("last", "mean", "max", "mean+max")
              for rd, b, n in (("rows", False, 1), ("rows+columns", True, 2), ("columns", True, 1))]


@pytest.mark.parametrize("kwargs", STEP_CASES, ids=lambda k: "-".join(f"{v}" for v in k.values()))
def test_step_logits_equal_reading_each_prefix_separately(kwargs):
    torch.manual_seed(0)
    model = RNNClassifier(hidden_size=5, rows_per_step=2, scan="parallel", **kwargs).eval()
    with torch.no_grad():
        fast = model.step_logits(x4[:3])
        slow = torch.stack([model(x4[:3], steps=t) for t in range(1, 15)], dim=1)
        some = model.step_logits(x4[:3], lengths=[1, 7, 14])
        logits, hidden = model.reading(x4[:3])
    assert fast.shape == (3, 14, 10)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(some, slow[:, [0, 6, 13]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hidden, model.hidden_states(x4[:3]))
    probs = model.step_probabilities(x4[:3])
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, 14))
    torch.testing.assert_close(probs[:, -1], model(x4[:3]).softmax(-1))


@pytest.mark.parametrize("kwargs, shape", [
    ({"cell": "mingru"}, (4, 28, 8)), ({"cell": "minlstm", "bidirectional": True}, (4, 28, 16)),
    ({"cell": "lru", "read": "rows+columns", "bidirectional": True}, (4, 28, 32)),
    ({"cell": "mingru", "read": "pixels", "hidden_size": 3}, (4, 784, 3)),
    ({"cell": "lru", "read": "permuted-pixels", "hidden_size": 3}, (4, 784, 3)),
    ({"cell": "minlstm", "rows_per_step": 4, "num_layers": 2}, (4, 7, 8)),
])
def test_hidden_states_are_the_top_blocks_cell_outputs(kwargs, shape):
    """What the page and hidden.png show: h_t of each direction's cell in the top block, as serve's width says."""
    torch.manual_seed(0)
    model = RNNClassifier(**kwargs).eval()
    with torch.no_grad():
        states = model.hidden_states(x4)
        assert states.shape == shape
        assert shape[2] == model.hidden_size * (2 if model.bidirectional else 1) * len(model.readers)
        seq = model.sequences(x4)[0]
        top = model.rnn.blocks[-1]
        stream = model.rnn.input(seq)
        for block in model.rnn.blocks[:-1]:
            stream = block(stream)[0]
        torch.testing.assert_close(states[..., :model.hidden_size], top.cell(top.norm_cell(stream)))


def test_parameter_table_says_what_each_weight_of_a_stack_is():
    rows = {name: meaning for name, _, _, meaning in parameter_table(
        RNNClassifier(cell="lru", hidden_size=4, bidirectional=True, read="rows+columns", readout="mean"))}
    assert rows["rnn.blocks.0.cell.nu_log"] == "log(-log|lambda|): how fast each state decays, block 1"
    assert rows["rnn_columns.blocks.0.cell_reverse.B_im"] == ("input matrix B, imaginary part, backward direction, "
                                                              "block 1, column reader")
    assert rows["rnn.blocks.0.mlp.0.weight"] == "MLP expansion weights (width -> 2 width), block 1"
    assert rows["rnn.blocks.0.norm_cell.bias"] == "layer norm shift before the cell, block 1"
    assert rows["norm.weight"] == "layer norm scale of the readout features"
    assert rows["fc.bias"] == "linear head bias"
    gru = {name: meaning for name, _, _, meaning in parameter_table(RNNClassifier(cell="mingru", hidden_size=4))}
    assert gru["rnn.blocks.0.cell.linear.weight"] == "gate and candidate weights (z, h~ stacked), block 1"


@pytest.mark.parametrize("overrides, message", [
    ({"init": "orthogonal"}, "init orthogonal applies to the rnn, gru, lstm and elman cells, not 'mingru': drop init"),
    ({"nonlinearity": "relu"}, "nonlinearity relu applies to the rnn and elman cells, not 'mingru'"),
    ({"num_layers": 1, "dropout": 0.1}, "dropout 0.1 acts between stacked layers"),
    ({"hidden_size": 6000}, "over the limit of 100,000,000"),
])
def test_options_that_do_not_apply_are_one_line_errors(overrides, message):
    with pytest.raises(RowrnnError, match=re.escape(message)):
        build_config("mingru", overrides)


def test_the_cli_names_its_flags_in_the_same_error(capsys):
    assert main(["train", "--preset", "mingru", "--init", "orthogonal"]) == 2
    assert capsys.readouterr().err == ("rowrnn: error: --init orthogonal applies to the rnn, gru, lstm and elman cells, "
                                       "not 'mingru': drop --init\n")


def test_dropout_acts_between_blocks_in_training_only():
    torch.manual_seed(0)
    model = RNNClassifier(cell="mingru", hidden_size=6, num_layers=2, dropout=0.5)
    model.eval()
    torch.testing.assert_close(model(x4), model(x4))
    model.train()
    assert not torch.allclose(model(x4), model(x4))
    single = RNNClassifier(cell="mingru", hidden_size=6, num_layers=1, dropout=0.5).train()
    torch.testing.assert_close(single(x4), single(x4))              # one block: nothing between blocks


# ----------------------------------------------------------------------------- export and training

@pytest.mark.parametrize("overrides", [{}, {"cell": "minlstm", "bidirectional": False, "readout": "last"},
                                       {"cell": "lru", "num_layers": 1, "hidden_size": 16}],
                         ids=["mingru", "minlstm-forward-last", "lru"])
def test_stacks_export_to_onnx_with_parity(overrides):
    """ONNX has no logcumsumexp: minGRU/minLSTM export their step loop, the LRU its powers of lambda."""
    torch.manual_seed(0)
    model = build_model(build_config("mingru", overrides).model).eval()
    data = export.to_onnx_bytes(model, {"rowrnn.classes": json.dumps(list(CLASSES)),
                                        "rowrnn.normalization": json.dumps(export.NORMALIZATION)})
    images = torch.from_numpy(synthetic_split(64, 3)[0])
    assert export.check_parity(model, data, images) <= export.TOLERANCE
    assert all(m.scan == "auto" for m in model.modules() if hasattr(m, "ONNX_SCAN"))   # export left it alone


def test_the_preset_trains_one_epoch_and_resumes_bit_identically(tmp_path, capsys):
    """The mingru preset (narrowed for speed) on synthetic data: one epoch, stopped, resumed with
    rowrnn train --resume, gives the same weights, byte for byte, as two epochs in one go."""
    data = write_dataset(tmp_path / "data", n_train=300, n_test=40)
    flags = ["--preset", "mingru", "--data-dir", str(data), "--no-verify", "--epochs", "2", "--hidden-size", "8",
             "--batch-size", "64", "--quiet", "--no-figures"]
    assert main(["train", *flags, "--out", str(tmp_path / "reference")]) == 0
    cfg = build_config("mingru", {"epochs": 2, "hidden_size": 8, "batch_size": 64, "data_dir": str(data),
                                  "verify": False})

    def stop_after_the_first_epoch(epoch, history, grad_norm):
        raise KeyboardInterrupt

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        rowrnn.fit(cfg, run, on_epoch=stop_after_the_first_epoch)
    assert len(json.loads((run / "history.json").read_text())["train_loss"]) == 1
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 0
    capsys.readouterr()
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    assert json.loads((run / "metrics.json").read_text())["accuracy"] == \
        json.loads((tmp_path / "reference" / "metrics.json").read_text())["accuracy"]
    assert not math.isnan(json.loads((run / "history.json").read_text())["train_loss"][-1])


# ----------------------------------------------------------------------------- on a GPU (scripts/gpu_check.sh)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("read", ["rows+columns", "pixels"])
def test_on_cuda_auto_scans_in_parallel_and_matches_the_cpu_loop(name, read):
    torch.manual_seed(0)
    model = RNNClassifier(cell=name, hidden_size=8, num_layers=2, bidirectional=True, read=read,
                          readout="mean+max").double()
    x, weight = x4[:3].double(), torch.randn(3, 10, dtype=torch.float64)
    cpu = outputs_and_gradients(set_scan(model, "step"), model, x, weight)
    set_scan(model, "auto").cuda()
    gpu = outputs_and_gradients(model, model, x.cuda(), weight.cuda())
    for a, b in zip(gpu, cpu):
        assert_tight(a.cpu(), b)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", CELLS)
def test_on_cuda_bfloat16_autocast_stays_close_to_float32(name):
    """--amp: the scans run in float32 inside autocast, so the logits move by bfloat16 rounding only."""
    torch.manual_seed(0)
    model = RNNClassifier(cell=name, hidden_size=16, num_layers=2, bidirectional=True, read="pixels",
                          readout="mean+max").cuda()
    x = x4.cuda()
    reference = model(x)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(x)
    logits.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    torch.testing.assert_close(logits.float(), reference, rtol=0.05, atol=0.05)
