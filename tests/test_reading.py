"""rowrnn.reading: the dict a reading view shows (the page's per-run answer, the widget's data), pinned by value
on a hand-made model whose every number can be worked out with a pencil."""
import json
import math

import numpy as np
import pytest
import torch

from rowrnn.constants import CLASSES
from rowrnn.errors import RowrnnError
from rowrnn.models import CNNClassifier, RNNClassifier
from rowrnn.reading import attribution_view, dumps, jsonable, panel_info, reading_view

# rows 0-13 white, rows 14-27 black: normalised, each row's mean is +1, then -1
HALF_WHITE = torch.zeros(28, 28, dtype=torch.uint8)
HALF_WHITE[:14] = 255


def hand_made(hidden_size=2):
    """An rnn reading rows with h_t[0] = tanh(mean of row t), h_t[1] = 0; logits: T-shirt 2 h_t[0], Trouser 1,
    Pullover 0.5, Dress 0.25, the six others 0."""
    model = RNNClassifier(cell="rnn", hidden_size=hidden_size)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.rnn.weight_ih_l0[0] = 1 / 28
        model.fc.weight[0, 0] = 2.0
        model.fc.bias[1:4] = torch.tensor([1.0, 0.5, 0.25])
    return model.eval()


def probabilities(h):
    """The hand-made model's 10 probabilities for h_t[0] = h, by hand."""
    e = [math.exp(2 * h), math.e, math.exp(0.5), math.exp(0.25)] + [1.0] * 6
    return [v / sum(e) for v in e]


def test_the_reading_of_a_hand_made_model_is_worked_out_by_hand():
    view = reading_view(hand_made(), HALF_WHITE, unrolled=False, attribution=False)
    assert list(view) == ["steps", "hidden", "final", "top"]
    steps, hidden = view["steps"].numpy(), view["hidden"].numpy()
    assert steps.shape == (28, 10) and hidden.shape == (28, 2)
    # h_t[0] = tanh(+1) while the rows are white, tanh(-1) after; the other unit never moves
    np.testing.assert_allclose(hidden[:14, 0], math.tanh(1), rtol=1e-6)
    np.testing.assert_allclose(hidden[14:, 0], -math.tanh(1), rtol=1e-6)
    assert np.all(hidden[:, 1] == 0)
    white, black = probabilities(math.tanh(1)), probabilities(-math.tanh(1))
    assert [round(p, 6) for p in white[:4]] == [0.282477, 0.167404, 0.101536, 0.079076]
    assert [round(p, 6) for p in black[:4]] == [0.018368, 0.229023, 0.138909, 0.108183]
    np.testing.assert_allclose(steps[:14], np.tile(white, (14, 1)), rtol=1e-5)
    np.testing.assert_allclose(steps[14:], np.tile(black, (14, 1)), rtol=1e-5)
    # sent rounded to 4 decimals (float32 holds 0.0184 as 0.01840000...)
    assert view["final"] == pytest.approx([0.0184, 0.229, 0.1389, 0.1082] + [0.0843] * 6, abs=1e-7)
    assert view["top"] == [{"class": "Trouser", "probability": 0.229},
                           {"class": "Pullover", "probability": 0.1389},
                           {"class": "Dress", "probability": 0.1082}]


def test_its_json_is_the_pages_answer_to_four_decimals():
    view = reading_view(hand_made(), HALF_WHITE, unrolled=False, attribution=False)
    text = dumps(view)
    answer = json.loads(text)
    assert answer["steps"][0][:4] == [0.2825, 0.1674, 0.1015, 0.0791] and answer["steps"][27][0] == 0.0184
    assert answer["hidden"][0] == [0.7616, 0.0] and answer["hidden"][27] == [-0.7616, 0.0]
    assert text.startswith('{"steps":[[0.2825,0.1674,0.1015,0.0791,0.0616,') and '"hidden":[[0.7616,0.0000],' in text
    assert text.endswith('"top":[{"class":"Trouser","probability":0.229},{"class":"Pullover","probability":0.1389},'
                         '{"class":"Dress","probability":0.1082}]}')
    assert jsonable(view) == answer                              # the widget's plain lists: the same numbers


