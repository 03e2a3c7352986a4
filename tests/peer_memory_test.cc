// Nothing a peer sends can bloat a replica: a real replfs pulls from a fake
// peer that sends what costs a receiver the most memory, and its peak RSS
// (VmHWM) must stay under 128 MiB while it refuses or sets aside what it
// cannot take and goes on replicating. Each test prints the peak it saw
// (REPLFS_BINARY=<an older replfs> measures that one;
// REPLFS_PEER_MEMORY_FILES=1000000 gives the receiver a tree of that many
// small files first, as a measurement: it takes minutes per test).
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"
#include "tests/fake_peer.h"
#include "tests/support/replica_process.h"
#include "tests/support/sanitizers.h"

namespace replfs::testing {
namespace {

constexpr uint64_t kTargetPeakBytes = uint64_t{128} << 20;

// Under AddressSanitizer the scenarios still run (refused, and replication
// goes on), but the peak is only printed.
constexpr bool kPeakIsMeaningful = !kAddressSanitizer;

// The highest resident set size the process has had (VmHWM), in bytes.
uint64_t PeakRssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("VmHWM:")) continue;
    uint64_t kib = 0;
    std::string number = line.substr(6);
    number.resize(number.find("kB") == std::string::npos ? number.size() : number.find("kB"));
    if (absl::SimpleAtoi(number, &kib)) return kib << 10;
  }
  return 0;
}

// ---- Raw protobuf wire format, to build messages far larger than a test
// ---- would want to hold as parsed objects.

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Field `number` (length-delimited) holding `bytes`.
void AppendLengthDelimited(int number, const std::string& bytes, std::string* out) {
  AppendVarint(static_cast<uint64_t>(number) << 3 | 2, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes);
}

void AppendVarintField(int number, uint64_t value, std::string* out) {
  AppendVarint(static_cast<uint64_t>(number) << 3, out);
  AppendVarint(value, out);
}

// A ChangeBatch of `count` small entries (empty files and tombstones, distinct paths), seqs
// 1..count, built without parsed objects.
std::string TinyEntriesBatch(uint64_t count) {
  std::string batch;
  const uint64_t hlc = HlcFromNow();
  for (uint64_t i = 0; i < count; ++i) {
    Entry e = i % 2 == 0 ? InlineFileEntry(absl::StrCat("t", i), "", hlc)
                         : TombstoneEntry(absl::StrCat("t", i), hlc);
    e.set_seq(i + 1);
    e.mutable_content()->clear_mtime_ns();
    e.mutable_content()->clear_vector();
    AppendLengthDelimited(1, e.SerializeAsString(), &batch);
  }
  AppendVarintField(2, count, &batch);  // head_seq
  return batch;
}

// A ChangeBatch of one file entry listing `hashes` block hashes (a file of
// that many MiB), at seq 1.
std::string HashListBatch(uint64_t hashes) {
  Entry e = BlockFileEntry("huge", hashes * kBlockSize, {}, HlcFromNow());
  e.set_seq(1);
  Content content = e.content();
  e.clear_content();
  std::string content_bytes = content.SerializeAsString();
  content_bytes.reserve(content_bytes.size() + hashes * 34);
  std::string hash(kSha256Size, '\0');
  for (uint64_t i = 0; i < hashes; ++i) {
    for (size_t b = 0; b < 8; ++b) hash[b] = static_cast<char>((i >> (8 * b)) & 0xff);
    AppendLengthDelimited(6, hash, &content_bytes);
  }
  std::string entry_bytes = e.SerializeAsString();
  AppendLengthDelimited(2, content_bytes, &entry_bytes);
  std::string batch;
  AppendLengthDelimited(1, entry_bytes, &batch);
  AppendVarintField(2, 1, &batch);  // head_seq
  return batch;
}

// `count` files of 100 bytes in directories of 1000, under `dir`.
absl::Status MakeTree(const std::string& dir, uint64_t count) {
  const std::string content(100, 'x');
  for (uint64_t i = 0; i < count; ++i) {
    const std::string sub = absl::StrCat(dir, "/d", i / 1000);
    if (i % 1000 == 0) std::filesystem::create_directories(sub);
    std::ofstream out(absl::StrCat(sub, "/f", i % 1000), std::ios::binary);
    out << content << i;
    if (!out) return absl::InternalError(absl::StrCat("cannot write under ", sub));
  }
  return absl::OkStatus();
}

class PeerMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::make_unique<TempDir>("replfs-peer-memory");
    backing_ = root_->Sub("backing");
    mount_ = root_->Sub("mnt");
    if (const char* files = std::getenv("REPLFS_PEER_MEMORY_FILES"); files != nullptr) {
      ASSERT_TRUE(absl::SimpleAtoi(files, &tree_files_)) << files;
      ASSERT_TRUE(MakeTree(backing_ + "/tree", tree_files_).ok());
    }
    ASSERT_TRUE(fake_.Start().ok());
    absl::StatusOr<int> port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    replica_ = std::make_unique<ReplicaProcess>(
        backing_, mount_,
        std::vector<std::string>{
            "-o", absl::StrCat("listen=127.0.0.1:", *port, ",peers=", fake_.address(),
                               ",log_level=info")});
  }
  void TearDown() override {
    replica_.reset();
    root_.reset();
  }

  PeerStatus View() const {
    absl::StatusOr<PeerStatus> peer = PeerStatusFor(backing_, fake_.address());
    return peer.ok() ? *peer : PeerStatus();
  }
  std::string Diagnostics() const {
    std::string log = replica_->Log();
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    return absl::StrCat("\nstatus: ", View().ShortDebugString(), "\nlog:\n", log);
  }

  // Plays `message`, waits until the replica refused it or set it aside,
  // then checks that a valid entry still arrives and that the peak RSS
  // stayed under the target.
  void ExpectBoundedThroughout(const std::string& label, const std::string& message) {
    ChangesScript script;
    script.messages.push_back(message);
    fake_.SetScript(script);
    // A big tree's start-up scan takes minutes.
    ASSERT_TRUE(replica_->Start(tree_files_ > 0 ? absl::Minutes(30) : absl::Seconds(30)).ok());
    const bool dealt_with = WaitUntil(
        [&] {
          const PeerStatus peer = View();
          return peer.rejected_entries() > 0 || peer.set_aside_entries() > 0;
        },
        absl::Seconds(60));
    const uint64_t peak = PeakRssBytes(replica_->pid());
    std::printf("peak RSS of the receiver, %s: %.1f MiB\n", label.c_str(),
                static_cast<double>(peak) / (1 << 20));
    EXPECT_TRUE(dealt_with) << "neither refused nor set aside" << Diagnostics();
    EXPECT_GT(peak, 0u);
    if (kPeakIsMeaningful) {
      EXPECT_LT(peak, kTargetPeakBytes) << label << Diagnostics();
    }

    script.messages = {BatchBytes({InlineFileEntry("after", "after\n", HlcFromNow())}, 100)};
    fake_.SetScript(script);
    EXPECT_TRUE(WaitUntil([&] { return ReadWholeFile(mount_ + "/after") == "after\n"; },
                          absl::Seconds(30)))
        << "nothing arrives after it" << Diagnostics();
    if (kPeakIsMeaningful) {
      EXPECT_LT(PeakRssBytes(replica_->pid()), kTargetPeakBytes) << label << Diagnostics();
    }
  }

  std::unique_ptr<TempDir> root_;
  std::string backing_, mount_;
  FakePeer fake_;
  std::unique_ptr<ReplicaProcess> replica_;
  uint64_t tree_files_ = 0;  // REPLFS_PEER_MEMORY_FILES
};

// FetchBlocks answers each of 16 requested hashes with 60 MiB of data.
TEST_F(PeerMemoryTest, SixtyMebibyteBlocksAreRefusedBeforeTheyAreBuffered) {
  std::vector<std::string> hashes;
  hashes.reserve(16);
  for (int i = 0; i < 16; ++i) hashes.push_back(Sha256(absl::StrCat("block ", i)));
  BlockScript blocks;
  blocks.every_block_bytes = uint64_t{60} << 20;
  fake_.SetBlocks(blocks);
  ExpectBoundedThroughout(
      "16 blocks of 60 MiB",
      BatchBytes({BlockFileEntry("flooded", uint64_t{16} * kBlockSize, hashes, HlcFromNow())}));
}

// One entry listing 1.95 million block hashes: a 63 MiB message.
TEST_F(PeerMemoryTest, EntryListingTwoMillionHashesIsRefusedBeforeItIsParsed) {
  ExpectBoundedThroughout("one entry of 1.95M hashes", HashListBatch(1'950'000));
}

// A 2^20-hash entry: 34 MiB, a 1 TiB file.
TEST_F(PeerMemoryTest, EntryListingTwoToTheTwentyHashesIsRefusedBeforeItIsParsed) {
  ExpectBoundedThroughout("one entry of 2^20 hashes", HashListBatch(uint64_t{1} << 20));
}

// The largest legal entry (2^17 hashes, a 128 GiB file) whose blocks the
// peer does not serve: parsed, decided, set aside, retried.
TEST_F(PeerMemoryTest, LargestLegalEntryIsSetAsideWithinBounds) {
  ExpectBoundedThroughout("the largest legal entry (2^17 hashes), set aside",
                          HashListBatch(uint64_t{1} << 17));
}

// One batch of a million tiny entries, just under 64 MiB.
TEST_F(PeerMemoryTest, BatchOfAMillionTinyEntriesIsRefusedBeforeItIsParsed) {
  const std::string batch = TinyEntriesBatch(1'000'000);
  ASSERT_LT(batch.size(), size_t{64} << 20);
  ASSERT_GT(batch.size(), size_t{50} << 20);
  ExpectBoundedThroughout("a batch of 1M tiny entries", batch);
}

}  // namespace
}  // namespace replfs::testing
