#!/usr/bin/env bash
# Quickstart: installs, builds and starts a 3-replica replfs cluster on this
# machine (loopback ports, mounts under /tmp/replfs-quickstart), then shows
# replication, catch-up after downtime and a conflict. The cluster is left
# running; `tools/quickstart.sh stop` stops it and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
QS_DIR=${QS_DIR:-/tmp/replfs-quickstart}
BASE_PORT=${BASE_PORT:-7461}
REPLFS=$BUILD_DIR/daemon/replfs
STATUS=$BUILD_DIR/tools/replfs-status

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

port() { echo $((BASE_PORT + $1 - 1)); }
peers_of() {
  local list="" j
  for j in 1 2 3; do [ "$j" = "$1" ] || list+="127.0.0.1:$(port "$j");"; done
  echo "${list%;}"
}

mounted() { grep -q " $1 fuse" /proc/mounts; }

start_replica() {  # start_replica N [isolated]
  local i=$1 opts
  opts="listen=127.0.0.1:$(port "$i"),peers=$(peers_of "$i"),log_level=info"
  # Isolated: no listen address and no peers, as if the network were cut.
  [ "${2:-}" = isolated ] && opts="log_level=info"
  mkdir -p "$QS_DIR/backing$i" "$QS_DIR/mnt$i"
  "$REPLFS" "$QS_DIR/backing$i" "$QS_DIR/mnt$i" -o "$opts" 2>>"$QS_DIR/replica$i.log"
  pgrep -n -f "^$REPLFS $QS_DIR/backing$i " > "$QS_DIR/replica$i.pid"
  say "replica $i: $QS_DIR/mnt$i (backing $QS_DIR/backing$i, port $(port "$i"), pid $(cat "$QS_DIR/replica$i.pid"))"
}

