"""Weights that are what they say: a state_dict checked against the model it goes into, in one place.

Every route that loads weights comes here: runs.load_model (so `--weights`, `evaluate`, `plot`, `export`,
`predict`, `serve`, the widget and `rowrnn.load_model`), a --distill-from teacher, and the course's own
`RNNClassifier().load_state_dict(notebook.state_dict())` (models.py's load_state_dict).

    tensors = fit_state_dict(model, safetensors.torch.load_file("w.safetensors"), source="w.safetensors")
    model.load_state_dict(tensors)

What it decides (torch, safetensors and timm users' expectations):
- dtypes: a floating-point tensor of the model takes floating point only; float16, bfloat16 and float64 are
  converted to the model's dtype and *said* (a WeightsConverted warning, a `rowrnn: note:` line in the CLI);
  integer, bool and complex tensors are refused (a cast to integers has already destroyed the weights). An
  integer buffer (a permutation, BatchNorm's count) takes integers only.
- keys: the prefixes torch's own wrappers add, 'module.' (DataParallel, DistributedDataParallel, AveragedModel;
  timm's clean_state_dict strips it too) and '_orig_mod.' (torch.compile), are removed when every key has
  one, and said; any other prefix (a Lightning module's 'model.', a wrapper's 'net.') is refused with the line
  that strips it. Every mismatch is named in one line: missing keys, unexpected keys and size mismatches, with
  counts (the first NAMES_SHOWN of each). The config is blamed only when the keys match and shapes differ.
"""
from __future__ import annotations

import warnings

from .errors import RowrnnError

# the prefixes torch's wrappers add to every key, with who adds them; removed (and said) when every key has one
WRAPPER_PREFIXES = {"module.": "DataParallel, DistributedDataParallel or AveragedModel",
                    "_orig_mod.": "torch.compile"}
NAMES_SHOWN = 5          # names listed per kind of mismatch, then "and N more"


class WeightsMismatch(RowrnnError, RuntimeError):
    """Weights that do not fit a model (keys, shapes or dtypes): a RowrnnError (one line, exit code 2 in the
    CLI) that is also the RuntimeError torch's load_state_dict raises, so code catching that still does."""


class WeightsConverted(UserWarning):
    """Weights loaded after a change that keeps their values: another floating dtype converted to the
    model's, or a wrapper's key prefix removed. The CLI prints it as one `rowrnn: note:` line."""


def _names(items: list[str]) -> str:
    """'a, b, c' for up to NAMES_SHOWN items, else the first NAMES_SHOWN and 'and N more'."""
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown if len(items) <= NAMES_SHOWN else f"{shown} and {len(items) - NAMES_SHOWN} more"


