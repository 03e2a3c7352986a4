// Writes the seed corpora of the fuzzers (tests/fuzz/corpus/<fuzzer>/):
// serialized ChangeBatches of honest and hostile entries for
// entry_validation_fuzzer and batch_shape_fuzzer (with batches around its
// limits for the latter), and fixed pseudo-random byte strings (it reads
// them through FuzzedDataProvider) for apply_fuzzer.
//   make_fuzz_seeds CORPUS_DIR
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "replfs.pb.h"
#include "storage/content_hasher.h"

namespace {

replfs::Entry Live(const std::string& path, replfs::Kind kind) {
  replfs::Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(kind);
  e.mutable_content()->mutable_version()->set_hlc(uint64_t{1700000000000} << 16);
  e.mutable_content()->mutable_version()->set_node(1);
  replfs::VersionVectorItem* item = e.mutable_content()->add_vector();
  item->set_node(1);
  item->set_counter(1);
  if (kind != replfs::KIND_TOMBSTONE) {
    *e.mutable_attributes()->mutable_version() = e.content().version();
    e.mutable_attributes()->set_mode(kind == replfs::KIND_DIR ? 0755 : 0644);
  }
  return e;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::vector<replfs::Entry>> batches;

  replfs::Entry inline_file = Live("docs/readme.txt", replfs::KIND_FILE);
  inline_file.mutable_content()->set_is_inline(true);
  inline_file.mutable_content()->set_inline_data("hello\n");
  inline_file.mutable_content()->set_size(6);
  replfs::Xattr* x = inline_file.mutable_attributes()->add_xattrs();
  x->set_name("user.note");
  x->set_value("v");
  replfs::Entry block_file = Live("big.bin", replfs::KIND_FILE);
  block_file.mutable_content()->set_block_size(replfs::kBlockSize);
  block_file.mutable_content()->set_size(replfs::kBlockSize + 10);
  block_file.mutable_content()->add_block_hashes(replfs::Sha256("first"));
  block_file.mutable_content()->add_block_hashes(replfs::Sha256("second"));
  replfs::Entry symlink = Live("d", replfs::KIND_SYMLINK);
  symlink.mutable_content()->set_symlink_target("/");
  replfs::Entry through = inline_file;
  through.set_path("d/etc/passwd");
  batches.push_back({Live("docs", replfs::KIND_DIR), inline_file});
  batches.push_back({block_file});
  batches.push_back({symlink, through});
  batches.push_back({Live("docs/readme.txt", replfs::KIND_TOMBSTONE), Live("fifo", replfs::KIND_FIFO)});
  for (const char* hostile : {"../x", "/etc/x", "a/../../x", ".replfs/node_id", "a//b", "./a"}) {
    replfs::Entry e = inline_file;
    e.set_path(hostile);
    batches.push_back({e});
  }
  int n = 0;
  for (const auto& entries : batches) {
    replfs::ChangeBatch batch;
    uint64_t seq = 1;
    for (replfs::Entry e : entries) {
      e.set_seq(seq++);
      *batch.add_entries() = e;
    }
    batch.set_head_seq(seq - 1);
    const std::string name = "/batch-" + std::to_string(n++);
    Write(dir + "/entry_validation_fuzzer" + name, batch.SerializeAsString());
    Write(dir + "/batch_shape_fuzzer" + name, batch.SerializeAsString());
  }
  // Around batch_shape_fuzzer's limits (4 entries, 3 hashes per entry, 5 in
  // all): at them, and one past each.
  for (int entries : {4, 5}) {
    replfs::ChangeBatch batch;
    for (int i = 0; i < entries; ++i) *batch.add_entries() = Live("e", replfs::KIND_DIR);
    Write(dir + "/batch_shape_fuzzer/entries-" + std::to_string(entries), batch.SerializeAsString());
  }
  for (int hashes : {3, 4}) {
    replfs::ChangeBatch batch;
    replfs::Entry e = block_file;
    e.mutable_content()->clear_block_hashes();
    for (int i = 0; i < hashes; ++i) e.mutable_content()->add_block_hashes(replfs::Sha256("h"));
    *batch.add_entries() = e;
    *batch.add_entries() = e;
    Write(dir + "/batch_shape_fuzzer/hashes-" + std::to_string(hashes), batch.SerializeAsString());
  }

  std::mt19937 rng(20240601);
  for (size_t length : std::vector<size_t>{64, 128, 256, 512, 1024, 2048}) {
    std::string bytes(length, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Write(dir + "/apply_fuzzer/random-" + std::to_string(length), bytes);
  }
  return 0;
}
