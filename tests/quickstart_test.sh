#!/usr/bin/env bash
# Runs the README's quickstart start to finish, non-interactively, against
# this build, then its stop command, and checks that nothing it started is
# still mounted or running.
set -euo pipefail
src=$1 build=$2
qs=$(mktemp -d /tmp/replfs-quickstart-test-XXXXXX)
export QS_DIR=$qs/cluster BUILD_DIR=$build BASE_PORT=$((20000 + RANDOM % 20000))
cleanup() {
  "$src/tools/quickstart.sh" stop >/dev/null 2>&1 || true
  rm -rf "$qs"
}
trap cleanup EXIT

"$src/tools/quickstart.sh" > "$qs/out.log" 2>&1 || { cat "$qs/out.log"; echo "FAIL: quickstart exited non-zero"; exit 1; }
cat "$qs/out.log"
for want in "caught up from its checkpoints" "last writer wins" "it replicated" "HEALTHY" \
            "tools/quickstart.sh stop"; do
  grep -q "$want" "$qs/out.log" || { echo "FAIL: quickstart output lacks '$want'"; exit 1; }
done
for i in 1 2 3; do
  grep -q " $QS_DIR/mnt$i fuse.replfs " /proc/mounts || { echo "FAIL: replica $i not mounted after quickstart"; exit 1; }
done
[ -n "$(ls "$QS_DIR"/backing*/.replfs/conflicts/ 2>/dev/null)" ] || { echo "FAIL: no conflict copy was kept"; exit 1; }

"$src/tools/quickstart.sh" stop
if grep -q "$QS_DIR" /proc/mounts; then echo "FAIL: still mounted after stop"; exit 1; fi
if pgrep -f "$QS_DIR/backing" >/dev/null; then echo "FAIL: replfs still running after stop"; exit 1; fi
[ ! -e "$QS_DIR" ] || { echo "FAIL: $QS_DIR left behind"; exit 1; }
echo "quickstart ran start to finish and stopped cleanly"
