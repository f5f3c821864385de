# Sourced by the bench scripts: the synthetic world they measure on.

# bench_model BUILD_DIR DIR [OVERRIDES...]: DIR/data (the seed generator at scale 0.05) and the
# binary model trained on it for 2 epochs in DIR/models (reports in DIR/reports); OVERRIDES are
# extra trainer overrides (e.g. decision.ood_components=16).
bench_model() {
  local build=$1 dir=$2
  shift 2
  "$build/bin/arginator-train" gen-data --out "$dir/data" --scale 0.05 >/dev/null
  "$build/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$dir/data" \
    experiment.epochs=2 "$@" output.repository="$dir/models" output.report_dir="$dir/reports" \
    >/dev/null 2>&1
}

# bench_proteins DIR ROWS [h5]: DIR/proteins.npy, ROWS float32 embeddings cycled from the seed's
# non-beta-lactamase proteins, and with "h5" the same rows as DIR/proteins.h5 in the per-protein
# layout (one dataset per protein, as bio_embeddings writes it).
bench_proteins() {
  /usr/bin/python3 - "$1" "$2" "${3:-}" <<'PY'
import sys, h5py, numpy as np
work, rows, h5 = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "h5"
with h5py.File(f"{work}/data/non_betalactamase_embeddings_60k.h5") as f:
    names = list(f.keys())
    x = np.stack([f[names[i % len(names)]][()] for i in range(rows)]).astype(np.float32)
np.save(f"{work}/proteins.npy", x)
if h5:
    with h5py.File(f"{work}/proteins.h5", "w") as f:
        for i in range(rows):
            f.create_dataset(f"protein_{i}", data=x[i])
PY
}
