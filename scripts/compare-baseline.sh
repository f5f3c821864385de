#!/usr/bin/env bash
# FFNN against the logistic-regression baseline, both tasks, on synthetic data at a given scale.
# Usage: scripts/compare-baseline.sh [SCALE] [WORK_DIR]   (prints a Markdown table)
set -euo pipefail
SCALE=${1:-1}
WORK=${2:-/tmp/arginator-compare}
TRAIN=${TRAIN:-build/bin/arginator-train}
rm -rf "$WORK" && mkdir -p "$WORK"
"$TRAIN" gen-data --out "$WORK/data" --scale "$SCALE" --seed 42 >/dev/null
for task in binary multiclass; do
  for kind in ffnn logreg; do
    /usr/bin/time -f "%e" -o "$WORK/$task-$kind.time" "$TRAIN" fit \
      --config "configs/train/$task.yaml" data.dir="$WORK/data" model.kind="$kind" \
      output.repository="$WORK/models/$kind" output.report_dir="$WORK/reports/$kind" \
      >"$WORK/$task-$kind.log" 2>&1
  done
done
/usr/bin/python3 - "$WORK" <<'PY'
import json, sys, glob
work = sys.argv[1]
print("| task | model | test accuracy | test precision | test recall | test F1 | test ROC-AUC | best epoch | train samples/s (mean of epochs) | wall s |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for task, name in (("binary", "betalactamase-binary"), ("multiclass", "betalactamase-class")):
    for kind in ("ffnn", "logreg"):
        card = json.load(open(f"{work}/models/{kind}/{name}/1/model.json"))
        t = card["metrics"]["test"]
        wall = open(f"{work}/{task}-{kind}.time").read().strip()
        print(f"| {task} | {kind} | {t['accuracy']:.4f} | {t['precision']:.4f} | {t['recall']:.4f} | "
              f"{t['f1']:.4f} | {t['roc_auc']:.4f} | {card['hyperparameters']['best_epoch']} | "
              f"{card['metrics']['training_samples_per_s']:.0f} | {wall} |")
PY
