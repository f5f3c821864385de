#!/usr/bin/env python3
"""Issue 25: docs/training.md's "Train on your own data" runs as written: every command of its
code blocks, in order, in one shell, from the repository root. Only the two ports (50061, 9474)
are swapped for free ones, `build/bin/` for the build being tested, and /tmp/lab for a fresh
temporary directory. Then checks what the walkthrough says the reader will see.

Usage: training_walkthrough_test.py SOURCE_DIR BIN_DIR
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from walkthrough import doc_section, free_port  # noqa: E402

SOURCE, BIN = sys.argv[1], sys.argv[2]



def walkthrough_commands():
    section = doc_section(SOURCE, "training.md", "Train on your own data")
    commands, pending = [], ""
    for line in section.splitlines():
        if not line.startswith("       ") or not line.strip():
            continue
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        commands.append(pending)
        pending = ""
    return commands


def main():
    commands = walkthrough_commands()
    assert len(commands) >= 10, commands
    with tempfile.TemporaryDirectory() as work:
        lab = os.path.join(work, "lab")
        script = "set -euo pipefail\ntrap 'kill %1 2>/dev/null || true' EXIT\n"
        grpc, metrics = str(free_port()), str(free_port())
        for command in commands:
            command = (command.replace("build/bin/", BIN.rstrip("/") + "/")
                       .replace("/tmp/lab", lab).replace("50061", grpc).replace("9474", metrics))
            script += f"echo '$ {command}'\n{command}\n"
        run = subprocess.run(["bash", "-c", script], cwd=SOURCE, capture_output=True, text=True,
                             timeout=600)
        out = run.stdout + run.stderr
        failures = []

        def expect(ok, what):
            if not ok:
                failures.append(what)

        expect(run.returncode == 0, f"the walkthrough exited {run.returncode}")
        expect("ids:       original_id attributes" in out, "inspect names the original_id ids")
        expect("Published lab-betalactamase version 1" in out, "fit publishes version 1")
        expect(re.search(r"Split \(group, .*groups", out) is not None, "a group split is made")
        expect("evaluated proteins were in lab-betalactamase v1's training split" in out,
               "eval warns of the overlap")
        calls = os.path.join(lab, "calls.csv")
        rows = open(calls).read().splitlines() if os.path.exists(calls) else []
        expect(len(rows) > 1000 and rows[1].split(",")[0].endswith(".1"),
               f"calls.csv has the FASTA ids: {rows[:2]}")
        predictions = os.path.join(lab, "predictions.csv")
        expect(os.path.exists(predictions), "eval wrote predictions.csv")
        for failure in failures:
            print("FAIL", failure)
        if failures:
            print(out[-6000:])
            return 1
        print(f"ok: {len(commands)} commands ran as written")
        return 0


if __name__ == "__main__":
    sys.exit(main())
