"""rowrnn.unrolling.unroll: the recurrence written out with its numbers equals what the model computes, for every cell, read
and direction; its parts add up; a hand-computed case; the errors, word for word."""
import json
import math

import numpy as np
import pytest
import torch

import rowrnn
from rowrnn.data import normalize
from rowrnn.errors import RowrnnError
from rowrnn.models import CNNClassifier, ElmanRNN, RNNClassifier
from rowrnn.recurrences import g
from rowrnn.unrolling import unroll

CELLS = ("rnn", "elman", "gru", "lstm", "mingru", "minlstm", "lru")
READS = (("rows", 1), ("rows", 2), ("columns", 1), ("rows+columns", 1))
NAMES = {  # the page and the widget find the terms by these names (/tmp/team/unroll-api.md)
    "rnn": ["x_t", "h_prev", "input_part", "hidden_part", "preactivation", "h_t"],
    "elman": ["x_t", "h_prev", "input_part", "hidden_part", "preactivation", "h_t"],
    "gru": ["x_t", "h_prev", "r_input", "r_hidden", "r", "z_input", "z_hidden", "z", "n_input", "n_hidden", "n", "h_t"],
    "lstm": ["x_t", "h_prev", "c_prev", "i_input", "i_hidden", "i", "f_input", "f_hidden", "f", "g_input", "g_hidden",
             "g", "o_input", "o_hidden", "o", "c_t", "h_t"],
    "mingru": ["p_t", "x_t", "h_prev", "z_preactivation", "z", "h_tilde_preactivation", "h_tilde", "h_t"],
    "minlstm": ["p_t", "x_t", "h_prev", "f_preactivation", "f", "i_preactivation", "i", "f_normalized",
                "i_normalized", "h_tilde_preactivation", "h_tilde", "h_t"],
    "lru": ["p_t", "x_t", "Bx_re", "Bx_im", "gamma", "lambda_magnitude", "lambda_phase", "state_re_prev",
            "state_im_prev", "state_re", "state_im", "Ch_re", "Dx", "y_t"],
}
H = 5


def image() -> torch.Tensor:
    """A uint8 picture with structure in both directions (so rows and columns read different things)."""
    rows, cols = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    return ((rows * 9 + cols * cols * 3 + rows * cols) % 256).to(torch.uint8)


def model_of(cell, read="rows", k=1, bidirectional=False, num_layers=1, seed=0, **kwargs):
    """A small model whose every parameter is moved off its initialization (a LayerNorm's scale 1 and shift 0
    would hide a computation that leaves them out)."""
    torch.manual_seed(seed)
    model = RNNClassifier(cell=cell, hidden_size=H, read=read, rows_per_step=k, bidirectional=bidirectional,
                          num_layers=num_layers, **kwargs).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model


def values(numbers: dict) -> dict[str, torch.Tensor]:
    return {t["name"]: torch.tensor(t["values"], dtype=torch.float64) for t in numbers["terms"]}


