#!/usr/bin/env bash
# Installs what the build needs, builds replfs and runs the whole test suite:
#   1. the suite on the normal build (RelWithDebInfo), then its unit label
#      again without root (unit tests must not need it),
#   2. the suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      built by clang, which also checks the lock annotations of all the
#      code (-Wthread-safety) and builds the libFuzzer targets,
#   3. the randomized convergence simulation (it runs seeds on several
#      threads) under ThreadSanitizer,
#   4. the libFuzzer targets for a short, bounded time, from the sanitize
#      stage's build (or a build of their own when run alone).
# This is the README's test command and what CI runs (.ci/run).
# Stages can be chosen: tools/test.sh [--only normal|sanitize|tsan|fuzz]...
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
stages=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) stages+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "tools/test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#stages[@]} -gt 0 ] || stages=(normal sanitize tsan fuzz)

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/test.sh: the mount tests need root (FUSE mounts, other users); run it as root" >&2
  exit 1
fi

echo "== installing dependencies"
tools/install-deps.sh

run_suite() {  # run_suite NAME BUILD_DIR CMAKE_ARGS...
  local name=$1 dir=$2; shift 2
  echo "== [$name] configuring $dir"
  cmake -S . -B "$dir" "$@" >/dev/null
  echo "== [$name] building"
  cmake --build "$dir" -j "$JOBS"
  # The simulation alone first: it runs seeds on every core until its time
  # budget, so beside the mount tests it would run a fraction of them.
  echo "== [$name] running the convergence simulation"
  ctest --test-dir "$dir" --output-on-failure --timeout 900 -L simulation ${CTEST_ARGS:-}
  echo "== [$name] running the test suite"
  ctest --test-dir "$dir" --output-on-failure --timeout 900 -j "$JOBS" -LE "${EXCLUDE_LABELS:-simulation}" ${CTEST_ARGS:-}
}

# The unit label needs no root (no mount, no capability, no other user): it
# runs again without root, so that a unit test that starts to need root
# fails here. As nobody when nobody can read the build directory (ctest then
# writes its logs in BUILD_DIR/Testing/Temporary, opened to everyone);
# otherwise (a checkout under a private home) as root with every capability
# dropped, which still fails a test that needs one.
run_unit_without_root() {  # run_unit_without_root BUILD_DIR
  local dir
  dir=$(realpath "$1")
  if setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -r "$dir/CTestTestfile.cmake"; then
    echo "== [normal] running the unit tests as nobody"
    install -d "$dir/Testing/Temporary"
    chmod 0777 "$dir/Testing/Temporary"
    (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
       ctest --test-dir "$dir" --output-on-failure --timeout 300 -j "$JOBS" -L unit ${CTEST_ARGS:-})
  else
    echo "== [normal] running the unit tests with no capability (nobody cannot read $dir)"
    setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- \
      ctest --test-dir "$dir" --output-on-failure --timeout 300 -j "$JOBS" -L unit ${CTEST_ARGS:-}
  fi
}

# Line tables only (-g1): sanitizer and test reports keep their file:line,
# and the objects are a fifth of the size, which CI's ninety-odd links feel.
ci_debug_info=-g1
ci_release_flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 $ci_debug_info -DNDEBUG")

sanitize_dir=${SANITIZE_BUILD_DIR:-build-sanitize}

for stage in "${stages[@]}"; do
  case "$stage" in
    normal)
      # The test programs at -O1 (the code under test at -O2): they compile
      # about a quarter faster and spend their time waiting on replicas.
      run_suite normal "${BUILD_DIR:-build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        "${ci_release_flags[@]}" -DREPLFS_TEST_OPTIMIZATION=-O1
      run_unit_without_root "${BUILD_DIR:-build}" ;;
    sanitize)
      # halt_on_error: a sanitizer report fails the test that caused it.
      export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
      export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
      # Instrumented code runs several times slower: the randomized tests run
      # fewer seeds and a shorter fault phase here (their full size runs in
      # the normal stage).
      export REPLFS_SIM_SEEDS=${REPLFS_SIM_SEEDS:-500}
      export REPLFS_CHAOS_SECONDS=${REPLFS_CHAOS_SECONDS:-40}
      # To bound CI's time the sanitized run covers the default data path
      # only, and leaves out the gigabyte-file tests and the WAN bed's
      # (network namespaces and relays around the same replication code,
      # the slowest tests under the sanitizers); the normal stage runs all
      # of them.
      export EXCLUDE_LABELS="simulation|fuse_io|large|wan"
      # Clang, so that one build serves the suite, the lock-annotation check
      # and the fuzzers (their coverage instrumentation, fuzzer-no-link,
      # costs the suite little). -O1: clang compiles it with the sanitizers
      # faster than GCC compiles -O0, and the suite runs faster on it.
      CC=clang CXX=clang++ run_suite sanitize "$sanitize_dir" -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_CXX_FLAGS_DEBUG="-O1 $ci_debug_info" -DREPLFS_SANITIZE=address,undefined \
        -DREPLFS_FUZZ=ON -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link ;;
    tsan)
      dir=${TSAN_BUILD_DIR:-build-tsan}
      echo "== [tsan] configuring $dir"
      cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${ci_release_flags[@]}" \
        -DREPLFS_SANITIZE=thread >/dev/null
      echo "== [tsan] building the simulation"
      cmake --build "$dir" -j "$JOBS" --target convergence_sim_test
      echo "== [tsan] running the simulation"
      TSAN_OPTIONS="suppressions=$(pwd)/tests/tsan.supp halt_on_error=1" \
        REPLFS_SIM_SEEDS=${TSAN_SIM_SEEDS:-300} "$dir/tests/convergence_sim_test" ;;
    fuzz)
      if [ -x tools/fuzz.sh ]; then
        fuzz_dir=build-fuzz
        if grep -q '^REPLFS_FUZZ:BOOL=ON$' "$sanitize_dir/CMakeCache.txt" 2>/dev/null; then
          fuzz_dir=$sanitize_dir
        fi
        echo "== [fuzz] building (in $fuzz_dir) and running the fuzzers"
        tools/fuzz.sh --seconds "${FUZZ_SECONDS:-30}" --build-dir "$fuzz_dir"
      else
        echo "== [fuzz] no fuzzers yet"
      fi ;;
    *) echo "tools/test.sh: unknown stage $stage" >&2; exit 2 ;;
  esac
done
echo "== all stages passed: ${stages[*]}"
