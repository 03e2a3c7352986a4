#include "tests/fake_peer.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "storage/content_hasher.h"

namespace replfs::testing {

// Hello and FetchBlocks are ordinary sync methods; Changes is a raw
// callback method so that the script can send bytes that are not a valid
// ChangeBatch (typed methods would only ever serialize valid messages).
class FakeReplicationService final
    : public Replication::WithRawCallbackMethod_Changes<Replication::Service> {
 public:
  using Replication::WithRawCallbackMethod_Changes<Replication::Service>::Changes;

  grpc::Status Hello(grpc::ServerContext*, const HelloRequest*, HelloReply* reply) override {
    reply->set_protocol_version(PROTOCOL_VERSION_CURRENT);
    absl::MutexLock lock(&mu_);
    reply->set_cluster(hello_cluster_);
    reply->set_node(hello_node_);
    // A head past every seq the scripts use: a checkpoint beyond the
    // announced head would make the replica pull again from the start.
    reply->set_head_seq(kAnnouncedHead);
    reply->set_hlc(HlcFromNow());
    return grpc::Status::OK;
  }

  grpc::Status FetchBlocks(grpc::ServerContext* context, const FetchBlocksRequest* request,
                           grpc::ServerWriter<Block>* writer) override {
    ++fetch_calls_;
    const BlockScript script = blocks();
    if (script.hang) {
      // Bounded: the receiver's deadline cancels the call long before.
      for (int i = 0; i < 1200 && !context->IsCancelled(); ++i) {
        absl::SleepFor(absl::Milliseconds(50));
      }
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "hung");
    }
    for (const std::string& hash : request->hashes()) {
      Block block;
      block.set_hash(hash);
      if (script.every_block_bytes > 0) {
        block.set_found(true);
        block.mutable_data()->assign(script.every_block_bytes, 'f');
      } else if (auto it = script.data_by_hash.find(hash); it != script.data_by_hash.end()) {
        block.set_found(true);
        block.set_data(it->second);
      }
      if (!writer->Write(block)) return grpc::Status::OK;
    }
    for (int i = 0; i < script.extra_blocks; ++i) {
      Block block;
      block.set_hash(std::string(kSha256Size, 'x'));
      block.set_found(true);
      block.set_data("unrequested");
      if (!writer->Write(block)) break;
    }
    return grpc::Status::OK;
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Changes(grpc::CallbackServerContext*,
                                                      const grpc::ByteBuffer* raw_request) override {
    ++streams_opened_;
    ChangesRequest request;
    grpc::ByteBuffer copy = *raw_request;
    if (grpc::SerializationTraits<ChangesRequest>::Deserialize(&copy, &request).ok()) {
      last_since_ = request.since();
    }
    absl::MutexLock lock(&mu_);
    streams_.push_back(std::make_unique<ScriptedStream>(this, script_));
    return streams_.back().get();
  }

  // A new script also ends the streams that sent all of the old one and
  // are held open, so that the client reconnects and gets the new one.
  void set_script(ChangesScript script) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(script);
    std::erase_if(streams_, [](const std::unique_ptr<ScriptedStream>& s) { return s->done(); });
    for (const auto& stream : streams_) stream->EndIfIdle();
  }
  void set_hello(const std::string& cluster, uint64_t node) {
    absl::MutexLock lock(&mu_);
    hello_cluster_ = cluster;
    hello_node_ = node;
  }
  void set_blocks(BlockScript blocks) {
    absl::MutexLock lock(&mu_);
    blocks_ = std::move(blocks);
  }
  BlockScript blocks() {
    absl::MutexLock lock(&mu_);
    return blocks_;
  }

  std::atomic<int> streams_opened_{0};
  std::atomic<int> streams_dropped_{0};
  std::atomic<int> fetch_calls_{0};
  std::atomic<uint64_t> last_since_{0};
  static constexpr uint64_t kAnnouncedHead = 1'000'000;