def _dtype(tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _shape(tensor) -> str:
    return f"({', '.join(map(str, tensor.shape))})" if tensor.dim() != 1 else f"({tensor.shape[0]},)"


def shared_prefix(unexpected: list[str], missing: list[str], expected) -> str | None:
    """The prefix (up to and including a '.') under which the unexpected keys hold every missing key and only
    the model's keys ('model.' for a Lightning module's), or None when there is no such prefix."""
    if not missing:
        return None
    first = missing[0]       # the prefix is what stands before the first missing key in an unexpected one
    candidates = {k[:-len(first)] for k in unexpected if k.endswith("." + first)}
    for prefix in sorted(candidates, key=len):
        stripped = {k[len(prefix):] for k in unexpected if k.startswith(prefix)}
        if set(missing) <= stripped <= set(expected):
            return prefix
    return None


def _strip_wrappers(given: dict, source: str) -> dict:
    """given without the prefixes torch's wrappers add, when every key has one (a WeightsConverted said)."""
    stripped = True
    while stripped and given:
        stripped = False
        for prefix, who in WRAPPER_PREFIXES.items():
            if all(k.startswith(prefix) for k in given):
                given = {k[len(prefix):]: v for k, v in given.items()}
                warnings.warn(f"{source}: every key starts with {prefix!r} (saved from {who}): "
                              "loaded without the prefix", WeightsConverted, stacklevel=4)
                stripped = True
    return given


def _as_tensors(state_dict, source: str) -> dict:
    """state_dict as a dict of str -> Tensor. Raises WeightsMismatch for another object or another value."""
    import torch
    from collections.abc import Mapping
    if isinstance(state_dict, torch.nn.Module):
        raise WeightsMismatch(f"{source}: is a {type(state_dict).__name__} (a model), not its state_dict: "
                              "give model.state_dict()")
    if not isinstance(state_dict, Mapping):
        raise WeightsMismatch(f"{source}: is a {type(state_dict).__name__}, not a state_dict (a mapping of names "
                              "to tensors): give model.state_dict()")
    if isinstance(state_dict.get("state_dict"), Mapping):
        raise WeightsMismatch(f"{source}: is a checkpoint that holds a 'state_dict' (e.g. PyTorch Lightning's): "
                              "give checkpoint['state_dict']")
    wrong = [f"{k} ({type(v).__name__})" for k, v in state_dict.items()
             if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if wrong:
        raise WeightsMismatch(f"{source}: {len(wrong)} value(s) that are not tensors: {_names(wrong)}: "
                              "give a state_dict of tensors, e.g. model.state_dict()")
    return dict(state_dict)


def _key_and_shape_mismatch(expected: dict, given: dict, strict: bool) -> tuple[list[str], str | None, bool]:
    """(the parts of the message naming each mismatch, the shared prefix if any, whether keys differ)."""
    missing = [k for k in expected if k not in given and not k.endswith("num_batches_tracked")] if strict else []
    unexpected = sorted(k for k in given if k not in expected) if strict else []
    resized = [f"{k}: {_shape(given[k])} in the weights, {_shape(v)} in the model"
               for k, v in expected.items() if k in given and given[k].shape != v.shape]
    parts = ([f"{len(missing)} missing ({_names(missing)})"] if missing else []) \
        + ([f"{len(unexpected)} unexpected ({_names(unexpected)})"] if unexpected else []) \
        + ([f"{len(resized)} size mismatch{'es' if len(resized) > 1 else ''} ({'; '.join(resized[:NAMES_SHOWN])}"
            f"{f' and {len(resized) - NAMES_SHOWN} more' if len(resized) > NAMES_SHOWN else ''})"] if resized else [])
    return parts, shared_prefix(unexpected, missing, expected), bool(missing or unexpected)


def _dtype_fit(expected: dict, given: dict, source: str) -> dict:
    """given with every floating-point tensor in the dtype of the model's (said); refuses any other kind."""
    import torch
    not_float, not_integer, converted = [], [], {}
    for k, want in expected.items():           # in the model's order, whatever the file's
        have = given.get(k)
        if have is None:
            continue
        if want.is_floating_point():
            if not have.is_floating_point():
                not_float.append(f"{k} ({_dtype(have)})")
            elif have.dtype != want.dtype:
                converted.setdefault(_dtype(have), []).append(k)
        elif want.dtype != torch.bool and not want.is_complex():    # an integer buffer: a permutation, a count
            if have.is_floating_point() or have.is_complex() or have.dtype == torch.bool:
                not_integer.append(f"{k} ({_dtype(have)}, the model's is {_dtype(want)})")
    if not_float or not_integer:
        parts = ([f"{len(not_float)} tensor{'s are' if len(not_float) > 1 else ' is'} not floating point: "
                  f"{_names(not_float)}"] if not_float else []) \
            + ([f"{len(not_integer)} integer buffer{'s' if len(not_integer) > 1 else ''} of another dtype: "
                f"{_names(not_integer)}"] if not_integer else [])
        rules = (["weights must be float32, float16, bfloat16 or float64 (converted to the model's dtype)"]
                 if not_float else []) + (["integer buffers must stay integers"] if not_integer else [])
        raise WeightsMismatch(f"{source}: {'; '.join(parts)}: {' and '.join(rules)}: save the state_dict as the "
                              "model trained, without casting it")
    if converted:
        floats = sum(1 for k in given if k in expected and expected[k].is_floating_point())
        said = " and ".join(d if len(ks) == floats else f"{d} ({len(ks)} of {floats} tensors)"
                            for d, ks in converted.items())
        models = sorted({_dtype(expected[k]) for ks in converted.values() for k in ks})
        warnings.warn(f"{source}: the weights are {said}: converted to {' and '.join(models)}, the model's dtype",
                      WeightsConverted, stacklevel=4)
        given = {k: v.to(expected[k].dtype) if k in expected and expected[k].is_floating_point() else v
                 for k, v in given.items()}
    return given


def fit_state_dict(model, state_dict, *, source: str = "state_dict", target: str | None = None,
                   shape_fix: str | None = None, other_model_fix: str | None = None, strict: bool = True) -> dict:
    """state_dict checked against model.state_dict() and made to fit it: the dict to hand to load_state_dict.

    model: an nn.Module. state_dict: a mapping of names to tensors (a model's state_dict, a safetensors file's
    tensors). source: what the weights are, first in every message (a path, or "state_dict"). target: the
    model in words (default: "the <class name>"). shape_fix: what to do when only shapes differ (default:
    build the model with the arguments the weights were trained with); other_model_fix: when keys differ with
    no shared prefix (default: build the model the weights come from). strict=False (torch's meaning) skips
    the missing and unexpected keys and keeps the shape and dtype checks.

    Returns a dict with the same keys as state_dict, less a wrapper's prefix ('module.', '_orig_mod.': removed
    when every key has it), each floating-point tensor in the dtype of the model's (float16, bfloat16 and
    float64 converted), integer buffers as given. Each change warns WeightsConverted (one line). Raises
    WeightsMismatch (a RowrnnError, and the RuntimeError torch raises) in one line: for something that is no
    state_dict of tensors, for missing keys, unexpected keys and size mismatches named together (with the
    line that strips a shared prefix), and for integer, bool or complex tensors (naming each and its dtype).
    """
    expected = model.state_dict()
    target = target or f"the {type(model).__name__}"
    given = _strip_wrappers(_as_tensors(state_dict, source), source)
    parts, prefix, keys_differ = _key_and_shape_mismatch(expected, given, strict)
    if parts:
        if prefix is not None:
            fix = (f"the missing keys are there under the prefix {prefix!r} (a wrapper module's, e.g. a "
                   f"Lightning module's self.{prefix[:-1]}): save the inner model's state_dict, or strip the prefix: "
                   f"{{k.removeprefix({prefix!r}): v for k, v in state_dict.items()}}")
        elif keys_differ:
            fix = other_model_fix or "these are another model's weights: build the model they come from"
        else:
            fix = shape_fix or "build the model with the arguments the weights were trained with"
        raise WeightsMismatch(f"{source}: the weights do not match {target}: {', '.join(parts)}: {fix}")
    fitted = _dtype_fit(expected, given, source)
    metadata = getattr(state_dict, "_metadata", None)     # torch's per-module versions (BatchNorm reads them)
    if metadata is not None:
        from collections import OrderedDict
        fitted = OrderedDict(fitted)
        fitted._metadata = metadata
    return fitted