@torch.no_grad()
def first_layer_forward(model, x: torch.Tensor) -> torch.Tensor:
    """What the model computes in its first reader's first layer, forward direction, taken from the model's own
    modules (not from unroll): (1, 1, 28, 28) -> (T, H)."""
    reader = model.readers[0]
    layers = len(reader.blocks) if model.stacked else reader.num_layers
    if layers == 1:    # hidden_states: the first reader's forward direction comes first
        return model.hidden_states(x)[0, :, :H]
    seq = model.sequences(x)[0]
    if model.stacked:  # the first block's cell, caught on its way
        caught = []
        hook = reader.blocks[0].cell.register_forward_hook(lambda module, args, out: caught.append(out))
        model.hidden_states(x)
        hook.remove()
        return caught[0][0]
    one = type(reader)(seq.shape[2], H, num_layers=1, batch_first=True)   # layer 0 alone, the same weights
    one.load_state_dict({name: p for name, p in reader.state_dict().items() if name.endswith("_l0")})
    return one(seq)[0][0]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("read,k", READS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_h_t_equals_the_models_own_hidden_states(cell, read, k, bidirectional):
    model = model_of(cell, read, k, bidirectional)
    numbers = unroll(model, image())
    x = normalize(image()).reshape(1, 1, 28, 28)
    expected = first_layer_forward(model, x)
    assert expected.shape == (28 // k, H)
    out = values(numbers)[numbers["output"]]
    assert torch.allclose(out, expected.double(), atol=1e-5, rtol=0)
    assert numbers["output"] == ("y_t" if cell == "lru" else "h_t") == numbers["terms"][-1]["name"]
    assert (numbers["cell"], numbers["reader"], numbers["layer"], numbers["direction"]) == (
        cell, read.split("+")[0], 0, "forward")
    assert (numbers["steps"], numbers["hidden_size"], numbers["bidirectional"]) == (28 // k, H, bidirectional)
    assert [t["name"] for t in numbers["terms"]] == NAMES[cell]
    assert all(len(t["values"]) == 28 // k for t in numbers["terms"])
    json.dumps(numbers, allow_nan=False)    # the page's JSON refuses NaN


@pytest.mark.parametrize("cell", CELLS)
def test_stacked_layers_show_the_first_layer(cell):
    model = model_of(cell, num_layers=2, bidirectional=True)
    numbers = unroll(model, image())
    x = normalize(image()).reshape(1, 1, 28, 28)
    expected = first_layer_forward(model, x)
    assert torch.allclose(values(numbers)[numbers["output"]], expected.double(), atol=1e-5, rtol=0)
    assert not torch.allclose(expected, model.hidden_states(x)[0, :, :H], atol=1e-3)   # layer 2 differs
    assert numbers["num_layers"] == 2


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("read", ["pixels", "permuted-pixels"])
def test_pixels(cell, read):
    model = model_of(cell, read)
    numbers = unroll(model, image())
    expected = first_layer_forward(model, normalize(image()).reshape(1, 1, 28, 28))
    assert torch.allclose(values(numbers)[numbers["output"]], expected.double(), atol=1e-5, rtol=0)
    v = values(numbers)
    pixels = v["x_t" if cell not in ("mingru", "minlstm", "lru") else "p_t"]
    assert pixels.shape == (784, 1)
    assert numbers["input_size"] == (1 if cell in ("rnn", "elman", "gru", "lstm") else H)


def x_of(model, img=None):
    return model.sequences(normalize(image() if img is None else img).reshape(1, 1, 28, 28))[0][0].double()


def params(module):
    return {name: p.detach().double() for name, p in module.named_parameters()}


def previous(h):
    return torch.cat([torch.zeros_like(h[:1]), h[:-1]])


TOL = dict(atol=2e-5, rtol=0)     # each number is rounded to 6 decimals


@pytest.mark.parametrize("cell", ["rnn", "elman"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_parts_add_up(cell, nonlinearity):
    model = model_of(cell, "rows", 2, nonlinearity=nonlinearity)
    numbers = unroll(model, image())
    v, p = values(numbers), params(model.rnn)
    assert numbers["nonlinearity"] == nonlinearity and numbers["input_size"] == 56
    assert torch.allclose(v["x_t"], x_of(model), **TOL)
    assert torch.allclose(v["input_part"], v["x_t"] @ p["weight_ih_l0"].T + p["bias_ih_l0"], **TOL)
    assert torch.allclose(v["hidden_part"], v["h_prev"] @ p["weight_hh_l0"].T + p["bias_hh_l0"], **TOL)
    assert torch.allclose(v["input_part"] + v["hidden_part"], v["preactivation"], **TOL)
    f = torch.tanh if nonlinearity == "tanh" else torch.relu
    assert torch.allclose(f(v["preactivation"]), v["h_t"], **TOL)
    assert torch.equal(v["h_prev"], previous(v["h_t"]))
    assert numbers["equation"].splitlines()[-1] == f"h_t = {nonlinearity}(a_t), h_0 = 0"


def test_gru_gates():
    numbers = unroll(model_of("gru", "columns"), image())
    v = values(numbers)
    assert torch.allclose(torch.sigmoid(v["r_input"] + v["r_hidden"]), v["r"], **TOL)
    assert torch.allclose(torch.sigmoid(v["z_input"] + v["z_hidden"]), v["z"], **TOL)
    assert torch.allclose(torch.tanh(v["n_input"] + v["r"] * v["n_hidden"]), v["n"], **TOL)
    assert torch.allclose((1 - v["z"]) * v["n"] + v["z"] * v["h_prev"], v["h_t"], **TOL)
    for gate in ("r", "z"):
        assert ((v[gate] > 0) & (v[gate] < 1)).all()
    assert numbers["nonlinearity"] is None


def test_lstm_gates():
    numbers = unroll(model_of("lstm"), image())
    v = values(numbers)
    for gate, f in (("i", torch.sigmoid), ("f", torch.sigmoid), ("g", torch.tanh), ("o", torch.sigmoid)):
        assert torch.allclose(f(v[f"{gate}_input"] + v[f"{gate}_hidden"]), v[gate], **TOL)
    for gate in "ifo":
        assert ((v[gate] > 0) & (v[gate] < 1)).all()
    assert torch.allclose(v["f"] * v["c_prev"] + v["i"] * v["g"], v["c_t"], **TOL)
    assert torch.allclose(v["o"] * torch.tanh(v["c_t"]), v["h_t"], **TOL)
    assert torch.equal(v["c_prev"], previous(v["c_t"]))
    kinds = {t["name"]: t["kind"] for t in numbers["terms"]}
    assert [kinds[n] for n in ("i", "f", "g", "o", "c_t", "h_t")] == ["gate", "gate", "candidate", "gate", "state",
                                                                       "output"]


def block_input(model):
    """x_t of a stack's first block: LayerNorm(Linear(pixels)), from the model's own modules."""
    with torch.no_grad():
        return model.rnn.blocks[0].norm_cell(model.rnn.input(x_of(model).float())).double()


def test_mingru_parts():
    model = model_of("mingru")
    numbers = unroll(model, image())
    v, p = values(numbers), params(model.rnn.blocks[0].cell)
    assert numbers["x_source"] == "block_input" and numbers["input_size"] == H
    assert torch.allclose(v["p_t"], x_of(model), **TOL)
    assert torch.allclose(v["x_t"], block_input(model), **TOL)
    k_z, k_h = (v["x_t"] @ p["linear.weight"].T + p["linear.bias"]).chunk(2, dim=1)
    assert torch.allclose(v["z_preactivation"], k_z, atol=1e-4, rtol=0)
    assert torch.allclose(v["h_tilde_preactivation"], k_h, atol=1e-4, rtol=0)
    assert torch.allclose(torch.sigmoid(v["z_preactivation"]), v["z"], **TOL)
    assert torch.allclose(g(v["h_tilde_preactivation"]), v["h_tilde"], **TOL)
    assert torch.allclose((1 - v["z"]) * v["h_prev"] + v["z"] * v["h_tilde"], v["h_t"], **TOL)
    assert ((v["z"] > 0) & (v["z"] < 1)).all() and (v["h_tilde"] > 0).all()


def test_minlstm_parts():
    numbers = unroll(model_of("minlstm", "columns"), image())
    v = values(numbers)
    assert torch.allclose(torch.sigmoid(v["f_preactivation"]), v["f"], **TOL)
    assert torch.allclose(torch.sigmoid(v["i_preactivation"]), v["i"], **TOL)
    assert torch.allclose(v["f"] / (v["f"] + v["i"]), v["f_normalized"], **TOL)
    assert torch.allclose(v["i"] / (v["f"] + v["i"]), v["i_normalized"], **TOL)
    assert torch.allclose(v["f_normalized"] + v["i_normalized"], torch.ones_like(v["f"]), **TOL)
    assert torch.allclose(g(v["h_tilde_preactivation"]), v["h_tilde"], **TOL)
    assert torch.allclose(v["f_normalized"] * v["h_prev"] + v["i_normalized"] * v["h_tilde"], v["h_t"], **TOL)
    for gate in ("f", "i", "f_normalized", "i_normalized"):
        assert ((v[gate] > 0) & (v[gate] < 1)).all()


def test_lru_parts():
    model = model_of("lru")
    numbers = unroll(model, image())
    v, p = values(numbers), params(model.rnn.blocks[0].cell)
    assert torch.allclose(v["x_t"], block_input(model), **TOL)
    assert torch.allclose(v["Bx_re"], v["x_t"] @ p["B_re"].T, atol=1e-4, rtol=0)
    assert torch.allclose(v["Bx_im"], v["x_t"] @ p["B_im"].T, atol=1e-4, rtol=0)
    for name, expected in (("lambda_magnitude", torch.exp(-torch.exp(p["nu_log"]))),
                           ("lambda_phase", torch.exp(p["theta_log"])), ("gamma", torch.exp(p["gamma_log"]))):
        assert torch.allclose(v[name], expected.expand(28, -1), **TOL)           # the same at every step
    lam = torch.polar(v["lambda_magnitude"], v["lambda_phase"])
    state = torch.complex(v["state_re"], v["state_im"])
    before = torch.complex(v["state_re_prev"], v["state_im_prev"])
    assert torch.allclose(before, torch.cat([torch.zeros_like(state[:1]), state[:-1]]))
    assert torch.allclose(lam * before + v["gamma"] * torch.complex(v["Bx_re"], v["Bx_im"]), state, **TOL)
    assert torch.allclose(v["Ch_re"], (state @ torch.complex(p["C_re"], p["C_im"]).T).real, atol=1e-4, rtol=0)
    assert torch.allclose(v["Ch_re"] + v["Dx"], v["y_t"], **TOL)
    assert ((v["lambda_magnitude"] > 0) & (v["lambda_magnitude"] < 1)).all()


@pytest.mark.parametrize("cell", ["rnn", "elman"])
def test_a_case_computed_by_hand(cell):
    """hidden_size 2, weights set by hand; h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) worked out on paper
    (math.tanh) for the first three rows of an image whose row 1 is (1, 0, ...), row 2 (0, 0.5, 0, ...), the rest 0."""
    torch.manual_seed(0)
    model = RNNClassifier(cell=cell, hidden_size=2)
    W_ih = torch.zeros(2, 28)
    W_ih[0, 0], W_ih[1, 1] = 1.0, 2.0
    with torch.no_grad():
        for name, value in (("weight_ih_l0", W_ih), ("weight_hh_l0", torch.tensor([[0.5, 0.0], [0.0, -1.0]])),
                            ("bias_ih_l0", torch.tensor([0.1, 0.0])), ("bias_hh_l0", torch.tensor([0.0, 0.2]))):
            getattr(model.rnn, name).copy_(value)
    picture = torch.zeros(1, 1, 28, 28)                  # already normalized floats, all >= 0: declared
    picture[0, 0, 0, 0], picture[0, 0, 1, 1] = 1.0, 0.5
    numbers = unroll(model, picture, value_range=(-1, 1))
    v = {t["name"]: t["values"][:3] for t in numbers["terms"]}
    assert v["x_t"][0][:3] == [1.0, 0.0, 0.0] and v["x_t"][1][:3] == [0.0, 0.5, 0.0]
    assert v["input_part"] == [[1.1, 0.0], [0.1, 1.0], [0.1, 0.0]]
    assert np.allclose(v["hidden_part"], [[0.0, 0.2], [0.400250, 0.002625], [0.231157, -0.562694]], atol=2e-6, rtol=0)
    assert np.allclose(v["preactivation"], [[1.1, 0.2], [0.500250, 1.002625], [0.331157, -0.562694]], atol=2e-6, rtol=0)
    assert np.allclose(v["h_t"], [[0.800499, 0.197375], [0.462313, 0.762694], [0.319560, -0.509974]], atol=2e-6, rtol=0)
    assert v["h_prev"] == [[0.0, 0.0], v["h_t"][0], v["h_t"][1]]
    assert math.isclose(v["h_t"][0][0], math.tanh(1.1), abs_tol=1e-6)


def test_the_image_forms_agree():
    model = model_of("gru")
    expected = unroll(model, image())
    normalized = normalize(image())
    for form in (normalized, normalized[None], normalized[None, None], image()[None], image().numpy()):
        assert unroll(model, form) == expected



def test_the_package_exports_the_function_whatever_was_imported_first():
    """The module is rowrnn.unrolling, so importing it (as rowrnn.reading does) cannot shadow the package's
    export of the function rowrnn.unroll."""
    import importlib
    importlib.import_module("rowrnn.unrolling")
    importlib.import_module("rowrnn.reading")
    model = model_of("mingru")
    assert rowrnn.unroll is unroll
    assert rowrnn.unroll(model, image(), max_hidden=5) == unroll(model, image())


def test_decimals_and_json():
    numbers = unroll(model_of("lstm"), image(), decimals=3)
    flat = [v for t in numbers["terms"] for row in t["values"] for v in row]
    assert all(type(v) is float and round(v, 3) == v for v in flat)
    assert json.loads(json.dumps(numbers)) == numbers
    assert "equation" in numbers and numbers["equation"].count("\n") == 5
    assert numbers["equation_latex"].count(r" \\ ") == 5


def test_a_wider_model_passes_with_a_larger_max_hidden():
    torch.manual_seed(0)
    model = RNNClassifier(cell="rnn", hidden_size=20)
    assert unroll(model, image(), max_hidden=20)["hidden_size"] == 20


@pytest.mark.parametrize("call,message", [
    (lambda: unroll(CNNClassifier(channels=4), image()),
     "model is a CNNClassifier, which does not read step by step: unroll shows the recurrence of a recurrent model "
     "(an RNNClassifier)"),
    (lambda: unroll(RNNClassifier(hidden_size=64), image()),
     "model's hidden size 64 is more than max_hidden=16: the numbers view is for small models; pass max_hidden=64 "
     "to see them anyway"),
    (lambda: unroll(RNNClassifier(hidden_size=8), image(), max_hidden=0),
     "max_hidden must be a positive integer, got 0"),
    # the image's own refusals are rowrnn.pixels.model_input's, tested for every entry point in test_inputs.py
    (lambda: unroll(RNNClassifier(), torch.zeros(2, 28, 28)),
     "image has shape (2, 28, 28): rowrnn reads one grey image shaped (28, 28), (1, 28, 28) or (1, 1, 28, 28); "
     "for a photo or a colour picture use rowrnn.load_image(path)"),
    (lambda: unroll(RNNClassifier(), torch.full((1, 28, 28), float("nan"))),
     "image holds NaN or infinite values: give uint8 pixels 0-255, or floats normalized to [-1, 1] as ToTensor() + "
     "Normalize(0.5, 0.5) gives them (ToTensor() floats in [0, 1]: pass value_range=(0, 1))"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(RowrnnError) as caught:
        call()
    assert str(caught.value) == message


def test_broken_weights_are_refused_not_sent_as_nan():
    model = model_of("lstm")
    with torch.no_grad():
        model.rnn.weight_ih_l0[0, 5] = float("nan")
    with pytest.raises(RowrnnError) as caught:
        unroll(model, image())
    assert str(caught.value) == ("model gives NaN or infinite numbers (W_ii x_t + b_ii at step 1): its weights are "
                                 "broken (a diverged training?); retrain it, or pass another model")


def test_elman_and_rnn_with_the_same_weights_give_the_same_numbers():
    rnn = model_of("rnn")
    elman = model_of("elman")
    elman.rnn.load_state_dict(rnn.rnn.state_dict())
    a, b = unroll(rnn, image()), unroll(elman, image())
    assert isinstance(elman.rnn, ElmanRNN)
    assert a["terms"] == b["terms"] and a["equation"] != b["equation"]
    assert b["equation"].splitlines()[0] == "h_t = tanh(W [x_t ; h_{t-1}] + b), W = [W_ih | W_hh], b = b_ih + b_hh"


@pytest.mark.integration
@pytest.mark.parametrize("cell", ["rnn", "gru", "minlstm"])
def test_a_model_trained_on_real_images(real_data, cell):
    """A few hundred real Fashion-MNIST images' worth of training, then a real test image read as uint8: the
    numbers still equal the model's own states (trained weights are not the initialization's)."""
    train, test = rowrnn.load_fashion_mnist(real_data)
    torch.manual_seed(0)
    model = RNNClassifier(cell=cell, hidden_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for start in range(0, 1280, 64):
        x = normalize(train.images[start:start + 64]).unsqueeze(1)
        loss = torch.nn.functional.cross_entropy(model(x), train.labels[start:start + 64].long())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    numbers = unroll(model, test.images[0])
    expected = model.hidden_states(normalize(test.images[0]).reshape(1, 1, 28, 28))[0].detach()
    assert torch.allclose(values(numbers)["h_t"], expected.double(), atol=1e-5, rtol=0)
    assert values(numbers)["x_t"].shape == (28, 28 if cell != "minlstm" else 8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cell,read", [("lstm", "permuted-pixels"), ("lru", "rows+columns"), ("mingru", "columns")])
def test_a_model_on_the_gpu_gives_the_numbers_of_its_cpu_copy(cell, read):
    model = model_of(cell, read)
    on_cpu = unroll(model, image())
    on_gpu = unroll(model.cuda(), image())
    for a, b in zip(on_cpu["terms"], on_gpu["terms"]):
        assert a["name"] == b["name"] and np.allclose(a["values"], b["values"], atol=1e-5, rtol=0)


def test_a_numpy_image_reads_as_the_same_tensor():
    """A numpy array (uint8, or float64 already normalized) gives the numbers of the same tensor."""
    torch.manual_seed(0)
    model = RNNClassifier(cell="gru", hidden_size=4)
    pixels = image()
    expected = unroll(model, pixels)
    assert unroll(model, pixels.numpy()) == expected
    assert unroll(model, normalize(pixels).numpy().astype(np.float64)) == expected
