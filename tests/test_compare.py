import csv
import json

import numpy as np
import pytest
import torch

from rowrnn import compare
from rowrnn.cli import main

pytestmark = pytest.mark.slow


def test_compare_trains_ranks_and_reuses_runs(data_dir, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--presets", "notebook,tiny", "--seeds", "0,1", "--epochs", "1", "--out", str(out),
            "--data-dir", str(data_dir), "--no-verify", "--parallel", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert {p.name for p in out.iterdir()} == {"notebook-seed0", "notebook-seed1", "tiny-seed0", "tiny-seed1",
                                               "leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.png",
                                               "leaderboard-minutes.png", "leaderboard-pareto.png", "wall-seconds.json",
                                               ".rowrnn-compare"}
    assert json.loads((out / ".rowrnn-compare").read_text()) == {"format": "rowrnn.compare", "version": 1}
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert [(r["preset"], r["seed"]) for r in rows] == [("notebook", "0"), ("notebook", "1"), ("tiny", "0"), ("tiny", "1")]
    for r in rows:
        metrics = json.loads((out / f"{r['preset']}-seed{r['seed']}" / "metrics.json").read_text())
        assert float(r["test_accuracy"]) == metrics["accuracy"] and r["parameters"] == "394" and r["epochs"] == "1"
        assert float(r["wall_minutes"]) > float(r["train_minutes"]) > 0   # the whole process, start-up included
        assert r["command"] == (f"rowrnn train --preset {r['preset']} --seed {r['seed']} --out "
                                f"{out}/{r['preset']}-seed{r['seed']} --quiet --data-dir {data_dir} --epochs 1 --no-verify")
    md = (out / "leaderboard.md").read_text()
    assert md.splitlines()[0].startswith("| preset | seeds | test accuracy |")
    assert "GRU+SVM 0.897" in md and "2-conv CNN <100K params 0.925" in md and "human 0.835" in md
    assert printed.out.startswith(md.splitlines()[0])
    # a second call trains nothing: every run is reused
    stamp = (out / "tiny-seed1" / "best.safetensors").stat().st_mtime_ns
    assert main(argv) == 0
    assert "done before, reusing" in capsys.readouterr().err
    assert (out / "tiny-seed1" / "best.safetensors").stat().st_mtime_ns == stamp


def test_summary_averages_seeds_and_sorts_by_accuracy():
    rows = [{"preset": "a", "seed": 0, "test_accuracy": 0.80, "test_macro_accuracy": 0.79, "parameters": 10,
             "train_minutes": 1.0, "epoch_seconds": 2.0},
            {"preset": "a", "seed": 1, "test_accuracy": 0.84, "test_macro_accuracy": 0.83, "parameters": 10,
             "train_minutes": 3.0, "epoch_seconds": 4.0},
            {"preset": "b", "seed": 0, "test_accuracy": 0.90, "test_macro_accuracy": 0.89, "parameters": 20,
             "train_minutes": 5.0, "epoch_seconds": 6.0}]
    summary = compare.summarize(rows)
    assert [r["preset"] for r in summary] == ["b", "a"]
    assert summary[1]["test_accuracy"] == pytest.approx(0.82) and summary[1]["spread"] == pytest.approx(0.04)
    assert summary[1]["train_minutes"] == 2.0 and summary[1]["test_accuracy_each"] == [0.80, 0.84]


def test_unknown_preset_is_refused(capsys):
    assert main(["compare", "--presets", "notebook,transformer"]) == 2
    assert "unknown presets ['transformer']" in capsys.readouterr().err


def test_a_partial_run_is_resumed_and_another_config_refused(data_dir, tmp_path, capsys):
    out = tmp_path / "cmp"
    base = ["--data-dir", str(data_dir), "--no-verify", "--quiet", "--no-figures"]
    # an interrupted 2-epoch run: simulated by a finished 1-epoch run whose config then asks for 2
    assert main(["train", "--preset", "notebook", "--seed", "0", "--epochs", "2", "--out", str(out / "notebook-seed0"),
                 *base]) == 0
    state = torch.load(out / "notebook-seed0" / "state.pt", weights_only=True)
    state["epoch"] = 1
    state["history"] = {k: v[:1] for k, v in state["history"].items()}
    torch.save(state, out / "notebook-seed0" / "state.pt")
    argv = ["compare", "--presets", "notebook", "--epochs", "2", "--out", str(out), "--data-dir", str(data_dir),
            "--no-verify"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "rowrnn train --resume" in err and "reusing" not in err
    assert len(json.loads((out / "notebook-seed0" / "history.json").read_text())["train_loss"]) == 2
    assert main(argv[:4] + ["3"] + argv[5:]) == 2  # same directory, other epochs
    assert "holds a run with another config (epochs 2 -> 3)" in capsys.readouterr().err


def test_a_preset_can_have_its_own_seeds(data_dir, tmp_path, capsys):
    from rowrnn.compare import parse_presets
    assert parse_presets(["notebook", "tiny@1", "cnn@0+2"], [0, 5]) == [
        ("notebook", 0), ("notebook", 5), ("tiny", 1), ("cnn", 0), ("cnn", 2)]
    out = tmp_path / "cmp"
    assert main(["compare", "--presets", "notebook,tiny@1", "--seeds", "0", "--epochs", "1", "--out", str(out),
                 "--data-dir", str(data_dir), "--no-verify"]) == 0
    assert sorted(p.name for p in out.glob("*-seed*")) == ["notebook-seed0", "tiny-seed1"]
    assert main(["compare", "--presets", "tiny@x", "--out", str(out)]) == 2
    assert "'tiny@x': write PRESET@SEED, e.g. pixels@0 or tiny@0+1" in capsys.readouterr().err


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


COMPARE = ["compare", "--presets", "notebook", "--seeds", "0", "--epochs", "1", "--no-verify"]


@pytest.mark.parametrize("name, content", [("leaderboard.md", b"# my own notes\n"), ("leaderboard.csv", b"a,b\n1,2\n"),
                                           ("notes.txt", b"mine")])
def test_compare_never_writes_into_a_folder_it_did_not_make(data_dir, tmp_path, capsys, name, content):
    out = tmp_path / "mine"
    out.mkdir()
    (out / name).write_bytes(content)
    assert main([*COMPARE, "--out", str(out), "--data-dir", str(data_dir)]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: {out} is not empty and is not a folder rowrnn compare made (it holds {name!r}): compare "
        "never writes over files it did not write; choose a new or empty directory for --out\n")
    assert _tree(out) == {name: content}      # nothing trained, nothing written
    with pytest.raises(compare.RowrnnError, match="is not a folder rowrnn compare made"):
        compare.write_leaderboard(out, [])   # the library function keeps the same rule


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"notebook-seed0": "ten"}', b'{"a": -1}'])
def test_a_damaged_or_foreign_wall_record_is_refused_before_training(data_dir, tmp_path, capsys, content):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / ".rowrnn-compare").write_text(json.dumps(compare.MARKER))
    (out / "wall-seconds.json").write_bytes(content)
    before = _tree(out)
    assert main([*COMPARE, "--out", str(out), "--data-dir", str(data_dir)]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: {out / 'wall-seconds.json'}: not compare's record of wall seconds (an object of run name "
        "-> seconds): remove it (only the wall-minutes column is lost), or choose another --out\n")
    assert _tree(out) == before


