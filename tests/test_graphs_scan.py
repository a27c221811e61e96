"""The linear recurrence as ONNX holds it (rowrnn.recurrences.doubling_scan): the same numbers as the step loop,
and a graph whose size grows with log2 T, not T (what made a pixel reader's site take a minute to load)."""
import io
import warnings

import pytest
import torch

from rowrnn.recurrences import MinGRU, MinLSTM, doubling_scan, step_scan

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5, 7, 8, 9, 14, 28, 33, 784])
def test_doubling_scan_gives_the_step_loops_numbers(T):
    generator = torch.Generator().manual_seed(T)
    a = torch.rand(3, T, 5, dtype=torch.float64, generator=generator)
    b = torch.randn(3, T, 5, dtype=torch.float64, generator=generator)
    a[0, T // 2] = 0                       # a forgetting step (minGRU's z = 1): nothing before it counts
    a[1, :, 0] = 1                         # a running sum
    expected = step_scan(a, b)
    torch.testing.assert_close(doubling_scan(a, b), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(doubling_scan(a, b)[1, :, 0], b[1, :, 0].cumsum(0), rtol=0, atol=1e-12)
    if T > 1:
        torch.testing.assert_close(doubling_scan(a, b)[0, T // 2], b[0, T // 2], rtol=0, atol=0)


def export_cell(cell, T):
    """(nodes, onnxruntime's output) of one cell exported at T steps, its input (2, T, size) seeded."""
    x = torch.randn(2, T, cell.size, generator=torch.Generator().manual_seed(1))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(cell, (x,), buffer, dynamo=False, input_names=["x"], output_names=["h"], opset_version=17)
    proto = onnx.load_from_string(buffer.getvalue())
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    return len(proto.graph.node), session.run(None, {"x": x.numpy()})[0], x


@pytest.mark.parametrize("cell_type", [MinGRU, MinLSTM])
def test_an_exported_cell_has_log2_T_rounds_and_the_loops_numbers(cell_type):
    torch.manual_seed(0)
    cell = cell_type(4).eval()
    short, _, _ = export_cell(cell, 28)                   # 5 rounds
    long, h, x = export_cell(cell, 784)                   # 10 rounds
    # five more rounds cost under 20 nodes each; the traced loop cost about 5 nodes a step (3,780 more)
    assert long - short <= 5 * 20, (short, long)      # 17 a round in torch 2.x (Slice and Concat with constants)
    assert long < 250
    with torch.inference_mode():
        expected = cell(x, scan="step")
    torch.testing.assert_close(torch.from_numpy(h), expected, rtol=0, atol=1e-5)
    assert cell.scan == "auto"                           # the export chose its scan without changing the cell's
