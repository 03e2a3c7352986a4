// A peer that is slow, hangs or sends garbage costs its own puller and
// nothing else: a real receiver pulls from a fake peer whose FetchBlocks
// hangs and from a real second replica, whose changes must keep arriving
// within a second while the fetch hangs; and stopping the receiver does not
// wait for the hung fetch's deadline.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"
#include "tests/cluster.h"
#include "tests/fake_peer.h"
#include "tests/support/replica_process.h"

namespace replfs::testing {
namespace {

TEST(PeerIsolation, HungFetchBlocksOnOnePeerDoesNotDelayAnotherPeersEntries) {
  TempDir root("replfs-isolation");
  FakePeer hung;
  ASSERT_TRUE(hung.Start().ok());
  absl::StatusOr<std::vector<int>> ports = DistinctLoopbackPorts(2);
  ASSERT_TRUE(ports.ok()) << ports.status();
  const std::string other_address = absl::StrCat("127.0.0.1:", (*ports)[0]);
  ReplicaProcess other(root.Sub("other"), root.Sub("other-mnt"),
                       {"-o", absl::StrCat("listen=", other_address)});
  ReplicaProcess receiver(
      root.Sub("receiver"), root.Sub("receiver-mnt"),
      {"-o", absl::StrCat("listen=127.0.0.1:", (*ports)[1], ",peers=", other_address, ";",
                          hung.address(), ",log_level=info")});
  ASSERT_TRUE(other.Start().ok());
  ASSERT_TRUE(receiver.Start().ok());
  const auto arrives = [&](const std::string& name, const std::string& content,
                           absl::Duration timeout) {
    return WaitUntil([&] { return ReadWholeFile(receiver.MountPath(name)) == content; }, timeout,
                     absl::Milliseconds(5));
  };
  ASSERT_TRUE(WriteFile(other.MountPath("warm"), "warm\n").ok());
  ASSERT_TRUE(arrives("warm", "warm\n", absl::Seconds(20))) << receiver.Log();

  // The fake peer's entry needs blocks; it never answers FetchBlocks.
  BlockScript blocks;
  blocks.hang = true;
  hung.SetBlocks(blocks);
  std::vector<std::string> hashes;
  hashes.reserve(3);
  for (int i = 0; i < 3; ++i) hashes.push_back(Sha256(absl::StrCat("stuck block ", i)));
  ChangesScript script;
  script.messages.push_back(
      BatchBytes({BlockFileEntry("stuck", uint64_t{3} * kBlockSize, hashes, HlcFromNow())}));
  hung.SetScript(script);
  ASSERT_TRUE(WaitUntil([&] { return hung.fetch_calls() >= 1; }, absl::Seconds(20)))
      << receiver.Log();
  const int fetches = hung.fetch_calls();

  // While that fetch hangs (its deadline is 30 s), the other peer's changes
  // arrive as fast as ever.
  for (int i = 0; i < 5; ++i) {
    const std::string name = absl::StrCat("probe-", i);
    const std::string content = absl::StrCat("probe ", i, "\n");
    const absl::Time written = absl::Now();
    ASSERT_TRUE(WriteFile(other.MountPath(name), content).ok());
    EXPECT_TRUE(arrives(name, content, absl::Seconds(1)))
        << name << " took more than a second (arrived: "
        << arrives(name, content, absl::Seconds(30)) << ", after "
        << absl::FormatDuration(absl::Now() - written) << ")\n"
        << receiver.Log();
  }
  EXPECT_EQ(hung.fetch_calls(), fetches) << "the hung fetch ended before the probes";

  // Stopping does not wait for the hung fetch's deadline.
  const absl::Time stopping = absl::Now();
  EXPECT_TRUE(receiver.Stop().ok()) << receiver.Log();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(10));
}

}  // namespace
}  // namespace replfs::testing