def test_a_folder_compare_made_before_markers_is_still_its_own(data_dir, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = [*COMPARE, "--out", str(out), "--data-dir", str(data_dir)]
    assert main(argv) == 0
    (out / ".rowrnn-compare").unlink()          # as rowrnn 0.2.0 left it: runs, leaderboard, wall seconds
    assert main(argv) == 0
    assert "notebook seed 0: done before, reusing" in capsys.readouterr().err
    assert (out / ".rowrnn-compare").is_file()
    (out / ".rowrnn-compare").write_text('{"format": "something else"}')
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: {out / '.rowrnn-compare'}: is not rowrnn compare's marker: "
                                       "remove it, or choose another --out\n")


def test_the_published_leaderboard_ships_with_the_package_equal_to_results():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    packaged = Path(compare.__file__).parent / "published"
    for name in ("leaderboard.json", "leaderboard.csv"):     # byte for byte: they cannot drift apart
        assert (packaged / name).read_bytes() == (root / "results" / name).read_bytes(), name
    rows = compare.published_leaderboard()
    assert rows == json.loads((root / "results" / "leaderboard.json").read_text())
    assert len(rows) == 6 * 3 + 3   # three presets had one seed
    assert all(set(r) == set(compare.COLUMNS) for r in rows)    # the minutes to 0.90/0.91/0.92 included
    assert {r["preset"] for r in rows} == {"notebook", "stacked", "tiny", "fast", "mingru", "bilstm", "cnn",
                                           "pixels", "permuted-pixels"}
    by_preset = {r["preset"]: r for r in compare.summarize(rows)}
    to_90 = {name: r["minutes_to_val"][0]["minutes"] for name, r in by_preset.items()}
    assert 0 < to_90["mingru"] < to_90["bilstm"]                  # the headline: the minutes to 0.90 validation
    assert [e["minutes"] for e in by_preset["notebook"]["minutes_to_val"]] == [None, None, None]   # never got there
    doc = " ".join(compare.published_leaderboard.__doc__.replace("\\", "").split())
    assert " ".join(compare.PUBLISHED_COMMAND.split()) in doc     # the docstring names the command that made it
    best = compare.summarize(rows)[0]
    assert (best["preset"], round(best["test_accuracy"], 4)) == ("cnn", 0.9292)


