#!/usr/bin/env bash
# Reading a large .npy of embeddings: arginator-client (C++), the Python client and np.load, side by
# side, warm page cache, best of ROUNDS (docs/benchmarks.md). Usage:
#   scripts/bench-npy-read.sh [BUILD_DIR] [ROWS] [ROUNDS]
set -euo pipefail
BUILD=${1:-build} ROWS=${2:-40000} ROUNDS=${3:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 -c "import numpy as np; np.save('$WORK/e.npy', np.random.default_rng(1).standard_normal(($ROWS, 1024)).astype(np.float32))"
best() {  # best wall time of ROUNDS runs of "$@", in seconds
  local best=999
  for _ in $(seq "$ROUNDS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
    best=$(echo "$t1 - $t0" | bc | awk -v b="$best" '{print ($1 < b) ? $1 : b}')
  done
  echo "$best"
}
lscpu | sed -n 's/^Model name: *//p'
echo "file: $ROWS x 1024 float32, $(du -m "$WORK/e.npy" | cut -f1) MB"
printf '%-44s %s\n' "reader" "best of $ROUNDS, s (process start included)"
printf '%-44s %s\n' "arginator-client inspect (C++)" "$(best "$BUILD/bin/arginator-client" inspect --input "$WORK/e.npy")"
printf '%-44s %s\n' "python3 -m arginator_client inspect" "$(best env PYTHONPATH=client/python /usr/bin/python3 -m arginator_client inspect --input "$WORK/e.npy")"
printf '%-44s %s\n' "python3 -c 'np.load(...)'" "$(best /usr/bin/python3 -c "import numpy as np; np.load('$WORK/e.npy')")"
printf '%-44s %s\n' "python3 -c 'import numpy' (start-up only)" "$(best /usr/bin/python3 -c "import numpy")"
