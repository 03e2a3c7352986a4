# shellcheck shell=bash
# bench-loopfs.sh: a journaled ext4 file system on a loop device of its own,
# for the benchmark drivers (sourced by tools/bench-local, and by
# tools/bench-apache and tools/bench-replication with --loopfs), so that
# their figures do not depend on the host's root file system (on our VMs:
# ext4 without a journal, which holds back recently deleted inodes and makes
# creates after deletes many times slower, on whichever side comes second).
#
#   loopfs_create DIR SIZE_MIB  a sparse image DIR/loopfs.img on a loop
#                               device, formatted and mounted at DIR/loopfs
#                               (LOOPFS_MNT)
#   loopfs_format               a fresh file system on it (mkfs again),
#                               mounted: every caller gets the same state
#   loopfs_destroy              unmounts, detaches the loop device, removes
#                               the image; safe to call twice and from a trap
# Needs root, losetup (util-linux) and mkfs.ext4 (e2fsprogs). Anything
# mounted inside LOOPFS_MNT must be unmounted by the caller first.

LOOPFS_IMAGE=
LOOPFS_DEV=
LOOPFS_MNT=

loopfs_is_mounted() {
  [[ -n "$LOOPFS_MNT" ]] && awk -v m="$LOOPFS_MNT" '$2 == m { found = 1 } END { exit !found }' \
    /proc/mounts
}

loopfs_create() {  # DIR SIZE_MIB
  command -v losetup >/dev/null || { echo "loopfs: losetup not found (util-linux)" >&2; return 1; }
  command -v mkfs.ext4 >/dev/null || { echo "loopfs: mkfs.ext4 not found (e2fsprogs)" >&2; return 1; }
  LOOPFS_IMAGE=$1/loopfs.img
  LOOPFS_MNT=$1/loopfs
  mkdir -p "$LOOPFS_MNT"
  truncate -s "${2}M" "$LOOPFS_IMAGE"
  # Direct I/O: the image's blocks are not cached a second time in the
  # host's page cache, so the loop device behaves like a disk (cold reads
  # read it, fsync waits for it).
  LOOPFS_DEV=$(losetup --find --show --direct-io=on "$LOOPFS_IMAGE")
  loopfs_format
}

loopfs_format() {
  loopfs_unmount
  # ext4's defaults (a journal, as on a server's disk), with the inode
  # tables and journal written now rather than by a kernel thread during
  # the measurements. mkfs discards the device first, which punches the
  # image's blocks out again: each format starts from the same sparse file.
  mkfs.ext4 -q -F -j -E lazy_itable_init=0,lazy_journal_init=0 "$LOOPFS_DEV"
  mount -t ext4 "$LOOPFS_DEV" "$LOOPFS_MNT"
}

loopfs_unmount() {
  loopfs_is_mounted || return 0
  umount "$LOOPFS_MNT" && return 0
  # Busy for a moment after a daemon that used it exited: once more.
  sleep 1
  umount "$LOOPFS_MNT"
}

loopfs_destroy() {
  loopfs_unmount 2>/dev/null || umount -l "$LOOPFS_MNT" 2>/dev/null
  if [[ -n "$LOOPFS_IMAGE" && -e "$LOOPFS_IMAGE" ]]; then
    # Every loop device on our image, including one attached by an
    # interrupted loopfs_create before it could say which.
    local dev
    for dev in $(losetup -n -O NAME -j "$LOOPFS_IMAGE" 2>/dev/null); do
      losetup -d "$dev" 2>/dev/null
    done
    rm -f "$LOOPFS_IMAGE"
  fi
  LOOPFS_DEV=
  LOOPFS_IMAGE=
  return 0
}