def test_the_unrolled_numbers_of_the_hand_made_model():
    view = reading_view(hand_made(), HALF_WHITE, attribution=False)
    assert list(view) == ["steps", "hidden", "final", "top", "unrolled", "unrolled_reason"]
    assert view["unrolled_reason"] is None
    numbers = view["unrolled"]
    assert (numbers["cell"], numbers["hidden_size"], numbers["steps"], numbers["input_size"]) == ("rnn", 2, 28, 28)
    assert numbers["equation"] == "a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh\nh_t = tanh(a_t), h_0 = 0"
    terms = {term["name"]: term["values"] for term in numbers["terms"]}
    assert list(terms) == ["x_t", "h_prev", "input_part", "hidden_part", "preactivation", "h_t"]
    assert terms["x_t"][0] == [1.0] * 28 and terms["x_t"][27] == [-1.0] * 28      # row 1 white, row 28 black
    assert terms["input_part"][0] == [1.0, 0.0] and terms["input_part"][27] == [-1.0, 0.0]
    assert terms["hidden_part"][5] == [0.0, 0.0]                                  # W_hh = 0
    assert terms["h_prev"][0] == [0.0, 0.0] and terms["h_prev"][1] == [0.7616, 0.0]
    assert terms["h_t"][0] == [0.7616, 0.0] and terms["h_t"][27] == [-0.7616, 0.0]   # tanh(+-1), 4 decimals
    assert terms["h_t"] == json.loads(dumps(view["hidden"]))                      # the hidden map's own numbers


def test_which_steps_decided_for_a_model_that_reads_only_its_last_row():
    # readout "last" and W_hh = 0: the logits depend on row 28 alone. White there, the T-shirt logit is
    # 2 tanh(1) = 1.523 > Trouser's 1, so T-shirt is predicted; blanking row 28 (black, -1) makes it -2 tanh(1)
    image = HALF_WHITE.clone()
    image[27] = 255
    view = reading_view(hand_made(), image, unrolled=False)
    scores = view["attribution"]
    assert (scores["target"], scores["class"]) == (0, "T-shirt/top") and view["top"][0]["class"] == "T-shirt/top"
    assert round(4 * math.tanh(1), 4) == 3.0464
    expected = [0.0] * 27 + [4 * math.tanh(1)]
    assert scores["occlusion"].shape == (1, 28)
    np.testing.assert_allclose(scores["occlusion"][0].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(scores["integrated-gradients"][0].numpy(), expected, atol=1e-3)   # quadrature error
    answer = json.loads(dumps(view))["attribution"]
    assert answer["occlusion"] == [[0.0] * 27 + [3.0464]] and answer["class"] == "T-shirt/top"


def test_only_the_methods_asked_for_are_computed(monkeypatch):
    import rowrnn.reading as reading_module
    seen = []
    real = reading_module.step_attribution
    monkeypatch.setattr(reading_module, "step_attribution", lambda *a, **kw: seen.append(kw["method"]) or real(*a, **kw))
    scores = reading_view(hand_made(), HALF_WHITE, unrolled=False, methods=("occlusion",))["attribution"]
    assert seen == ["occlusion"] and scores["integrated-gradients"] is None and scores["occlusion"].shape == (1, 28)
    with pytest.raises(RowrnnError) as refusal:
        reading_view(hand_made(), HALF_WHITE, methods=("saliency",))
    assert str(refusal.value) == "methods must be among occlusion, integrated-gradients, got 'saliency'"


def test_tiny_attribution_scores_keep_four_significant_digits_where_the_rest_keeps_four_decimals():
    # a weakly trained run's scores are all under 5e-5 logits: four decimals would send zeros
    view = {"steps": torch.tensor([[0.123456, 1e-5]]),
            "attribution": {"target": 3, "occlusion": torch.tensor([[4.2e-5, -1.23456e-6, 0.0]]),
                            "integrated-gradients": torch.tensor([[3.0464, 1e-8]])}}
    text = dumps(view)
    assert text == ('{"steps":[[0.1235,0.0000]],"attribution":{"target":3,'
                    '"occlusion":[[0.00004200,-0.00000123,0.00000000]],"integrated-gradients":[[3.0464,0.0000]]}}')
    assert json.loads(text)["attribution"]["occlusion"] == [[4.2e-05, -1.23e-06, 0.0]]
    # the same inside the server's answer, a list of models each with its attribution
    assert dumps({"models": [{"id": 0, "attribution": view["attribution"]}]}) == \
        '{"models":[{"id":0,' + text.split(",", 2)[2] + "]}"


@pytest.mark.parametrize("tensor, text", [
    (torch.tensor([1.0, 2.5]), "[1.0000,2.5000]"),                  # a 1-D tensor is one list, not a column
    (torch.tensor([[1.0], [2.0]]), "[[1.0000],[2.0000]]"),
    (torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]]), "[[[1.0000,2.0000]],[[3.0000,4.0000]]]"),
    (torch.tensor(0.5), "0.5"),
    (torch.zeros(0), "[]"),
    (torch.zeros(2, 0), "[[],[]]"),
])
def test_dumps_writes_tensors_of_every_shape_as_json_of_that_shape(tensor, text):
    assert dumps({"a": tensor}) == '{"a":' + text + "}"
    assert dumps([tensor]) == "[" + text + "]"
    assert json.loads(dumps(tensor)) == tensor.tolist()


