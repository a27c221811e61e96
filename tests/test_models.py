import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from conftest import NotebookRNNModel

from rowrnn.config import PRESETS, build_config
from rowrnn.errors import RowrnnError
from rowrnn.models import (GATES, MODELS, READOUTS, RECURRENT_CELLS, CNNClassifier, ElmanRNN, RNNClassifier,
                           build_model, count_parameters, pixel_permutation)
from rowrnn.recurrences import PARALLEL_CELLS

x4 = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1   # normalized images: [-1, 1]


def test_defaults_are_the_notebook_model():
    model = RNNClassifier()
    assert count_parameters(model) == 394
    assert [n for n, _ in model.named_parameters()] == [
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "fc.weight", "fc.bias"]

    notebook = NotebookRNNModel()
    model.load_state_dict(notebook.state_dict())  # a notebook state_dict maps over unchanged
    torch.testing.assert_close(model(x4), notebook(x4), rtol=0, atol=0)


def test_stacked_preset_has_three_rnn8_layers():
    model = build_model(build_config("stacked").model)
    assert model.rnn.num_layers == 3 and model.rnn.hidden_size == 8
    assert count_parameters(model) == 394 + 2 * (8 * 8 + 8 * 8 + 16)


def test_the_registry_holds_the_classic_and_the_parallel_cells():
    assert list(RECURRENT_CELLS) == ["rnn", "gru", "lstm", "elman", "mingru", "minlstm", "lru"]
    assert list(GATES) + list(PARALLEL_CELLS) == list(RECURRENT_CELLS)


@pytest.mark.parametrize("cell", list(GATES))   # the parallel cells: tests/test_parallel_cells.py
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("readout", READOUTS)
def test_every_cell_and_readout_runs_forward_and_backward(cell, bidirectional, readout):
    model = RNNClassifier(cell=cell, hidden_size=6, num_layers=2, bidirectional=bidirectional, readout=readout)
    out = model(x4)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    gates = {"rnn": 1, "elman": 1, "gru": 3, "lstm": 4}[cell]
    d = 2 if bidirectional else 1
    per_layer = lambda i: d * gates * (6 * i + 6 * 6 + 12)
    feats = 6 * d * (2 if readout == "mean+max" else 1)
    assert count_parameters(model) == per_layer(28) + per_layer(6 * d) + feats * 10 + 10


@pytest.mark.parametrize("read, steps, features", [
    ("rows", 28, 28), ("columns", 28, 28), ("pixels", 784, 1), ("permuted-pixels", 784, 1)])
def test_reading_orders_build_the_right_sequences(read, steps, features):
    img = torch.arange(784.0).reshape(1, 1, 28, 28)
    model = RNNClassifier(read=read, permutation_seed=7)
    (seq,) = model.sequences(img)
    assert seq.shape == (1, steps, features) and model.num_steps == steps
    if read == "rows":
        assert seq[0, 2, 5] == img[0, 0, 2, 5]
    if read == "columns":
        assert seq[0, 2, 5] == img[0, 0, 5, 2]
    if read == "pixels":
        assert seq[0, :, 0].tolist() == list(range(784))
    if read == "permuted-pixels":
        assert seq[0, :, 0].long().tolist() == pixel_permutation(7).tolist()
        assert sorted(seq[0, :, 0].tolist()) == list(range(784))


def test_rows_plus_columns_uses_two_readers():
    model = RNNClassifier(read="rows+columns", hidden_size=5)
    rows, cols = model.sequences(x4)
    assert torch.equal(cols, rows.transpose(1, 2))
    assert model.fc.in_features == 10 and model(x4).shape == (4, 10)


def test_permutation_is_fixed_by_the_seed_and_saved_with_the_weights():
    a, b = RNNClassifier(read="permuted-pixels", permutation_seed=3), RNNClassifier(read="permuted-pixels", permutation_seed=3)
    assert torch.equal(a.permutation, b.permutation)
    assert not torch.equal(a.permutation, pixel_permutation(4))
    assert "permutation" in a.state_dict()


def test_bidirectional_last_readout_uses_each_directions_final_state():
    model = RNNClassifier(cell="gru", hidden_size=4, bidirectional=True)
    out, _ = model.rnn(model.sequences(x4)[0])
    features = model._features(out)
    torch.testing.assert_close(features[:, :4], out[:, -1, :4])
    torch.testing.assert_close(features[:, 4:], out[:, 0, 4:])


@pytest.mark.parametrize("num_layers, bidirectional, nonlinearity",
                         [(1, False, "tanh"), (2, False, "relu"), (2, True, "tanh")])
