#!/usr/bin/env bash
# Clang's lock analysis (-Wthread-safety) over every source of server/ and common/, with the
# flags the build compiles them with (BUILD_DIR/compile_commands.json, from the gcc build that
# `make build` made), parsed by clang++-15 without generating code. GCC ignores the annotations,
# so this is where ABSL_GUARDED_BY and the rest are checked for the whole server, not only for
# the concurrency tests that `make test-tsan` builds with clang. Fails on any thread-safety
# warning. Usage: check-thread-safety.sh BUILD_DIR
set -euo pipefail
build="${1:?usage: check-thread-safety.sh BUILD_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v clang++-15 >/dev/null || { echo "check-thread-safety: needs clang++-15 (make deps-fuzz)" >&2; exit 1; }
[ -f "$build/compile_commands.json" ] || { echo "check-thread-safety: no $build/compile_commands.json" >&2; exit 1; }
list="$(mktemp)"
trap 'rm -f "$list"' EXIT
python3 - "$build/compile_commands.json" "$root" > "$list" <<'PY'
import json, shlex, sys
commands, root = json.load(open(sys.argv[1])), sys.argv[2]
for entry in commands:
    f = entry["file"]
    if not f.startswith(root + "/server/") and not f.startswith(root + "/common/"):
        continue
    args = shlex.split(entry["command"])[1:]
    out = []
    skip = False
    for a in args:  # drop the output and the compile step; keep defines, includes, -std
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == f:
            continue
        out.append(a)
    print(entry["directory"] + "\t" + f + "\t" + shlex.join(out))
PY
count=$(wc -l < "$list")
fail=0
check() {
  IFS=$'\t' read -r dir file flags <<< "$1"
  cd "$dir"
  # Only the thread-safety analysis speaks: every other warning is the gcc build's business.
  eval clang++-15 $flags -fsyntax-only -Wno-everything -Wthread-safety \
    -Werror=thread-safety-analysis -Werror=thread-safety-reference \
    -Werror=thread-safety-attributes "$file"
}
export -f check
if ! tr '\n' '\0' < "$list" | xargs -0 -P "${JOBS:-$(nproc)}" -I{} bash -c 'check "$@"' _ {}; then
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  echo "check-thread-safety: FAILED (lock annotations above)" >&2
  exit 1
fi
echo "check-thread-safety: $count sources of server/ and common/ clean under clang -Wthread-safety"
