#!/usr/bin/env bash
# rowrnn outside its checkout: build the wheel and the sdist, check what they carry, install the wheel
# into a fresh virtual environment in a temporary directory, and run the README's first commands there
# (train one epoch, evaluate, predict an image shipped in the package, read the published leaderboard, build
# the static site of the run: onnxruntime-web from rowrnn's cache, or once from the npm registry).
# Usage: bash scripts/check_wheel.sh   (after scripts/setup.sh; needs the dataset and the registries)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/rowrnn-wheel-XXXXXX")
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m build --quiet --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
.venv/bin/python - "$work/dist" <<'PY'
import pathlib, sys, tarfile, zipfile
dist = pathlib.Path(sys.argv[1])
wheel, = dist.glob("rowrnn-*.whl")
sdist, = dist.glob("rowrnn-*.tar.gz")
names = zipfile.ZipFile(wheel).namelist()
for needed in ("rowrnn/py.typed", "rowrnn/examples/boot-on-white.png", "rowrnn/web/index.html",
               "rowrnn/web/engine-static.js", "rowrnn/web/convert.js",
               "rowrnn/published/leaderboard.json", "rowrnn/published/leaderboard.csv"):
    assert needed in names, f"the wheel lacks {needed}"
assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "notebooks/"))], "the wheel ships dev files"
meta = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta, "PEP 639 licence metadata missing"
assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "the wheel lacks the LICENSE file"
assert any(n.endswith("/LICENSE") for n in tarfile.open(sdist).getnames()), "the sdist lacks the LICENSE file"
print(f"built {wheel.name} ({len(names)} files) and {sdist.name}")
PY
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0   # the local CPU wheel (see setup.sh)
wheel=$(ls "$work"/dist/rowrnn-*.whl)
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel[onnx]"   # the onnx extra: rowrnn site
results="$(pwd)/results/leaderboard.json"
cd "$work"   # outside the checkout: only the installed wheel can be imported
venv/bin/python -c "import rowrnn, sys; assert rowrnn.__file__.startswith(sys.prefix), rowrnn.__file__; print('rowrnn', rowrnn.__version__, 'from', rowrnn.__file__)"
venv/bin/rowrnn train --epochs 1 --out run --quiet
# into a file, not `| head`: head may close the pipe before a second write, and rowrnn's quiet exit 141 on a
# broken pipe would fail this script under pipefail (seen with PYTHONUNBUFFERED=1)
venv/bin/rowrnn evaluate run > evaluate.txt
head -2 evaluate.txt
venv/bin/rowrnn predict run --example boot-on-white
venv/bin/python -c "import json, sys, rowrnn.compare as c; rows = c.published_leaderboard(); assert rows == json.load(open(sys.argv[1])), 'the packaged leaderboard is not results/leaderboard.json'; print('published leaderboard:', len(rows), 'runs, read from the package')" "$results"
venv/bin/rowrnn site run --out site --test-images 100
venv/bin/python - <<'PY'
import json, pathlib
site = pathlib.Path("site")
manifest = json.loads((site / "manifest.json").read_text())
html = (site / "index.html").read_text()
assert manifest["format"] == "rowrnn-site" and [r["name"] for r in manifest["runs"]] == ["run"], manifest["runs"]
assert '<meta name="rowrnn-engine" content="static">' in html and "/static/" not in html
for name in ("app.js", "engine-static.js", "convert.js", "first-reading.json", "test-images.bin", "models/0.onnx",
             "ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.wasm", "ort/LICENSE"):
    assert (site / name).is_file(), f"the site lacks {name}"
print("site:", len(list(site.rglob("*"))), "files,", round(sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 2**20, 1), "MB")
PY
echo "check_wheel: the installed wheel trains, evaluates, predicts and builds the static site"
