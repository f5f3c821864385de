#!/usr/bin/env bash
# Runs libFuzzer targets of a fuzz build (docs/fuzzing.md) for a bounded time each and fails if any
# finds a crash, leak, hang or UB report. Each target fuzzes its own working corpus,
# <build>/corpus/<target>, seeded from tests/fuzz/corpus/<target> (what libFuzzer adds stays
# there, never in the repository); findings and logs go to <build>/findings/<target>/.
#
# embedding_h5 runs with a known-crash exclusion: libhdf5 1.10.8 itself crashes on some hostile
# files. A crash whose report's first frame outside the sanitizer runtime, libc and libFuzzer lies
# in libhdf5 is kept and listed as libhdf5's, and fuzzing starts again (same corpus) for the rest
# of the time; any other crash fails the run as for every target.
#
# Usage: scripts/run-fuzzers.sh BUILD_DIR SECONDS TARGET...
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
  exit 2
fi
build=$1 seconds=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
symbolizer=/usr/lib/llvm-15/bin/llvm-symbolizer
[[ -x $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

runtime_frames='__interceptor_|__asan|__sanitizer|__ubsan|fuzzer::|libc\.so|sysdeps/|nptl/|stdlib/'
runtime_frames+='| in (malloc|calloc|realloc) '

# Where the report in log $1 happened: "libhdf5" when its first frame outside the runtime is in
# libhdf5, else "ours". An out-of-memory report names only the process's size, so its input ($3)
# is replayed by binary $2 with a small malloc limit under a larger RSS limit, which reports the
# big allocation's stack (nothing of ours allocates 64 MB for these inputs).
crash_site() {
  local report frame
  report=$(sed -n '/==ERROR: \|ERROR: libFuzzer\|runtime error:/,$p' "$1")
  if grep -q 'out-of-memory (used:' <<<"$report"; then
    report=$(timeout 60 "$2" -timeout=10 -malloc_limit_mb=64 -rss_limit_mb=4096 "$3" 2>&1 || true)
  fi
  frame=$(grep -E '^ +#[0-9]+ ' <<<"$report" | grep -vE "$runtime_frames" | head -n 1 || true)
  if [[ $frame == *libhdf5* ]]; then echo libhdf5; else echo ours; fi
}

# Executions a run reported in its final stats.
exec_count() {
  grep -oE '^stat::number_of_executed_units: [0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+$' ||
    echo 0
}

failed=()
summary=()
for target in "$@"; do
  bin=$build/bin/${target}_fuzz
  seeds=$src/tests/fuzz/corpus/$target
  work=$build/corpus/$target
  findings=$build/findings/$target
  [[ -x $bin ]] || { echo "run-fuzzers: $bin is not built" >&2; exit 2; }
  mkdir -p "$work" "$findings"
  cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  args=(-timeout=10 -print_final_stats=1 -artifact_prefix="$findings/")
  [[ -f $src/tests/fuzz/$target.dict ]] && args+=(-dict="$src/tests/fuzz/$target.dict")
  exclusion=false
  [[ $target == embedding_h5 ]] && exclusion=true
  log=$findings/log.txt
  : >"$log"
  start=$SECONDS execs=0 theirs=0 status=ok
  while left=$((seconds - (SECONDS - start))); [[ $left -gt 0 ]]; do
    stamp=$findings/.run-started
    touch "$stamp"
    rc=0
    "$bin" "${args[@]}" -max_total_time="$left" "$work" >"$log.run" 2>&1 || rc=$?
    cat "$log.run" >>"$log"
    execs=$((execs + $(exec_count "$log.run")))
    [[ $rc -eq 0 ]] && break
    artifact=$(find "$findings" -maxdepth 1 -type f -newer "$stamp" \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | head -n 1)
    if $exclusion && [[ -n $artifact && $(crash_site "$log.run" "$bin" "$artifact") == libhdf5 ]]
    then
      theirs=$((theirs + 1))
      continue
    fi
    status=FAILED
    failed+=("$target")
    echo "run-fuzzers: $target FAILED (exit $rc, input ${artifact:-none}); the end of its log:" >&2
    tail -n 60 "$log.run" >&2
    break
  done
  rm -f "$log.run"
  [[ $status == ok && $theirs -gt 0 ]] &&
    status="ok ($theirs crash(es) inside libhdf5, inputs kept in $findings)"
  line=$(printf '%-16s %12s execs in %4ss, corpus %5s files: %s' "$target" "$execs" \
         "$((SECONDS - start))" "$(find "$work" -type f | wc -l)" "$status")
  echo "$line"
  summary+=("$line")
done

echo "--- fuzzing summary (${seconds}s per target) ---"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run-fuzzers: FAILED: ${failed[*]} (inputs in $build/findings/<target>/)" >&2
  exit 1
fi