def test_elman_matches_torch_rnn_forward_and_gradients(num_layers, bidirectional, nonlinearity):
    torch.manual_seed(0)
    ref = nn.RNN(28, 16, num_layers=num_layers, bidirectional=bidirectional, nonlinearity=nonlinearity,
                 batch_first=True)
    mine = ElmanRNN(28, 16, num_layers=num_layers, bidirectional=bidirectional, nonlinearity=nonlinearity)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(5, 28, 28)
    (out_ref, h_ref), (out_mine, h_mine) = ref(x), mine(x)
    torch.testing.assert_close(out_mine, out_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_mine, h_ref, atol=1e-5, rtol=1e-5)
    out_ref.square().sum().backward()
    out_mine.square().sum().backward()
    for (name, p_ref), p_mine in zip(ref.named_parameters(), mine.parameters()):
        torch.testing.assert_close(p_mine.grad, p_ref.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("kwargs, valid", [
    ({"cell": "transformer"}, "rnn, gru, lstm, elman, mingru, minlstm, lru"),
    ({"readout": "first"}, "last, mean, max, mean+max"),
    ({"read": "diagonal"}, "rows, columns, rows+columns, pixels, permuted-pixels"),
    ({"nonlinearity": "sigmoid"}, "tanh, relu"),
])
def test_invalid_options_name_the_valid_ones(kwargs, valid):
    with pytest.raises(ValueError, match=re.escape(f"valid: {valid}")):
        RNNClassifier(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {}, {"cell": "gru", "bidirectional": True, "readout": "mean+max"}, {"cell": "lstm", "read": "rows+columns"},
    {"read": "columns", "readout": "max"}])
def test_step_probabilities_rows_sum_to_one_and_end_at_the_answer(kwargs):
    model = RNNClassifier(hidden_size=6, **kwargs).eval()
    probs = model.step_probabilities(x4)
    assert probs.shape == (4, 28, 10)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 28))
    torch.testing.assert_close(probs[:, -1], model(x4).softmax(-1))
    # after t rows the guess equals the model run on the first t rows only
    torch.testing.assert_close(probs[:, 9], model(x4, steps=10).softmax(-1))


def test_step_probabilities_can_subsample_long_sequences():
    model = RNNClassifier(read="pixels", hidden_size=4).eval()
    probs = model.step_probabilities(x4[:1], num_points=5)
    assert probs.shape == (1, 5, 10)
    torch.testing.assert_close(probs[:, -1], model(x4[:1]).softmax(-1))


def test_cnn_baseline_is_two_conv_layers_under_100k():
    model = CNNClassifier()
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 2
    assert count_parameters(model) < 100_000 and model(x4).shape == (4, 10)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_builds(preset):
    cfg = build_config(preset)
    model = build_model(cfg.model)
    assert model(x4).shape == (4, 10)
    assert type(model) is MODELS[cfg.model.arch]


def test_tiny_preset_keeps_the_notebook_budget():
    assert count_parameters(build_model(build_config("tiny").model)) == 394


def test_orthogonal_init_gives_orthogonal_recurrent_weights():
    model = RNNClassifier(cell="gru", hidden_size=8, init="orthogonal")
    for gate in model.rnn.weight_hh_l0.split(8):
        torch.testing.assert_close(gate @ gate.T, torch.eye(8), atol=1e-5, rtol=0)
    assert model.rnn.bias_ih_l0.abs().sum() == 0


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("overrides", [{}, {"num_layers": 3, "hidden_size": 5}, {"bidirectional": True, "num_layers": 2},
                                       {"cell": "gru", "nonlinearity": "tanh", "read": "rows+columns",
                                        "readout": "mean+max"},
                                       {"cell": "elman", "rows_per_step": 4},
                                       {"cell": "mingru", "num_layers": 3, "hidden_size": 5},
                                       {"cell": "minlstm", "bidirectional": True, "readout": "max"},
                                       {"cell": "lru", "bidirectional": False, "read": "rows+columns", "num_layers": 2}])
def test_parameter_count_is_exact_without_building(preset, overrides):
    from rowrnn.models import parameter_count
    if overrides.get("cell") in PARALLEL_CELLS:   # init and nonlinearity apply to the classic cells only
        overrides = {**overrides, "init": "default", "nonlinearity": "tanh"}
    cfg = build_config(preset, {k: v for k, v in overrides.items()
                                if not ("pixels" in build_config(preset).model.read and k == "rows_per_step")})
    assert parameter_count(cfg.model) == count_parameters(build_model(cfg.model))


STEP_CASES = [dict(cell=c, readout=r, read=rd, bidirectional=b, num_layers=n)
              for c in ("rnn", "gru", "lstm", "elman") for r in ("last", "mean", "max", "mean+max")
              for rd, b, n in (("rows", False, 1), ("rows+columns", True, 2), ("columns", True, 1))]