 private:
  // One Changes stream: writes the script's messages one at a time, then
  // ends or holds the stream open until the client goes away or the script
  // changes. Owned by the service (OnDone only marks it done, so that a
  // Finish issued under the service's lock may complete inline).
  class ScriptedStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
   public:
    ScriptedStream(FakeReplicationService* service, ChangesScript script)
        : service_(service), script_(std::move(script)) {
      WriteNext();
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        // The client hung up (or refused what we sent) mid-stream.
        Dropped();
        FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "client gone"));
        return;
      }
      WriteNext();
    }
    void OnCancel() override {
      Dropped();
      FinishOnce(grpc::Status::CANCELLED);
    }
    void OnDone() override { done_ = true; }

    bool done() const { return done_; }
    void EndIfIdle() {
      if (idle_) FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "script changed"));
    }

   private:
    void WriteNext() {
      if (next_ < script_.messages.size()) {
        grpc::Slice slice(script_.messages[next_++]);
        buffer_ = grpc::ByteBuffer(&slice, 1);
        StartWrite(&buffer_);
        return;
      }
      if (!script_.hold_open) {
        FinishOnce(grpc::Status::OK);
      } else {
        idle_ = true;
      }
    }
    void Dropped() {
      if (!dropped_.exchange(true)) ++service_->streams_dropped_;
    }
    void FinishOnce(const grpc::Status& status) {
      if (!finished_.exchange(true)) Finish(status);
    }

    FakeReplicationService* service_;
    ChangesScript script_;
    size_t next_ = 0;
    grpc::ByteBuffer buffer_;
    std::atomic<bool> idle_{false};
    std::atomic<bool> dropped_{false};
    std::atomic<bool> finished_{false};
    std::atomic<bool> done_{false};
  };

  absl::Mutex mu_;
  ChangesScript script_ ABSL_GUARDED_BY(mu_);
  BlockScript blocks_ ABSL_GUARDED_BY(mu_);
  std::string hello_cluster_ ABSL_GUARDED_BY(mu_) = "replfs";
  uint64_t hello_node_ ABSL_GUARDED_BY(mu_) = FakePeer::kNodeId;
  std::vector<std::unique_ptr<ScriptedStream>> streams_ ABSL_GUARDED_BY(mu_);
};

FakePeer::FakePeer() : service_(std::make_unique<FakeReplicationService>()) {}

FakePeer::~FakePeer() {
  if (server_ != nullptr) {
    // Held-open streams are cancelled by the deadline.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
}

absl::Status FakePeer::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  // Oversized-message tests send more than the replica accepts.
  builder.SetMaxSendMessageSize(-1);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) return absl::UnavailableError("fake peer cannot listen");
  return absl::OkStatus();
}

std::string FakePeer::address() const { return absl::StrCat("127.0.0.1:", port_); }
void FakePeer::SetScript(ChangesScript script) { service_->set_script(std::move(script)); }
void FakePeer::SetBlocks(BlockScript blocks) { service_->set_blocks(std::move(blocks)); }
void FakePeer::SetHello(const std::string& cluster, uint64_t node) {
  service_->set_hello(cluster, node);
}
int FakePeer::streams_opened() const { return service_->streams_opened_.load(); }
int FakePeer::streams_dropped() const { return service_->streams_dropped_.load(); }
int FakePeer::fetch_calls() const { return service_->fetch_calls_.load(); }
uint64_t FakePeer::last_since() const { return service_->last_since_.load(); }

bool FakePeer::WaitForDroppedStreams(int count, absl::Duration timeout) const {
  return WaitUntil([&] { return streams_dropped() >= count; }, timeout);
}

// ---- Entries ----

uint64_t HlcFromNow(absl::Duration offset) {
  const int64_t ms = absl::ToUnixMillis(absl::Now() + offset);
  return static_cast<uint64_t>(ms) << 16;
}

namespace {

Entry LiveEntry(const std::string& path, Kind kind, uint64_t hlc, uint32_t mode) {
  Entry e;
  e.set_path(path);
  Content* c = e.mutable_content();
  c->set_kind(kind);
  c->mutable_version()->set_hlc(hlc);
  c->mutable_version()->set_node(FakePeer::kNodeId);
  VersionVectorItem* item = c->add_vector();
  item->set_node(FakePeer::kNodeId);
  item->set_counter(1);
  c->set_mtime_ns(1'600'000'000'000'000'000);
  Attributes* a = e.mutable_attributes();
  a->mutable_version()->set_hlc(hlc);
  a->mutable_version()->set_node(FakePeer::kNodeId);
  a->set_mode(mode);
  a->set_uid(::getuid());
  a->set_gid(::getgid());
  return e;
}

}  // namespace

