#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in a build dir of their own, then runs each one
# for a bounded time (as many at once as there are cores) on its seed
# corpus (tests/fuzz/corpus/<name>; new inputs go to the build dir, the
# committed seeds stay as they are).
#
#   tools/fuzz.sh [--seconds N] [--build-dir DIR] [FUZZER...]
#
#   --seconds N     run time per fuzzer (default 60; CI uses ~30). A nightly
#                   run of the apply path against one live store:
#                   tools/fuzz.sh --seconds 28800 apply_live_fuzzer
#   --build-dir D   default: build-fuzz next to the source tree's build/
#   FUZZER          entry_validation_fuzzer, batch_shape_fuzzer, gunzip_fuzzer, apply_fuzzer,
#                   apply_live_fuzzer (default: all)
#
# Exits non-zero if a fuzzer found a crash (the input is kept in
# <build-dir>/fuzz-artifacts/) or if the build failed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
build="$src/build-fuzz"
fuzzers=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) fuzzers+=("$1"); shift ;;
  esac
done
[ ${#fuzzers[@]} -gt 0 ] || fuzzers=(entry_validation_fuzzer batch_shape_fuzzer gunzip_fuzzer apply_fuzzer apply_live_fuzzer)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (tools/install-deps.sh)" >&2; exit 2; }

# Our libraries get coverage instrumentation and the sanitizers too; the
# Debian libraries (gRPC, protobuf, Abseil, LevelDB) are GCC-built and link
# as they are (same libstdc++).
# Line tables only: a crash report keeps its file:line, the links are fast.
# A build directory configured for the fuzzers already keeps its own
# configuration: CI's sanitize stage builds one (tools/test.sh) and this
# then only runs its fuzzers.
if ! grep -q '^REPLFS_FUZZ:BOOL=ON$' "$build/CMakeCache.txt" 2>/dev/null; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DREPLFS_FUZZ=ON -DREPLFS_SANITIZE=address,undefined \
    -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
fi
# The daemon's library too: clang checks every library's lock annotations
# there (-Werror=thread-safety), and a violation fails the build.
cmake --build "$build" -j "$(nproc)" --target "${fuzzers[@]}" replfs_daemon

artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# fuzz_one NAME: runs the fuzzer NAME for the time given and reports;
# non-zero when it found a crash.
fuzz_one() {
  local name=$1 corpus seeds log execs
  corpus="$build/fuzz-corpus/$name"
  seeds="$src/tests/fuzz/corpus/$name"
  # The live variant reads the same inputs as apply_fuzzer.
  [ "$name" != apply_live_fuzzer ] || seeds="$src/tests/fuzz/corpus/apply_fuzzer"
  mkdir -p "$corpus" "$seeds"
  log="$build/fuzz-$name.log"
  echo "fuzz.sh: $name for ${seconds}s"
  if "$build/tests/fuzz/$name" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
       "$corpus" "$seeds" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz.sh: $name: ok, ${execs:-?} runs, corpus $(ls "$corpus" | wc -l) new + $(ls "$seeds" | wc -l) seeds"
  else
    echo "fuzz.sh: $name FAILED; last lines of $log:" >&2
    tail -40 "$log" >&2
    return 1
  fi
}

# A fuzzer runs on one core: as many at once as there are cores, each for
# its whole time.
failed=0
running=()
for name in "${fuzzers[@]}"; do
  fuzz_one "$name" &
  running+=($!)
  if [ ${#running[@]} -ge "$(nproc)" ]; then
    wait "${running[0]}" || failed=1
    running=("${running[@]:1}")
  fi
done
for pid in "${running[@]}"; do
  wait "$pid" || failed=1
done
exit $failed