stop_replica() {
  local i=$1 pid
  pid=$(cat "$QS_DIR/replica$i.pid" 2>/dev/null || true)
  if mounted "$QS_DIR/mnt$i"; then
    fusermount3 -u "$QS_DIR/mnt$i" 2>/dev/null || fusermount3 -uz "$QS_DIR/mnt$i" 2>/dev/null || true
  fi
  if [ -n "$pid" ]; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

stop_all() {
  [ -d "$QS_DIR" ] || { echo "nothing to stop ($QS_DIR does not exist)"; return 0; }
  for i in 1 2 3; do stop_replica "$i"; done
  rm -rf "$QS_DIR"
  echo "quickstart cluster stopped; $QS_DIR removed"
}

# Waits (bounded) until `cmd` succeeds.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "quickstart: timed out waiting for $what" >&2
  return 1
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (FUSE mounts with allow_other need it)" >&2
  exit 1
fi

step "1/9 installing Debian packages"
tools/install-deps.sh
step "2/9 building replfs (a few minutes the first time)"
# An existing build directory keeps its own configuration.
if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" >/dev/null
else
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target replfs replfs-status

stop_all >/dev/null 2>&1 || true
mkdir -p "$QS_DIR"
step "3/9 starting three replicas, full mesh on 127.0.0.1:$(port 1)-$(port 3)"
for i in 1 2 3; do start_replica "$i"; done

step "4/9 writing on replica 1, reading on replicas 2 and 3"
echo "<h1>hello from replfs</h1>" > "$QS_DIR/mnt1/index.html"
mkdir -p "$QS_DIR/mnt1/css"
echo "body { font-family: sans-serif }" > "$QS_DIR/mnt1/css/site.css"
say "replica 1: wrote index.html and css/site.css"
wait_for "index.html on replica 3" test -f "$QS_DIR/mnt3/css/site.css"
say "replica 2 index.html: $(cat "$QS_DIR/mnt2/index.html")"
say "replica 3 css/site.css: $(cat "$QS_DIR/mnt3/css/site.css")"

step "5/9 stopping replica 3, writing on the survivors, restarting it"
stop_replica 3
say "replica 3 stopped"
echo "news while 3 was down" > "$QS_DIR/mnt1/news.html"
mv "$QS_DIR/mnt2/css/site.css" "$QS_DIR/mnt2/css/main.css"
say "replica 1 wrote news.html; replica 2 renamed css/site.css -> css/main.css"
start_replica 3
wait_for "replica 3 to catch up" test -f "$QS_DIR/mnt3/css/main.css" -a -f "$QS_DIR/mnt3/news.html"
say "replica 3 caught up from its checkpoints:"
ls -la "$QS_DIR/mnt3" "$QS_DIR/mnt3/css" | sed 's/^/     /'

step "6/9 a conflict: replicas 1 and 2 write the same file while cut off from each other"
stop_replica 2
start_replica 2 isolated
say "replica 2 restarted without its peers (a network partition)"
echo "version from replica 1" > "$QS_DIR/mnt1/conflict.txt"
echo "version from replica 2" > "$QS_DIR/mnt2/conflict.txt"
say "replica 1 wrote: $(cat "$QS_DIR/mnt1/conflict.txt")"
say "replica 2 wrote: $(cat "$QS_DIR/mnt2/conflict.txt")"
stop_replica 2
start_replica 2
say "partition healed: replica 2 rejoined"
same() { cmp -s "$QS_DIR/mnt1/conflict.txt" "$QS_DIR/mnt2/conflict.txt" && cmp -s "$QS_DIR/mnt1/conflict.txt" "$QS_DIR/mnt3/conflict.txt"; }
wait_for "the replicas to agree on conflict.txt" same
say "every replica now has: $(cat "$QS_DIR/mnt3/conflict.txt")   (last writer wins, by hybrid logical clock)"
say "the losing version is kept outside the mount, as a conflict copy:"
for f in "$QS_DIR"/backing*/.replfs/conflicts/*; do
  if [ -f "$f" ]; then say "  $f: $(cat "$f")"; fi
done

step "7/9 a mistake undone: a page deleted on replica 1, restored from replica 2"
rm "$QS_DIR/mnt1/index.html"
gone() { ! test -e "$QS_DIR/mnt3/index.html"; }
wait_for "the deletion to reach replica 3" gone
say "replica 1 deleted index.html; every replica applied the deletion. Replica 2 kept it:"
"$STATUS" --versions "$QS_DIR/mnt2/index.html" | sed 's/^/     /'
version=$("$STATUS" --versions "$QS_DIR/mnt2/index.html" | awk '$1 ~ /^[0-9]+-[0-9a-f]+$/ {print $1; exit}')
"$STATUS" --restore "$QS_DIR/mnt2/index.html" --version "$version" | sed 's/^/     /'
back() { test -f "$QS_DIR/mnt1/index.html" -a -f "$QS_DIR/mnt3/index.html"; }
wait_for "the restore to reach replicas 1 and 3" back
say "replica 1 index.html: $(cat "$QS_DIR/mnt1/index.html")   (restored through the mount: it replicated)"

step "8/9 replfs-status"
# Peers that saw replica 3 go away retry with backoff: give them a moment.
healthy() { "$STATUS" "$QS_DIR/mnt1" "$QS_DIR/mnt2" "$QS_DIR/mnt3" >/dev/null 2>&1; }
wait_for "every peer to reconnect" healthy || true
"$STATUS" "$QS_DIR/mnt1" "$QS_DIR/mnt2" "$QS_DIR/mnt3" || true

step "9/9 the cluster is running"
cat <<MSG
   Mounts: $QS_DIR/mnt1  $QS_DIR/mnt2  $QS_DIR/mnt3
   Try:    echo hi > $QS_DIR/mnt2/hi.txt; cat $QS_DIR/mnt1/hi.txt
           $STATUS --watch $QS_DIR/mnt1
           $STATUS --log $QS_DIR/backing1      (entries and change log)
           $STATUS --conflicts $QS_DIR/mnt1
           $STATUS --versions $QS_DIR/mnt1/     (kept versions, for --restore)
   Logs:   $QS_DIR/replica*.log
   Stop it and clean up:
           tools/quickstart.sh stop
MSG
