#!/usr/bin/env bash
# The long schemathesis run: the CI programme (tests/schemathesis/run.py) with
# a bigger time budget per caller (default 600 s each, three callers).
# Usage: bench/schemathesis.sh [SECONDS] — needs `pip install schemathesis==4.32.5`
# and a built binary (BASALT_BIN, default target/debug/basalt).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 tests/schemathesis/run.py --binary "${BASALT_BIN:-target/debug/basalt}" --seconds "${1:-600}" --seed 0