Entry InlineFileEntry(const std::string& path, const std::string& data, uint64_t hlc) {
  Entry e = LiveEntry(path, KIND_FILE, hlc, 0644);
  e.mutable_content()->set_is_inline(true);
  e.mutable_content()->set_size(data.size());
  e.mutable_content()->set_inline_data(data);
  return e;
}

Entry BlockFileEntry(const std::string& path, uint64_t size, const std::vector<std::string>& hashes,
                     uint64_t hlc) {
  Entry e = LiveEntry(path, KIND_FILE, hlc, 0644);
  e.mutable_content()->set_size(size);
  e.mutable_content()->set_block_size(kBlockSize);
  for (const std::string& h : hashes) e.mutable_content()->add_block_hashes(h);
  return e;
}

Entry DirEntry(const std::string& path, uint64_t hlc) { return LiveEntry(path, KIND_DIR, hlc, 0755); }

Entry SymlinkEntry(const std::string& path, const std::string& target, uint64_t hlc) {
  Entry e = LiveEntry(path, KIND_SYMLINK, hlc, 0777);
  e.mutable_content()->set_symlink_target(target);
  e.mutable_content()->set_size(target.size());
  return e;
}

Entry TombstoneEntry(const std::string& path, uint64_t hlc) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(KIND_TOMBSTONE);
  e.mutable_content()->mutable_version()->set_hlc(hlc);
  e.mutable_content()->mutable_version()->set_node(FakePeer::kNodeId);
  VersionVectorItem* item = e.mutable_content()->add_vector();
  item->set_node(FakePeer::kNodeId);
  item->set_counter(2);
  return e;
}

std::string BatchBytes(std::vector<Entry> entries, uint64_t first_seq) {
  ChangeBatch batch;
  uint64_t seq = first_seq;
  for (Entry& e : entries) {
    e.set_seq(seq++);
    *batch.add_entries() = std::move(e);
  }
  batch.set_head_seq(seq - 1);
  batch.set_hlc(HlcFromNow());
  return batch.SerializeAsString();
}

// ---- A real replica ----

absl::StatusOr<ReplicaStatus> AdminStatus(const std::string& backing) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      absl::StrCat("unix:", backing, "/.replfs/admin.sock"), grpc::InsecureChannelCredentials());
  std::unique_ptr<Admin::Stub> stub = Admin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ReplicaStatus status;
  grpc::Status s = stub->Status(&context, StatusRequest(), &status);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("admin status: ", s.error_message()));
  return status;
}

absl::StatusOr<PeerStatus> PeerStatusFor(const std::string& backing, const std::string& address) {
  absl::StatusOr<ReplicaStatus> status = AdminStatus(backing);
  if (!status.ok()) return status.status();
  for (const PeerStatus& peer : status->peers()) {
    if (peer.address() == address) return peer;
  }
  return absl::NotFoundError(absl::StrCat("no peer ", address, " in the status"));
}

absl::StatusOr<HelloReply> CallHello(const std::string& address, uint64_t node) {
  std::unique_ptr<Replication::Stub> stub =
      Replication::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HelloRequest request;
  request.set_protocol_version(PROTOCOL_VERSION_CURRENT);
  request.set_cluster("replfs");
  request.set_node(node);
  HelloReply reply;
  grpc::Status s = stub->Hello(&context, request, &reply);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("hello: ", s.error_message()));
  return reply;
}

// ---- Helpers ----

std::set<std::string> TreeListing(const std::string& root, const std::set<std::string>& skip) {
  namespace fs = std::filesystem;
  std::set<std::string> lines;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(root).string();
    if (skip.contains(rel)) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    std::string line = absl::StrCat(rel, " mode=", absl::Hex(st.st_mode));
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(it->path(), std::ios::binary);
      std::stringstream data;
      data << in.rdbuf();
      absl::StrAppend(&line, " size=", st.st_size, " sha256=",
                      absl::BytesToHexString(Sha256(data.str())));
    } else if (S_ISLNK(st.st_mode)) {
      absl::StrAppend(&line, " -> ", fs::read_symlink(it->path(), ec).string());
    }
    lines.insert(line);
  }
  if (ec) lines.insert(absl::StrCat("walk error: ", ec.message()));
  return lines;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  // kill(pid, 0) succeeds for a zombie too: read its state instead.
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  std::getline(in, stat);
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' &&
         stat[paren + 2] != 'X';
}

}  // namespace replfs::testing