def test_minutes_to_accuracy_from_a_hand_made_history():
    history = {"val_metric": [0.85, 0.905, 0.899, 0.9151, 0.91], "seconds": [30.0, 60.0, 30.0, 120.0, 60.0]}
    # 0.90 first at epoch 2 (30 + 60 s), 0.91 at epoch 4 (240 s), 0.92 never
    assert compare.minutes_to_accuracy(history) == [1.5, 4.0, None]
    assert compare.minutes_to_accuracy(history, (0.85, 0.9151, 0.95), start_minutes=2.5) == [3.0, 6.5, None]
    assert compare.minutes_to_accuracy({"val_metric": [0.92], "seconds": [6.0]}) == [0.1, 0.1, 0.1]
    assert compare.minutes_to_accuracy({}) == [None, None, None]


def _row(preset, seed, accuracy, minutes):
    return {"preset": preset, "seed": seed, "test_accuracy": accuracy, "test_macro_accuracy": accuracy,
            "parameters": 10, "train_minutes": 9.0, "epoch_seconds": 6.0, "epochs": 10,
            **dict(zip(compare.TIME_TO_ACCURACY_COLUMNS, minutes)), "command": f"rowrnn train --preset {preset}"}


def test_the_leaderboard_shows_minutes_to_each_validation_threshold(tmp_path):
    rows = [_row("a", 0, 0.91, [2.0, 5.0, None]), _row("a", 1, 0.92, [3.0, None, None]),
            _row("b", 0, 0.90, [None, None, None])]
    a, b = compare.summarize(rows)
    assert a["minutes_to_val"] == [{"minutes": 2.5, "reached": 2, "seeds": 2},
                                   {"minutes": 5.0, "reached": 1, "seeds": 2},
                                   {"minutes": None, "reached": 0, "seeds": 2}]
    lines = compare.leaderboard_markdown(rows).splitlines()
    assert lines[0].endswith("| s/epoch | min to val 0.90 | min to val 0.91 | min to val 0.92 |")
    assert lines[1].count("|") == lines[0].count("|")
    assert lines[2].startswith("| a | 0, 1 |") and lines[2].endswith("| 2.5 | 5.0 (1/2) | — |")
    assert lines[3].startswith("| b | 0 |") and lines[3].endswith("| — | — | — |")
    # an older leaderboard without the columns beside a new one: not recorded, not "never reached"
    old = {k: v for k, v in _row("c", 0, 0.80, [1.0, 1.0, 1.0]).items() if k not in compare.TIME_TO_ACCURACY_COLUMNS}
    assert compare.leaderboard_markdown([old]).splitlines()[2].endswith("| n/a | n/a | n/a |")
    paths = compare.write_leaderboard(tmp_path / "board", rows + [old])
    written = list(csv.DictReader(paths["csv"].open()))
    assert list(written[0]) == list(compare.COLUMNS)
    assert [(r["minutes_to_val_0.90"], r["minutes_to_val_0.91"]) for r in written] == [
        ("2.0", "5.0"), ("3.0", ""), ("", ""), ("", "")]      # never reached and not recorded: empty cells
    assert json.loads(paths["json"].read_text())[1]["minutes_to_val_0.91"] is None


