#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine (root, Python >= 3.10, package registries only):
# the real Fashion-MNIST and Chromium (for the browser tests of rowrnn serve) from Debian's packages, and an
# isolated environment in .venv with rowrnn installed, its test and docs extras included.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# Pinned: on this kind of machine torch==2.13.0 is a local CPU wheel; an unpinned torch pulls a multi-GB CUDA build.
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e '.[test,docs]'   # docs: tests/test_docs.py builds the site
