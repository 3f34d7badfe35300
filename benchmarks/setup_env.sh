#!/usr/bin/env bash
# Build the benchmark environment beside the project: shakeout plus the peer libraries it is
# measured against. Peers fight over pins (alibi-detect wants older numpy, evidently breaks on
# pandas 3, torchattacks would pull a CUDA torch through torchvision), so they live here and
# never in the project's own dependencies.
#
#   bash benchmarks/setup_env.sh            # creates .bench-venv/
#   .bench-venv/bin/python benchmarks/bench_stress.py
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BENCH_VENV:-.bench-venv}
python3 -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install -q --upgrade pip
# torch first, pinned to the CPU build, so nothing below can replace it.
"$PIP" install -q "torch==2.13.0"
"$PIP" install -q "pandas<3" -e ".[all]"
# Peers. Each one may fail on its own without stopping the others; a benchmark skips a missing peer.
"$PIP" install -q "torch==2.13.0" "pandas<3" alibi-detect || echo "alibi-detect: not installed"
"$PIP" install -q "torch==2.13.0" "pandas<3" frouros || echo "frouros: not installed"
"$PIP" install -q "torch==2.13.0" "pandas<3" evidently || echo "evidently: not installed"
"$PIP" install -q "torch==2.13.0" adversarial-robustness-toolbox || echo "ART: not installed"
# torchattacks depends on torchvision, whose wheels pull their own torch: install without deps.
"$PIP" install -q --no-deps torchattacks || echo "torchattacks: not installed"
"$PIP" install -q "torch==2.13.0" "mapie>=1.0" || echo "MAPIE: not installed"
"$PIP" install -q "pandas<3" cleanlab || echo "cleanlab: not installed"
# PyTorchFI pins an old torch and torchvision: install without deps.
"$PIP" install -q --no-deps pytorchfi || echo "PyTorchFI: not installed"
"$PIP" install -q "torch==2.13.0" requests tqdm || true
"$VENV/bin/python" - <<'PY'
import importlib
for name in ("shakeout", "torch", "numpy", "pandas", "alibi_detect", "frouros", "evidently",
             "art", "torchattacks", "mapie", "pytorchfi", "cleanlab"):
    try:
        mod = importlib.import_module(name)
        print(f"{name:14s} {getattr(mod, '__version__', '?')}")
    except Exception as exc:  # noqa: BLE001
        print(f"{name:14s} missing ({type(exc).__name__}: {exc})")
PY