def test_the_pareto_figure_has_a_point_per_preset_with_the_seeds_spread():
    from matplotlib.container import ErrorbarContainer

    from rowrnn.plots import plot_pareto_presets
    rows = [{**_row("slow", 0, 0.92, [None] * 3), "train_minutes": 20.0, "best_val_metric": 0.925},
            {**_row("slow", 1, 0.93, [None] * 3), "train_minutes": 22.0, "best_val_metric": 0.93},
            {**_row("fast", 0, 0.90, [None] * 3), "train_minutes": 4.0, "best_val_metric": 0.905},
            {**_row("fast", 1, 0.91, [None] * 3), "train_minutes": 5.0, "best_val_metric": 0.915},
            {**_row("worse", 0, 0.89, [None] * 3), "train_minutes": 10.0, "best_val_metric": 0.89}]
    summary = compare.summarize(rows)
    assert summary[0]["train_minutes_each"] == [20.0, 22.0] and summary[0]["best_val_metric_each"] == [0.925, 0.93]
    fig = plot_pareto_presets(summary)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert [c.get_label() for c in bars] == ["slow (2 seeds)", "fast (2 seeds)", "worse (1 seed)"]
    points = [tuple(float(v) for v in c.lines[0].get_xydata()[0]) for c in bars]
    assert points == [pytest.approx((21.0, 0.925)), pytest.approx((4.5, 0.905)), pytest.approx((10.0, 0.89))]
    # the bars span the seeds: slow's accuracy 0.92-0.93 and minutes 20-22
    spans = sorted(np.round(np.sort(seg, axis=0), 6).ravel().tolist()
                   for s in bars[0].lines[2] for seg in s.get_segments())
    assert spans == [[20.0, 0.925, 22.0, 0.925], [21.0, 0.92, 21.0, 0.93]]
    front = next(line for line in ax.get_lines() if line.get_label() == "Pareto front of the presets")
    assert [tuple(p) for p in front.get_xydata()] == [pytest.approx((4.5, 0.905)), pytest.approx((21.0, 0.925))]
    assert front.get_drawstyle() == "steps-post"      # worse (10 min, 0.89) is beaten by fast: not on the front
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy (mean of seeds)"
    validation = plot_pareto_presets(summary, accuracy="best_val_metric").axes[0]
    first = next(c for c in validation.containers if isinstance(c, ErrorbarContainer))
    assert tuple(first.lines[0].get_xydata()[0]) == pytest.approx((21.0, 0.9275))
    assert validation.get_ylabel() == "best validation macro accuracy (mean of seeds)"
    import matplotlib.pyplot as plt
    plt.close("all")
