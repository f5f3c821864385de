#!/usr/bin/env python3
"""Issue 27: docs/operations.md's "Releasing a model" runs as written: every command of its sh
blocks, in order, in one shell, from the repository root; only the two ports (50071, 9481) are
swapped for free ones, `build/bin/` for the build being tested, and /tmp/release for a fresh
temporary directory. Then checks what the section says the reader will see, and that the Python
client's `admin status` prints what the C++ client prints.

Usage: release_walkthrough_test.py SOURCE_DIR BIN_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from walkthrough import doc_section, free_port  # noqa: E402

SOURCE, BIN = sys.argv[1], sys.argv[2]



def walkthrough_commands():
    section = doc_section(SOURCE, "operations.md", "Releasing a model")
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def main():
    commands = walkthrough_commands()
    assert len(commands) >= 15, commands
    with tempfile.TemporaryDirectory() as work:
        grpc, metrics = str(free_port()), str(free_port())

        def local(command):
            return (command.replace("build/bin/", BIN.rstrip("/") + "/")
                    .replace("/tmp/release", work).replace("50071", grpc).replace("9481", metrics))

        script = "set -euo pipefail\ntrap 'kill %1 2>/dev/null || true' EXIT\n"
        for command in commands:
            script += f"echo '$ {local(command)}'\n{local(command)}\n"
        status = (f"admin status --model betalactamase-binary --target localhost:{grpc} "
                  f"--token-file {work}/alice.token")
        script += (f"echo '=== C++ status'\n{BIN}/arginator-client {status}\n"
                   f"echo '=== Python status'\nPYTHONPATH={SOURCE}/client/python "
                   f"{sys.executable} -m arginator_client {status}\necho '=== end'\n")
        run = subprocess.run(["bash", "-c", script], cwd=SOURCE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             timeout=900)
        out = run.stdout
        failures = []

        def expect(ok, what):
            if not ok:
                failures.append(what)

        expect(run.returncode == 0, f"the walkthrough exited {run.returncode}")
        expect("label 'stable' of betalactamase-binary -> version 1" in out, "label set")
        expect(re.search(r"shadow report: version 2 against 1: [1-9]\d* embeddings", out),
               "a shadow report with compared embeddings")
        expect("version 2 takes 10% of default requests" in out, "the canary's share")
        expect("'stable' of betalactamase-binary: 1 -> 2; version 1 kept as 'previous'" in out,
               "promote keeps version 1 as previous")
        expect("'stable' of betalactamase-binary: 2 -> 1 (rolled back)" in out, "rollback")
        expect(len(re.findall(r": loaded betalactamase-binary version 1 in", out)) == 1,
               "version 1 was loaded again")
        audit = [json.loads(line) for line in open(os.path.join(work, "audit.jsonl"))]
        expect([a["action"] for a in audit] == ["label_set", "shadow_set", "shadow_set",
                                                "canary_set", "promote", "rollback"],
               f"audit actions {[a['action'] for a in audit]}")
        expect(all(a["identity"] == "alice" and a["result"] == "OK" for a in audit),
               "every audit line names alice and OK")
        if "=== C++ status" in out and "=== end" in out:
            # The server writes its log to the same output from the background: a line of it
            # (a swap after the rollback) can land inside either section.
            def status(text):
                return "".join(line for line in text.splitlines(keepends=True)
                               if "arginator-server: " not in line)
            cpp = status(out.split("=== C++ status\n", 1)[1].split("=== Python status\n", 1)[0])
            python = status(out.split("=== Python status\n", 1)[1].split("=== end", 1)[0])
            expect(cpp == python, f"the clients print status differently:\n{cpp}\n---\n{python}")
            expect("default requests follow 'stable' (version 1)" in cpp, "status after rollback")
        if failures:
            print(out)
            for f in failures:
                print("FAILED:", f)
            return 1
        print(out[-3000:])
        return 0


if __name__ == "__main__":
    sys.exit(main())