def test_dumps_refuses_nan_and_objects_json_does_not_know():
    with pytest.raises(ValueError):
        dumps({"a": [torch.tensor([1.0, float("nan")])]})
    with pytest.raises(ValueError):
        dumps({"a": float("inf")})
    with pytest.raises(TypeError):
        dumps({"a": object()})


def test_a_pixel_reader_is_not_occluded_784_times():
    torch.manual_seed(0)
    pixels = RNNClassifier(read="permuted-pixels", hidden_size=2).eval()
    scores = reading_view(pixels, HALF_WHITE, unrolled=False)["attribution"]
    assert scores["occlusion"] is None and scores["integrated-gradients"].shape == (1, 784)
    assert reading_view(CNNClassifier(channels=4).eval(), HALF_WHITE)["attribution"] is None
    assert "attribution" not in reading_view(pixels, HALF_WHITE, attribution=False)


def test_attribution_view_explains_the_predicted_class_alone():
    image = HALF_WHITE.clone()
    image[27] = 255
    alone = attribution_view(hand_made(), image)
    within = reading_view(hand_made(), image, unrolled=False)["attribution"]
    assert dumps(alone) == dumps(within) and alone["class"] == "T-shirt/top"
    assert attribution_view(CNNClassifier(channels=4).eval(), image) is None
    broken = hand_made()
    with torch.no_grad():
        broken.fc.bias[3] = float("inf")
    assert attribution_view(broken, image) is None


def test_no_numbers_for_a_large_model_or_a_cnn_and_the_reason_why():
    wide = RNNClassifier(hidden_size=17).eval()
    assert (reading_view(wide, HALF_WHITE)["unrolled"], reading_view(wide, HALF_WHITE)["unrolled_reason"]) == \
        (None, "hidden-size")
    assert reading_view(RNNClassifier(hidden_size=16).eval(), HALF_WHITE)["unrolled"]["hidden_size"] == 16
    cnn = reading_view(CNNClassifier(channels=4).eval(), HALF_WHITE)
    assert (cnn["unrolled"], cnn["unrolled_reason"]) == (None, "not-recurrent")
    assert "unrolled" not in reading_view(wide, HALF_WHITE, unrolled=False)
    assert "unrolled_reason" not in reading_view(wide, HALF_WHITE, unrolled=False)


