"""A minimal cell decides its scan once per forward (recurrences._scan), for every cell and scan, and the
answers are unchanged: step, parallel and an ONNX export's doubling scan agree with the loop."""
import pytest
import torch

from rowrnn import recurrences
from rowrnn.recurrences import LRU, MinGRU, MinLSTM, doubling_scan, step_scan

CELLS = {"mingru": MinGRU, "minlstm": MinLSTM, "lru": LRU}


@pytest.mark.parametrize("scan", ["auto", "step", "parallel"])
@pytest.mark.parametrize("name", CELLS)
def test_a_forward_decides_its_scan_once(name, scan, monkeypatch):
    torch.manual_seed(0)
    cell = CELLS[name](6, scan=scan)
    decided = []
    real = recurrences._scan
    monkeypatch.setattr(recurrences, "_scan", lambda *args: decided.append(real(*args)) or decided[-1])
    x = torch.randn(3, 9, 6)
    h = cell(x)
    assert decided == [{"auto": "step"}.get(scan, scan)] and h.shape == (3, 9, 6) and h.dtype == torch.float32
    cell(x, scan="parallel")
    assert decided[1:] == ["parallel"]


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_the_doubling_scan_an_export_takes_is_the_loops_recurrence(name, monkeypatch):
    torch.manual_seed(0)
    cell = CELLS[name](5)
    x = torch.randn(2, 13, 5)
    looped = cell(x, scan="step")
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    assert recurrences._scan(cell, None, x) == "doubling"
    torch.testing.assert_close(cell(x), looped, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("T", [1, 2, 7, 16])
def test_doubling_scan_returns_b_t_h_in_its_inputs_dtype(T, dtype):
    torch.manual_seed(0)
    a, b = torch.rand(2, T, 3, dtype=dtype), torch.randn(2, T, 3, dtype=dtype)
    h = doubling_scan(a, b)
    assert h.shape == (2, T, 3) and h.dtype == dtype
    torch.testing.assert_close(h, step_scan(a, b))


def test_doubling_scans_docstring_gives_its_output_shape_and_dtype():
    first = doubling_scan.__doc__.splitlines()[0]
    assert first.endswith("(B, T, H) twice -> h (B, T, H).") and "dtype" in doubling_scan.__doc__
