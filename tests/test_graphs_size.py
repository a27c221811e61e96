"""What a site's graph holds (rowrnn.graphs.ReadingGraph as ONNX): each reader traced once, each weight once.
onnxruntime-web's session set-up grows faster than the graph, and it is most of the page's first reading."""
import numpy as np
import pytest
import torch

from rowrnn.config import build_config
from rowrnn.models import build_model
from rowrnn.site import reading_onnx

onnx = pytest.importorskip("onnx")


def graph_of(preset, overrides):
    torch.manual_seed(0)
    model = build_model(build_config(preset, overrides)).eval()
    return model, onnx.load_from_string(reading_onnx(model)[0])


@pytest.mark.parametrize("bidirectional", [True, False])
def test_a_stack_is_traced_once_per_reader(bidirectional):
    """The mingru preset (rows and columns: 2 readers) with 2 blocks of 2 LayerNorms: 8 LayerNormalization nodes.
    A bidirectional graph reads every prefix again, and the whole image is its last prefix; a forward one reads
    once for the logits, the hidden states and every prefix's readout (a second trace made 16, or 14)."""
    model, proto = graph_of("mingru", {"hidden_size": 8, "bidirectional": bidirectional})
    layer_norms = [node.name for node in proto.graph.node        # the readers' ("/rnn/...", "/rnn_columns/...")
                   if node.op_type == "LayerNormalization" and node.name.startswith("/rnn")]
    assert len(model.readers) == 2 and all(reader.num_layers == 2 for reader in model.readers)
    assert len(layer_norms) == 2 * 2 * 2


@pytest.mark.parametrize("preset", ["fast", "bilstm"])
def test_a_bidirectional_lstm_graph_carries_its_weights_once(preset):
    """The LSTM's weights travel once (in the one-direction copies the prefixes are read with), not also as the
    bidirectional LSTM's own: the graph's numbers are the model's parameters and a few constants."""
    model, proto = graph_of(preset, {"hidden_size": 24})     # over 16: no unrolled numbers (they trace a layer)
    parameters = sum(p.numel() for p in model.parameters())
    weights = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    lstm_weights = sum(p.numel() for reader in model.readers for p in reader.parameters())
    assert lstm_weights > parameters / 2                    # so that carrying them twice would fail below
    assert parameters - 100 <= weights <= parameters + 100, (weights, parameters)