@pytest.mark.parametrize("kwargs", STEP_CASES, ids=lambda k: "-".join(f"{v}" for v in k.values()))
def test_step_logits_equal_reading_each_prefix_separately(kwargs):
    """The one-pass (forward-only) and packed (bidirectional) paths give exactly model(x, steps=t) for every t."""
    torch.manual_seed(0)
    model = RNNClassifier(hidden_size=5, **kwargs).eval()
    with torch.no_grad():
        fast = model.step_logits(x4[:3])
        slow = torch.stack([model(x4[:3], steps=t) for t in range(1, 29)], dim=1)
        some = model.step_logits(x4[:3], lengths=[1, 7, 28])
    assert fast.shape == (3, 28, 10)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(some, slow[:, [0, 6, 27]], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        logits, hidden = model.reading(x4[:3])                     # what rowrnn serve sends, from one pass
    torch.testing.assert_close(logits, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hidden, model.hidden_states(x4[:3]))


def test_hidden_states_of_the_elman_layer_are_the_written_out_recurrence():
    torch.manual_seed(1)
    model = RNNClassifier(cell="elman", hidden_size=6).eval()
    rows = x4.reshape(4, 28, 28)
    W = torch.cat([model.rnn.weight_ih_l0, model.rnn.weight_hh_l0], dim=1)
    b = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    h, expected = torch.zeros(4, 6), []
    for t in range(28):
        h = torch.tanh(torch.cat([rows[:, t], h], dim=1) @ W.T + b)   # h_t = tanh(W . [x_t ; h_{t-1}] + b)
        expected.append(h)
    with torch.no_grad():
        states = model.hidden_states(x4)
    torch.testing.assert_close(states, torch.stack(expected, dim=1))
    torch.testing.assert_close(model.fc(states[:, -1]), model(x4))   # the notebook's readout reads h_T


@pytest.mark.parametrize("kwargs, shape", [
    ({}, (4, 28, 8)), ({"cell": "lstm", "bidirectional": True}, (4, 28, 16)),
    ({"read": "rows+columns", "cell": "gru"}, (4, 28, 16)), ({"read": "pixels", "hidden_size": 3}, (4, 784, 3)),
    ({"read": "permuted-pixels", "hidden_size": 3}, (4, 784, 3)), ({"rows_per_step": 4, "num_layers": 2}, (4, 7, 8)),
])
def test_hidden_states_for_every_cell_and_reading_order(kwargs, shape):
    model = RNNClassifier(**kwargs).eval()
    with torch.no_grad():
        assert model.hidden_states(x4).shape == shape


def test_strips_read_k_rows_a_step():
    model = RNNClassifier(rows_per_step=4, read="rows+columns").eval()
    rows, columns = model.sequences(x4)
    assert rows.shape == (4, 7, 112) and model.num_steps == 7
    torch.testing.assert_close(rows[:, 1], x4[:, 0, 4:8].reshape(4, 112))            # step 2: rows 5-8
    torch.testing.assert_close(columns[:, 0], x4[:, 0, :, 0:4].transpose(1, 2).reshape(4, 112))
    assert count_parameters(model) == 2 * (8 * 112 + 8 * 8 + 16) + 16 * 10 + 10


def test_readout_dropout_acts_in_training_only_and_keeps_weights_loadable():
    model = RNNClassifier(readout_dropout=0.5)
    assert set(model.state_dict()) == set(RNNClassifier().state_dict())
    model.eval()
    torch.testing.assert_close(model(x4), model(x4))
    model.train()
    torch.manual_seed(0)
    a = model(x4)
    assert not torch.allclose(a, model(x4))


def test_cnn_blocks_make_the_four_conv_network_and_one_block_keeps_the_old_layout():
    four = CNNClassifier(channels=24, blocks=2)
    assert sum(isinstance(m, nn.Conv2d) for m in four.modules()) == 4 and count_parameters(four) < 100_000
    assert four(x4).shape == (4, 10)
    assert list(CNNClassifier(blocks=1).state_dict()) == list(CNNClassifier().state_dict())
    assert "features.4.weight" in CNNClassifier(blocks=1).state_dict()   # rowrnn 0.1.0's names


def test_build_model_takes_a_run_config_as_its_model_section():
    """rowrnn.build_model(rowrnn.build_config(...)) was an AttributeError ('RunConfig' has no 'arch')."""
    cfg = build_config("tiny")
    torch.manual_seed(0)
    from_run = build_model(cfg)
    torch.manual_seed(0)
    from_model = build_model(cfg.model)
    assert type(from_run) is type(from_model)
    assert count_parameters(from_run) == count_parameters(from_model) == 394
    assert all(torch.equal(a, b) for a, b in zip(from_run.state_dict().values(), from_model.state_dict().values()))


@pytest.mark.parametrize("cfg, message", [
    (SimpleNamespace(arch="transformer"), "cfg.arch must be one of recurrent, cnn, got 'transformer'"),
    ({"arch": "cnn"}, "cfg must be a ModelConfig (rowrnn.build_config(...).model) or a RunConfig, got dict"),
])
def test_build_model_refuses_what_is_not_a_model_config_in_one_line(cfg, message):
    with pytest.raises(RowrnnError) as e:
        build_model(cfg)
    assert str(e.value) == message
