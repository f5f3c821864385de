#!/usr/bin/env bash
# Runs ctest in a sanitized build dir (make test-asan, make test-tsan; docs/testing.md) and fails
# if any process wrote a sanitizer report. Reports go to files in BUILD_DIR/sanitizer-logs instead
# of stderr: the integration tests start servers, trainers and clients whose stderr lands in logs
# the test may never print, and some of them are expected to exit non-zero, so a report there
# would otherwise pass unseen. The *SAN_OPTIONS come from the Makefile; this adds log_path.
# Usage: JOBS=N scripts/sanitized-ctest.sh BUILD_DIR [ctest arguments...]
set -uo pipefail

build_dir=$(cd "$1" && pwd)
shift
logs="$build_dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
for var in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
  if [[ -n "${!var:-}" ]]; then
    tool=${var%%_OPTIONS}
    export "$var=${!var}:log_path=$logs/${tool,,}"
  fi
done

(cd "$build_dir" && ctest --output-on-failure -j "${JOBS:-2}" "$@")
rc=$?

reports=("$logs"/*)
if [[ -e "${reports[0]}" ]]; then
  for f in "${reports[@]}"; do
    echo "==== $f"
    cat "$f"
  done
  echo "sanitized-ctest: ${#reports[@]} sanitizer report(s) in $logs (above)" >&2
  [[ $rc -eq 0 ]] && rc=1
fi
exit $rc
