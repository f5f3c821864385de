#!/usr/bin/env bash
# Runs libFuzzer targets of a fuzz build (docs/fuzzing.md) for a bounded time each and fails if any
# finds a crash, leak, hang or UB report. Each target fuzzes its own working corpus,
# <build>/corpus/<target>, seeded from tests/fuzz/corpus/<target> (what libFuzzer adds stays
# there, never in the repository); findings and logs go to <build>/findings/<target>/.
#
# embedding_h5 runs with a known-crash exclusion: libhdf5 1.10.8 itself crashes on some hostile
# files. It fuzzes in fork mode, going on after a crash; each crash is then replayed, and one
# whose first frame outside the sanitizer runtime and libc lies in libhdf5 is listed as libhdf5's,
# not failed. A crash in our code still fails the run.
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

# The library a crash happened in: the first stack frame that is not the sanitizer runtime, libc
# or libFuzzer itself ("libhdf5" or "ours").
runtime_frames='__interceptor_|__asan|__sanitizer|__ubsan|fuzzer::|libc\.so|sysdeps/|nptl/|stdlib/'
runtime_frames+='| in (malloc|calloc|realloc) '
crash_site() {
  local report frame
  report=$(timeout 60 "$1" -timeout=10 "$2" 2>&1 || true)
  frame=$(grep -E '^ +#[0-9]+ ' <<<"$report" | grep -vE "$runtime_frames" | head -n 1 || true)
  if [[ $frame == *libhdf5* ]]; then echo libhdf5; else echo ours; fi
}

# Executions a run reported: its final stats, or (fork mode) its last progress line.
exec_count() {
  local n
  n=$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+$' ||
    true)
  [[ -n $n ]] || n=$(grep -oE '^#[0-9]+' "$1" | tail -n 1 | tr -d '#' || true)
  echo "${n:-?}"
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
  stamp=$findings/.run-started
  touch "$stamp"
  args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1
        -artifact_prefix="$findings/")
  [[ -f $src/tests/fuzz/$target.dict ]] && args+=(-dict="$src/tests/fuzz/$target.dict")
  exclusion=false
  if [[ $target == embedding_h5 ]]; then
    exclusion=true
    args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  fi
  log=$findings/log.txt
  start=$SECONDS
  rc=0
  "$bin" "${args[@]}" "$work" >"$log" 2>&1 || rc=$?
  took=$((SECONDS - start))
  execs=$(exec_count "$log")
  # This run's findings only (earlier ones stay beside them for whoever is looking into them).
  mapfile -t artifacts < <(find "$findings" -maxdepth 1 -type f -newer "$stamp" \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \))
  status=ok
  if $exclusion; then
    ours=0 theirs=0
    for a in "${artifacts[@]}"; do
      if [[ $(crash_site "$bin" "$a") == libhdf5 ]]; then theirs=$((theirs + 1)); else
        ours=$((ours + 1)); echo "run-fuzzers: $target: not in libhdf5: $a" >&2; fi
    done
    [[ $theirs -gt 0 ]] && status="ok ($theirs crash(es) inside libhdf5, kept in $findings)"
    [[ $ours -gt 0 || ($rc -ne 0 && $theirs -eq 0) ]] && status=FAILED
  else
    [[ $rc -ne 0 ]] && status=FAILED
  fi
  if [[ $status == FAILED ]]; then
    failed+=("$target")
    echo "run-fuzzers: $target FAILED (exit $rc); the end of $log:" >&2
    tail -n 40 "$log" >&2
  fi
  line=$(printf '%-16s %12s execs in %4ss, corpus %5s files: %s' "$target" "$execs" "$took" \
         "$(find "$work" -type f | wc -l)" "$status")
  echo "$line"
  summary+=("$line")
done

echo "--- fuzzing summary (${seconds}s per target) ---"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run-fuzzers: FAILED: ${failed[*]} (inputs in $build/findings/<target>/)" >&2
  exit 1
fi
