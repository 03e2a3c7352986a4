#ifndef REPLFS_TOOLS_STATUS_CLIENT_H_
#define REPLFS_TOOLS_STATUS_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replfs.grpc.pb.h"
#include "tools/paged_cursor.h"

namespace replfs {

// Talks to one running replica's Admin service over its unix socket
// (STATE_DIR/admin.sock, mode 0600: root or the replica's owner only).
// Every call has a deadline: a hung or stopped replica is reported as
// unreachable, never waited for.
class StatusClient {
 public:
  explicit StatusClient(std::string admin_socket, absl::Duration timeout = absl::Seconds(3))
      : admin_socket_(std::move(admin_socket)), timeout_(timeout) {}

  absl::StatusOr<ReplicaStatus> Status() const;
  // Every conflict copy, read page by page.
  absl::StatusOr<std::vector<ConflictCopy>> Conflicts() const;
  // Visit every entry (path order) and every change-log record (seq order),
  // a page at a time: memory stays bounded whatever the store's size. Each
  // page has its own deadline.
  absl::Status ForEachEntry(const std::function<void(const Entry&)>& visit) const;
  // Only the entries whose paths start with `prefix` ("DIR/" for a subtree;
  // "" all).
  absl::Status ForEachEntry(const std::string& prefix,
                            const std::function<void(const Entry&)>& visit) const;
  absl::Status ForEachChange(const std::function<void(const ChangeLogRecord&)>& visit) const;
  // Visit the versions kept of `path` (no leading slash), with `subtree`
  // also those of every path beneath it ("" and subtree: all), in path
  // order, a page at a time. `with_hashes` has the replica hash each kept
  // file (a read of each).
  absl::Status ForEachVersion(const std::string& path, bool subtree, bool with_hashes,
                              const std::function<void(const KeptVersion&)>& visit) const;
  // The same entries and versions, pulled one at a time: two walked side
  // by side (both in path order) hold a page of each, whatever the tree.
  // A cursor must not outlive this client.
  PagedCursor<Entry> EntryCursor(const std::string& prefix) const;
  PagedCursor<KeptVersion> VersionCursor(const std::string& path, bool subtree,
                                         bool with_hashes) const;
  // Whether the replica had a record of `node` pulling from it.
  absl::StatusOr<bool> ForgetPuller(uint64_t node) const;

 private:
  // Why the socket cannot be used, before gRPC turns it into a vaguer error.
  absl::Status CheckSocket() const;
  // Calls a paged `rpc`, starting with `request` and giving each page
  // `page_timeout`, until `take`, which consumes a page and sets up the
  // request for the next one, says the page was the last.
  template <typename Request, typename Page>
  absl::Status ReadPages(
      grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&, Page*),
      Request request, absl::Duration page_timeout,
      const std::function<bool(const Page&, Request*)>& take) const;
  // Calls one page of `rpc` on `*stub` (connected at the first call).
  template <typename Request, typename Page>
  absl::Status ReadPage(
      std::shared_ptr<Admin::Stub>* stub,
      grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&, Page*),
      const Request& request, absl::Duration page_timeout, Page* page) const;
  template <typename Item>
  static absl::Status VisitAll(PagedCursor<Item> cursor,
                               const std::function<void(const Item&)>& visit);

  std::string admin_socket_;
  absl::Duration timeout_;
};

}  // namespace replfs

#endif  // REPLFS_TOOLS_STATUS_CLIENT_H_
