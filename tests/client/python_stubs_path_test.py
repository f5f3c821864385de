#!/usr/bin/env python3
"""Issue 25: `PYTHONPATH=client/python python3 -m arginator_client ...` from a fresh clone failed
with "Python stubs not found: .../client/build/python/..." because the default stubs directory
was computed one directory short of the repository; every test set ARGINATOR_PY_STUBS, so the
documented path was never exercised. Without the variable, the package must look in
<repository>/build/python, and when the build put its stubs there (`make build`), the documented
command gets past loading them.

Usage: python_stubs_path_test.py SOURCE_DIR BINARY_DIR
"""
import os
import subprocess
import sys


def main():
    source, binary = (os.path.realpath(p) for p in sys.argv[1:3])
    env = {k: v for k, v in os.environ.items() if k != "ARGINATOR_PY_STUBS"}
    env["PYTHONPATH"] = os.path.join(source, "client", "python")
    found = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import arginator_client.stubs as s; print(s.stubs_directory())"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    expected = os.path.join(source, "build", "python")
    failures = []
    if found != expected:
        failures.append(f"default stubs directory {found}, expected {expected}")
    # The documented command, as a newcomer runs it after `make build`: the stubs load (the health
    # check itself then fails: nothing listens on port 1).
    if os.path.realpath(os.path.join(binary, "python")) == expected and os.path.isdir(expected):
        run = subprocess.run(
            ["/usr/bin/python3", "-m", "arginator_client", "health", "--target", "127.0.0.1:1",
             "--deadline", "2"],
            env=env, capture_output=True, text=True, cwd=source)
        if "stubs" in run.stdout + run.stderr:
            failures.append(f"the documented command did not load the stubs: {run.stderr.strip()}")
    else:
        print(f"the build's stubs are not at {expected} (build dir {binary}): default path only")
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
