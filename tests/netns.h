#ifndef REPLFS_TESTS_NETNS_H_
#define REPLFS_TESTS_NETNS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace replfs::testing {

// Runs argv[0] (searched in PATH) with `argv`, waits (bounded: it is killed
// after 30 s), and returns its stdout; a non-zero exit is an error carrying
// the command line and its stderr.
absl::StatusOr<std::string> RunTool(const std::vector<std::string>& argv);

// Where `ip netns` keeps the namespace called `name`.
std::string NetnsPath(const std::string& name);

// A named network namespace (`ip netns add`), deleted with every process
// still inside it SIGKILLed when the object dies, also when a test fails.
class NetNamespace {
 public:
  static absl::StatusOr<std::unique_ptr<NetNamespace>> Create(const std::string& name);
  ~NetNamespace();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const { return NetnsPath(name_); }

 private:
  explicit NetNamespace(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// SIGKILLs every process in namespace `name` and waits (bounded) until none
// is left; then deletes the namespace. For leftovers of a bed that died.
void DeleteNamespace(const std::string& name);

// Names of the existing namespaces (`ip netns list`) that start with `prefix`.
std::vector<std::string> NamespacesWithPrefix(const std::string& prefix);

// A new socket(domain, type | SOCK_CLOEXEC) in the namespace at `netns_path`
// (empty: the caller's). A socket stays in the namespace it was created in,
// so bind, connect and accept on it work there from any thread: a
// short-lived thread joins the namespace to create it, and the caller's
// thread stays where it is.
absl::StatusOr<UniqueFd> SocketInNamespace(const std::string& netns_path, int domain, int type);

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_NETNS_H_
