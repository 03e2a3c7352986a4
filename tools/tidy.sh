#!/usr/bin/env bash
# Runs clang-tidy (checks in .clang-tidy) over the production code and the
# tests with the compile commands of a build directory; exits non-zero on
# any warning. About 15 minutes on two cores.
#   tools/tidy.sh [BUILD_DIR]   (default: build; configure it first)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "tools/tidy.sh: no $build/compile_commands.json (configure the build first)" >&2; exit 2; }
out=$(ls daemon/*.cc fuse/*.cc storage/*.cc replication/*.cc tools/*.cc tests/*.cc tests/*/*.cc |
      xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>/dev/null |
      grep -E "^/.*(warning|error):" | grep -v "^/usr/" || true)
if [ -n "$out" ]; then
  echo "$out"
  echo "tools/tidy.sh: $(echo "$out" | wc -l) finding(s)" >&2
  exit 1
fi
echo "tools/tidy.sh: clean"