def test_numbers_that_are_not_finite_say_so_rather_than_blame_the_hidden_size(monkeypatch):
    # an LSTM whose cell state overflows while its outputs stay finite: unroll refuses, the view says why
    import rowrnn.reading as reading_module

    def refuse(*args, **kwargs):
        raise RowrnnError("the recurrence's numbers hold NaN or infinity")
    monkeypatch.setattr(reading_module, "unroll", refuse)
    view = reading_view(hand_made(), HALF_WHITE, attribution=False)
    assert (view["unrolled"], view["unrolled_reason"]) == (None, "not-finite")
    assert view["top"][0]["class"] == "Trouser"                     # the rest of the reading stands


def test_a_cnn_has_no_steps():
    torch.manual_seed(0)
    model = CNNClassifier(channels=4).eval()
    view = reading_view(model, HALF_WHITE, unrolled=False, attribution=False)
    with torch.no_grad():
        final = model((HALF_WHITE.float() / 255 - 0.5).div(0.5).reshape(1, 1, 28, 28))[0].softmax(-1)
    assert view["steps"] is None and view["hidden"] is None
    np.testing.assert_allclose(view["final"], final.numpy(), atol=5e-5)
    assert [t["class"] for t in view["top"]] == [CLASSES[int(i)] for i in final.topk(3).indices]


def test_weights_that_give_nan_are_one_line():
    model = hand_made()
    with torch.no_grad():
        model.fc.bias[3] = float("nan")
    assert reading_view(model, HALF_WHITE) == {"error": "this run's weights give NaN or infinite outputs "
                                                        "(a diverged training?): retrain it, or serve other weights"}


@pytest.mark.parametrize("image, message", [      # every form and refusal: test_inputs.py
    (torch.zeros(28, 28), "image holds floats from 0 to 0: looks like ToTensor() floats in [0, 1]: pass "
                          "value_range=(0, 1), or normalize with Normalize(0.5, 0.5); already normalized, with no "
                          "pixel below mid-grey (an all-light drawing)? pass value_range=(-1, 1)"),
    (np.zeros((2, 28, 28), dtype=np.uint8), "image has shape (2, 28, 28): rowrnn reads one grey image shaped "
                                            "(28, 28), (1, 28, 28) or (1, 1, 28, 28); for a photo or a colour "
                                            "picture use rowrnn.load_image(path)"),
])
def test_an_image_in_no_accepted_form_is_refused(image, message):
    with pytest.raises(RowrnnError) as refusal:
        reading_view(hand_made(), image)
    assert str(refusal.value) == message


def test_a_numpy_image_reads_as_the_tensor_does():
    assert dumps(reading_view(hand_made(), HALF_WHITE.numpy())) == dumps(reading_view(hand_made(), HALF_WHITE))


def test_panel_info_of_bare_models():
    rows = panel_info(hand_made(), None, "hand-made")
    assert rows == {"id": 0, "name": "hand-made", "preset": None, "parameters": 2 * 28 + 2 * 2 + 2 + 2 + 2 * 10 + 10,
                    "test_accuracy": None, "recurrent": True, "read": "rows", "steps": 28, "rows_per_step": 1,
                    "hidden_width": 2, "hidden_size": 2, "permutation": None, "classes": list(CLASSES),
                    "image_size": 28, "step_lines": [[t, t] for t in range(28)]}
    both = panel_info(RNNClassifier(cell="gru", hidden_size=3, bidirectional=True, read="rows+columns",
                                    rows_per_step=4), None, "both", index=2, test_accuracy=0.5)
    assert (both["id"], both["steps"], both["rows_per_step"], both["hidden_width"], both["hidden_size"],
            both["test_accuracy"]) == (2, 7, 4, 3 * 2 * 2, 3, 0.5)
    permuted = RNNClassifier(read="permuted-pixels", hidden_size=2, permutation_seed=1)
    info = panel_info(permuted, None, "p")
    assert info["steps"] == 784 and info["permutation"] == permuted.permutation.tolist()
    assert sorted(info["permutation"]) == list(range(784)) and info["permutation"] != list(range(784))
    cnn = panel_info(CNNClassifier(channels=4), None, "cnn")
    assert (cnn["recurrent"], cnn["read"], cnn["steps"], cnn["rows_per_step"], cnn["hidden_width"],
            cnn["hidden_size"]) == (False, None, None, None, None, None)
