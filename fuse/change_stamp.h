#ifndef REPLFS_FUSE_CHANGE_STAMP_H_
#define REPLFS_FUSE_CHANGE_STAMP_H_

#include <sys/stat.h>
#include <sys/types.h>

namespace replfs {

// What a stat shows of a file's changes: its size, mtime and ctime. Two
// stamps that differ prove a change between their stats (a write the
// daemon did not see, through passthrough); two equal ones prove none only
// where every change stamps a new ctime (multigrain timestamps).
struct ChangeStamp {
  off_t size = -1;
  struct timespec mtime {};
  struct timespec ctime {};

  static ChangeStamp Of(const struct stat& st) { return {st.st_size, st.st_mtim, st.st_ctim}; }
  friend bool operator==(const ChangeStamp& a, const ChangeStamp& b) {
    return a.SameContentAs(b) && a.ctime.tv_sec == b.ctime.tv_sec &&
           a.ctime.tv_nsec == b.ctime.tv_nsec;
  }
  // Size and mtime only: what a write moves. The ctime also moves with
  // changes that leave the bytes alone (chmod, a commit putting back the
  // atime its read moved).
  bool SameContentAs(const ChangeStamp& other) const {
    return size == other.size && mtime.tv_sec == other.mtime.tv_sec &&
           mtime.tv_nsec == other.mtime.tv_nsec;
  }
};

}  // namespace replfs

#endif  // REPLFS_FUSE_CHANGE_STAMP_H_
