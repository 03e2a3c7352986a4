#ifndef REPLFS_TESTS_SUPPORT_REPLICA_PROCESS_H_
#define REPLFS_TESTS_SUPPORT_REPLICA_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fuse/mount_options.h"  // IsMountpoint, for the tests that mount
#include "tests/support/wait_until.h"  // WaitUntil, for the tests that start replicas

namespace replfs::testing {

// A temporary directory removed (recursively, after unmounting anything
// left inside it) when the object dies, also when a test fails.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "replfs-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const;  // Creates path/name.

 private:
  std::string path_;
};

// Path of the built `replfs` binary (REPLFS_BINARY env var overrides).
std::string ReplfsBinary();

// One real `replfs` process with a real FUSE mount. The destructor
// unmounts (lazily if it must) and stops the process by its PID, whatever
// state the test left it in.
class ReplicaProcess {
 public:
  ReplicaProcess(std::string backing, std::string mountpoint,
                 std::vector<std::string> extra_args = {});
  ~ReplicaProcess();
  ReplicaProcess(const ReplicaProcess&) = delete;
  ReplicaProcess& operator=(const ReplicaProcess&) = delete;

  // More arguments for the next Start (e.g. ones that name other
  // replicas' ports, known only once they all exist).
  void AddArguments(const std::vector<std::string>& args) {
    extra_args_.insert(extra_args_.end(), args.begin(), args.end());
  }

  // Runs the process in this network namespace (a path such as
  // /var/run/netns/NAME): the child joins it with setns(2) before exec, so
  // its sockets live there while its FUSE mount stays in the caller's
  // mount namespace (`ip netns exec` would hide the mount), and in a
  // process group of its own (a terminal's Ctrl-C is for the caller).
  // Empty: the caller's namespace. Takes effect at the next Start().
  void set_network_namespace(std::string path) { network_namespace_ = std::move(path); }

  // Starts `replfs BACKING MOUNTPOINT -f extra...` and waits (bounded by
  // `timeout`: the start-up scan of a big tree takes minutes) until the
  // mount is up.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  // Unmounts and waits for the process to exit cleanly.
  absl::Status Stop();
  // SIGKILLs the process, then lazily unmounts the dead mount.
  void Kill();

  pid_t pid() const { return pid_; }
  const std::string& backing() const { return backing_; }
  const std::string& mountpoint() const { return mountpoint_; }
  std::string MountPath(const std::string& relative) const { return mountpoint_ + "/" + relative; }
  std::string BackingPath(const std::string& relative) const { return backing_ + "/" + relative; }
  std::string StateDir() const { return backing_ + "/.replfs"; }
  // Everything the process wrote to stderr so far.
  std::string Log() const;

 private:
  std::string backing_;
  std::string mountpoint_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  std::string network_namespace_;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1, found by binding port 0 and closing the
// socket again (SO_REUSEADDR on the server side lets the replica take it).
// Two calls may return the same port: a test that needs several uses
// DistinctLoopbackPorts.
absl::StatusOr<int> FreeLoopbackPort();

// `count` distinct free ports on 127.0.0.1 (bound and released: a race
// with other processes remains possible, as with any such helper).
absl::StatusOr<std::vector<int>> DistinctLoopbackPorts(int count);

// The whole content of a file ("" if it cannot be read).
std::string ReadWholeFile(const std::string& path);

// Whether something is at `path` (lstat: a dangling symlink counts).
bool PathExists(const std::string& path);

// Unmounts `path`: fusermount3 -u, then -uz if busy. Bounded in time.
void Unmount(const std::string& path);

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_REPLICA_PROCESS_H_
