#include "tests/simulation/simulation.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "replication/feed_entry.h"
#include "replication/remote_applier.h"
#include "storage/beneath.h"
#include "storage/content_hasher.h"
#include "storage/register_compare.h"
#include "storage/version.h"
#include "tests/simulation/sim_replica.h"
#include "tests/simulation/sim_tree.h"

namespace replfs::sim {
namespace {

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

// A per-seed folder, removed whatever happens.
class SeedDir {
 public:
  SeedDir(const std::string& root, uint64_t seed, bool keep) : keep_(keep) {
    std::string templ = absl::StrCat(root, "/replfs-sim-", seed, "-XXXXXX");
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~SeedDir() {
    if (path_.empty() || keep_) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  SeedDir(const SeedDir&) = delete;
  SeedDir& operator=(const SeedDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_;
};

// A file content version that had to be kept as a conflict copy on a replica.
struct RequiredCopy {
  size_t replica;
  std::string path;
  Content loser;
  std::string why;
};

class Simulation {
 public:
  explicit Simulation(const SimulationOptions& options)
      : options_(options), rng_(options.seed) {}

  SimulationResult Run();

 private:
  uint64_t Uniform(uint64_t low, uint64_t high) {  // Inclusive.
    return std::uniform_int_distribution<uint64_t>(low, high)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& from) {
    return from[Uniform(0, from.size() - 1)];
  }

  void Trace(const std::string& line) {
    const std::string stamped = absl::StrFormat("[t=%d] %s", sim_time_ms_, line);
    if (options_.verbose) std::fprintf(stderr, "%s\n", stamped.c_str());
    trace_.push_back(stamped);
  }
  absl::Status Fail(const std::string& what) { return absl::InternalError(what); }

  absl::Status Setup(const std::string& dir);
  absl::Status RandomPhase();
  absl::Status Quiesce();
  absl::Status Check();

  std::string RandomPath();
  std::string PickPath(size_t r);
  std::string RandomData(uint64_t size);
  absl::Status LocalOp(size_t r);
  // Adds what replica r committed after `seq_before` to the history.
  absl::Status Collect(size_t r, uint64_t seq_before);
  // Delivers up to `limit` entries of `sender`'s log after `receiver`'s
  // checkpoint. Sets *applied_any when the receiver committed something.
  // While `unserving_allowed`, the sender sometimes no longer serves the
  // blocks a file entry needs: the receiver sets the entry aside.
  absl::Status Deliver(size_t receiver, size_t sender, size_t limit, bool unserving_allowed,
                       bool* applied_any);
  // Replica r tries every entry it set aside again, fetching from any
  // replica. Sets *changed_any when it committed or dropped a record.
  absl::Status RetrySetAside(size_t r, bool* changed_any);
  // The file versions visible on replica r at `paths` or their ancestors
  // (what applying entries of these paths may replace).
  absl::StatusOr<std::map<std::string, Entry>> VisibleFiles(size_t r,
                                                            const std::vector<std::string>& paths);
  // Losers are not lost (DESIGN.md): each file version in `visible` that is
  // now replaced by one not descending from it (or displaced by a live
  // descendant) must be kept as a conflict copy on replica r.
  absl::Status RequireLosersKept(size_t r, const std::map<std::string, Entry>& visible);
  uint64_t SetAsideCount(size_t r);

  SimulationOptions options_;
  std::mt19937_64 rng_;
  uint64_t sim_time_ms_ = 0;
  std::vector<std::unique_ptr<SimReplica>> replicas_;
  std::vector<std::pair<size_t, size_t>> links_;  // Directed: (receiver, sender).
  VersionHistory history_;
  std::vector<RequiredCopy> required_copies_;
  std::vector<std::string> patterns_;  // 1 MiB blocks big files are made of.
  int big_writes_left_ = 2;
  std::vector<std::string> trace_;
  SimulationResult result_;
};

absl::Status Simulation::Setup(const std::string& dir) {
  const size_t count = Uniform(3, 5);
  std::set<uint64_t> ids;
  for (size_t i = 0; i < count; ++i) {
    uint64_t id = 0;
    while (id == 0 || ids.contains(id)) id = Uniform(1, ~uint64_t{0} >> 1);
    ids.insert(id);
    // Skewed wall clocks, within the 60 s a peer may be ahead.
    const int64_t skew = Chance(0.3) ? 0 : static_cast<int64_t>(Uniform(0, 6000)) - 3000;
    absl::StatusOr<std::unique_ptr<SimReplica>> replica =
        SimReplica::Create(absl::StrCat(dir, "/r", i), id, skew, &sim_time_ms_);
    if (!replica.ok()) return replica.status();
    Trace(absl::StrFormat("replica %d: node %016x skew %d ms", i, id, skew));
    replicas_.push_back(std::move(*replica));
  }
  const uint64_t topology = Uniform(0, 3);
  std::vector<std::pair<size_t, size_t>> edges;
  if (topology <= 1) {  // Full mesh.
    for (size_t a = 0; a < count; ++a) {
      for (size_t b = a + 1; b < count; ++b) edges.emplace_back(a, b);
    }
    Trace("topology: full mesh");
  } else if (topology == 2) {  // Chain: changes are forwarded through the middle.
    for (size_t a = 0; a + 1 < count; ++a) edges.emplace_back(a, a + 1);
    Trace("topology: chain");
  } else {  // Hub and spoke around replica 0.
    for (size_t a = 1; a < count; ++a) edges.emplace_back(0, a);
    Trace("topology: star around r0");
  }
  for (auto [a, b] : edges) {
    links_.emplace_back(a, b);
    links_.emplace_back(b, a);
  }
  result_.replicas = static_cast<int>(count);
  return absl::OkStatus();
}

std::string Simulation::RandomPath() {
  static const std::vector<std::string> kNames = {"a", "b", "c"};
  const uint64_t roll = Uniform(0, 99);
  const int depth = roll < 45 ? 1 : roll < 80 ? 2 : 3;
  std::string path;
  for (int i = 0; i < depth; ++i) absl::StrAppend(&path, i == 0 ? "" : "/", Pick(kNames));
  return path;
}

std::string Simulation::PickPath(size_t r) {
  if (Chance(0.6)) {
    std::vector<std::string> live;
    absl::Status s = replicas_[r]->store().ScanEntries("", [&](const Entry& e) {
      if (IsLive(e)) live.push_back(e.path());
      return true;
    });
    if (s.ok() && !live.empty()) return Pick(live);
  }
  return RandomPath();
}

std::string Simulation::RandomData(uint64_t size) {
  std::string data(size, '\0');
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t word = rng_();
    for (uint64_t j = 0; j < 8 && i + j < size; ++j) {
      data[i + j] = static_cast<char>((word >> (8 * j)) & 0xff);
    }
  }
  return data;
}

absl::Status Simulation::LocalOp(size_t r) {
  SimReplica& replica = *replicas_[r];
  const uint64_t seq_before = replica.store().LastSeq();
  const uint64_t roll = Uniform(0, 99);
  std::string description;
  absl::StatusOr<bool> done = false;
  if (roll < 30) {
    const std::string path = PickPath(r);
    std::string data;
    uint64_t offset = 0;
    bool truncate = Chance(0.5);
    if (big_writes_left_ > 0 && Chance(0.04)) {
      // A multi-block file, made of shared 1 MiB blocks plus a unique tail,
      // so renames and copies find blocks locally.
      --big_writes_left_;
      while (patterns_.size() < 3) patterns_.push_back(RandomData(kBlockSize));
      const uint64_t blocks = Uniform(1, 2);
      for (uint64_t i = 0; i < blocks; ++i) data += Pick(patterns_);
      data += RandomData(Uniform(1, kBlockSize / 2));
      truncate = true;
    } else {
      const uint64_t size_roll = Uniform(0, 99);
      data = RandomData(size_roll < 75 ? Uniform(0, 200) : Uniform(200, 7000));
      if (!truncate) {
        struct stat st;
        std::string name;
        absl::StatusOr<UniqueFd> parent = OpenParentBeneath(replica.root_fd(), path, false, &name);
        if (parent.ok() && ::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
          offset = Uniform(0, static_cast<uint64_t>(st.st_size));
        }
      }
    }
    description = absl::StrFormat("write %s offset=%d len=%d%s", path, offset, data.size(),
                                  truncate ? " (truncating)" : "");
    done = replica.Write(path, offset, data, truncate);
  } else if (roll < 37) {
    const std::string path = PickPath(r);
    const uint64_t size = Chance(0.3) ? 0 : Uniform(0, 6000);
    description = absl::StrFormat("truncate %s %d", path, size);
    done = replica.Truncate(path, size);
  } else if (roll < 47) {
    const std::string path = PickPath(r);
    description = absl::StrFormat("unlink %s", path);
    done = replica.Unlink(path);
  } else if (roll < 59) {
    const std::string path = RandomPath();
    static const std::vector<mode_t> kModes = {0755, 0700, 0750, 0775};
    const mode_t mode = Pick(kModes);
    description = absl::StrFormat("mkdir %s %04o", path, mode);
    done = replica.Mkdir(path, mode);
  } else if (roll < 67) {
    const std::string path = PickPath(r);
    description = absl::StrFormat("rmdir %s", path);
    done = replica.Rmdir(path);
  } else if (roll < 84) {
    const std::string from = PickPath(r);
    const std::string to = Chance(0.5) ? RandomPath() : PickPath(r);
    const bool exchange = roll >= 79;
    const unsigned int flags = exchange ? RENAME_EXCHANGE : Chance(0.2) ? RENAME_NOREPLACE : 0;
    description = absl::StrFormat("%s %s -> %s", exchange ? "exchange" : "rename", from, to);
    done = replica.Rename(from, to, flags);
  } else if (roll < 90) {
    const std::string path = RandomPath();
    static const std::vector<std::string> kTargets = {"a", "../b", "x/y/z", "c"};
    const std::string& target = Pick(kTargets);
    description = absl::StrFormat("symlink %s -> %s", path, target);
    done = replica.Symlink(target, path);
  } else {
    const std::string path = PickPath(r);
    static const std::vector<mode_t> kModes = {0644, 0600, 0640, 0755, 0700, 0750};
    const mode_t mode = Pick(kModes);
    description = absl::StrFormat("chmod %s %04o", path, mode);
    done = replica.Chmod(path, mode);
  }
  if (!done.ok()) {
    return Fail(absl::StrFormat("r%d %s: %s", r, description, done.status().ToString()));
  }
  Trace(absl::StrFormat("r%d %s%s", r, description, *done ? "" : " (refused natively)"));
  if (*done) ++result_.local_ops;
  return Collect(r, seq_before);
}

absl::Status Simulation::Collect(size_t r, uint64_t seq_before) {
  return replicas_[r]->store().ScanChanges(seq_before, [&](const Entry& e) {
    history_.Add(e);
    if (options_.verbose) {
      Trace(absl::StrFormat("  r%d commits %s %s v=%s attrs=%s mode=%04o", r, e.path(),
                            Kind_Name(e.content().kind()),
                            VersionToString(e.content().version()),
                            VersionToString(e.attributes().version()), e.attributes().mode()));
    }
    return true;
  });
}

namespace {

bool IsRegularFileAt(int root_fd, const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd, path, false, &name);
  struct stat st;
  return parent.ok() && ::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

}  // namespace

absl::StatusOr<std::map<std::string, Entry>> Simulation::VisibleFiles(
    size_t r, const std::vector<std::string>& paths) {
  SimReplica& replica = *replicas_[r];
  std::map<std::string, Entry> visible;
  for (std::string path : paths) {
    for (;;) {
      absl::StatusOr<std::optional<Entry>> local = replica.store().Get(path);
      if (!local.ok()) return local.status();
      if (local->has_value() && (*local)->content().kind() == KIND_FILE &&
          IsRegularFileAt(replica.root_fd(), path)) {
        visible.emplace(path, **local);
      }
      const size_t slash = path.rfind('/');
      if (slash == std::string::npos) break;
      path.resize(slash);
    }
  }
  return visible;
}

absl::Status Simulation::RequireLosersKept(size_t r, const std::map<std::string, Entry>& visible) {
  SimReplica& replica = *replicas_[r];
  for (const auto& [path, before] : visible) {
    absl::StatusOr<std::optional<Entry>> after = replica.store().Get(path);
    if (!after.ok()) return after.status();
    std::string why;
    if (!after->has_value()) {
      why = "entry vanished";
    } else if (CompareVersions((*after)->content().version(), before.content().version()) == 0) {
      if (!IsRegularFileAt(replica.root_fd(), path)) why = "displaced by a live descendant";
    } else if (!SameContent(before.content(), (*after)->content()) &&
               !VectorDominates((*after)->content().vector(), before.content().vector())) {
      why = absl::StrCat("replaced by concurrent ", Kind_Name((*after)->content().kind()), " ",
                         VersionToString((*after)->content().version()));
    }
    if (why.empty()) continue;
    Trace(absl::StrFormat("  r%d must keep %s %s as a conflict copy (%s)", r, path,
                          VersionToString(before.content().version()), why));
    required_copies_.push_back({r, path, before.content(), why});
  }
  return absl::OkStatus();
}

uint64_t Simulation::SetAsideCount(size_t r) {
  uint64_t count = 0;
  (void)replicas_[r]->store().ScanSetAside("", [&](const SetAsideRecord&) {
    ++count;
    return true;
  });
  return count;
}

absl::Status Simulation::Deliver(size_t receiver, size_t sender, size_t limit,
                                 bool unserving_allowed, bool* applied_any) {
  SimReplica& to = *replicas_[receiver];
  SimReplica& from = *replicas_[sender];
  absl::StatusOr<uint64_t> checkpoint = to.store().GetCheckpoint(from.node_id());
  if (!checkpoint.ok()) return checkpoint.status();
  std::vector<Entry> batch;
  uint64_t last = *checkpoint;
  absl::Status feed_error;
  absl::Status scan = from.store().ScanChanges(*checkpoint, [&](const Entry& e) {
    absl::StatusOr<Entry> sent = FeedEntry(e, from.store(), from.root_fd());
    if (!sent.ok()) {
      feed_error = sent.status();
      return false;
    }
    batch.push_back(*std::move(sent));
    last = e.seq();
    return batch.size() < limit;
  });
  if (scan.ok()) scan = feed_error;
  if (!scan.ok()) return scan;
  if (batch.empty()) return absl::OkStatus();

  std::vector<std::string> paths;
  paths.reserve(batch.size());
  for (const Entry& e : batch) paths.push_back(e.path());
  absl::StatusOr<std::map<std::string, Entry>> visible = VisibleFiles(receiver, paths);
  if (!visible.ok()) return visible.status();

  const uint64_t seq_before = to.store().LastSeq();
  const uint64_t set_aside_before = SetAsideCount(receiver);
  const bool unserving = unserving_allowed && Chance(0.2);
  SimBlockFetcher fetcher(&from, unserving);
  ApplyStats stats;
  if (options_.verbose) {
    std::vector<std::string> names;
    names.reserve(batch.size());
    for (const Entry& e : batch) {
      names.push_back(absl::StrFormat("%s:%s@%s", e.path(), Kind_Name(e.content().kind()),
                                      VersionToString(e.content().version())));
    }
    Trace(absl::StrFormat("deliver r%d -> r%d after seq %d%s: %s", sender, receiver, *checkpoint,
                          unserving ? " (sender serves no blocks)" : "",
                          absl::StrJoin(names, " ")));
  }
  if (absl::Status s = to.Apply(batch, &fetcher, &stats); !s.ok()) {
    return Fail(absl::StrFormat("r%d applying %d entries from r%d: %s", receiver, batch.size(),
                                sender, s.ToString()));
  }
  if (absl::Status s = Collect(receiver, seq_before); !s.ok()) return s;
  *applied_any = to.store().LastSeq() != seq_before;
  ++result_.deliveries;
  result_.moved += static_cast<int>(stats.moved);
  if (stats.set_aside > 0) {
    result_.set_aside += static_cast<int>(stats.set_aside);
    Trace(absl::StrFormat("  r%d set aside %d entries (now %d, was %d)", receiver,
                          stats.set_aside, SetAsideCount(receiver), set_aside_before));
  }
  if (absl::Status s = RequireLosersKept(receiver, *visible); !s.ok()) return s;
  return to.store().PutCheckpoint(from.node_id(), last);
}

absl::Status Simulation::RetrySetAside(size_t r, bool* changed_any) {
  SimReplica& replica = *replicas_[r];
  std::vector<std::string> paths;
  if (absl::Status s = replica.store().ScanSetAside("", [&](const SetAsideRecord& record) {
        paths.push_back(record.entry().path());
        return true;
      });
      !s.ok()) {
    return s;
  }
  if (paths.empty()) return absl::OkStatus();
  absl::StatusOr<std::map<std::string, Entry>> visible = VisibleFiles(r, paths);
  if (!visible.ok()) return visible.status();
  std::vector<SimReplica*> everyone;
  for (const auto& other : replicas_) everyone.push_back(other.get());
  AnyReplicaFetcher fetcher(everyone);
  const uint64_t seq_before = replica.store().LastSeq();
  ApplyStats stats;
  if (absl::Status s = replica.applier().RetrySetAside(&fetcher, 0, /*all=*/true,
                                                       ~size_t{0}, &stats);
      !s.ok()) {
    return Fail(absl::StrFormat("r%d retrying set-aside entries: %s", r, s.ToString()));
  }
  if (absl::Status s = Collect(r, seq_before); !s.ok()) return s;
  const uint64_t left = SetAsideCount(r);
  Trace(absl::StrFormat("r%d retries %d set-aside entries: %d left", r, paths.size(), left));
  *changed_any = replica.store().LastSeq() != seq_before || left != paths.size();
  return RequireLosersKept(r, *visible);
}

absl::Status Simulation::RandomPhase() {
  const uint64_t steps = Uniform(40, 110);
  for (uint64_t step = 0; step < steps; ++step) {
    sim_time_ms_ += Uniform(0, 40);
    const uint64_t roll = Uniform(0, 99);
    if (roll < 50) {
      if (absl::Status s = LocalOp(Uniform(0, replicas_.size() - 1)); !s.ok()) return s;
    } else if (roll < 92) {
      const auto [receiver, sender] = Pick(links_);
      const size_t limit = Chance(0.4) ? ~size_t{0} : Uniform(1, 6);
      bool applied = false;
      if (absl::Status s = Deliver(receiver, sender, limit, /*unserving_allowed=*/true, &applied);
          !s.ok()) {
        return s;
      }
      if (Chance(0.3)) {
        bool changed = false;
        if (absl::Status s = RetrySetAside(receiver, &changed); !s.ok()) return s;
      }
    } else if (roll < 97) {
      // Duplication: the receiver forgets part of what it applied.
      const auto [receiver, sender] = Pick(links_);
      MetadataStore& store = replicas_[receiver]->store();
      absl::StatusOr<uint64_t> checkpoint = store.GetCheckpoint(replicas_[sender]->node_id());
      if (!checkpoint.ok()) return checkpoint.status();
      const uint64_t back_to = Uniform(0, *checkpoint);
      Trace(absl::StrFormat("r%d rewinds its checkpoint on r%d from %d to %d", receiver, sender,
                            *checkpoint, back_to));
      if (absl::Status s = store.PutCheckpoint(replicas_[sender]->node_id(), back_to); !s.ok()) {
        return s;
      }
    } else {
      const size_t r = Uniform(0, replicas_.size() - 1);
      Trace(absl::StrFormat("r%d restarts", r));
      if (absl::Status s = replicas_[r]->Restart(); !s.ok()) return s;
      ++result_.restarts;
    }
  }
  return absl::OkStatus();
}

absl::Status Simulation::Quiesce() {
  // Every round pulls every link's whole log; a round in which no replica
  // commits anything means everyone has seen everything its peers hold.
  const int max_rounds = 4 * static_cast<int>(replicas_.size()) + 4;
  for (int round = 0; round < max_rounds; ++round) {
    sim_time_ms_ += 10;
    bool any = false;
    for (auto [receiver, sender] : links_) {
      bool applied = false;
      if (absl::Status s = Deliver(receiver, sender, ~size_t{0}, /*unserving_allowed=*/false,
                                   &applied);
          !s.ok()) {
        return s;
      }
      any = any || applied;
    }
    for (size_t r = 0; r < replicas_.size(); ++r) {
      bool changed = false;
      if (absl::Status s = RetrySetAside(r, &changed); !s.ok()) return s;
      any = any || changed;
    }
    if (!any) {
      Trace(absl::StrFormat("quiescent after %d full rounds", round + 1));
      return absl::OkStatus();
    }
  }
  return Fail(absl::StrFormat("not quiescent after %d full delivery rounds", max_rounds));
}

absl::Status Simulation::Check() {
  // (0) Every entry set aside was applied or superseded in the end.
  for (size_t r = 0; r < replicas_.size(); ++r) {
    if (const uint64_t left = SetAsideCount(r); left > 0) {
      return Fail(absl::StrFormat("r%d still has %d entries set aside", r, left));
    }
  }
  // (1) Every replica holds the same tree.
  std::vector<Tree> trees;
  for (size_t r = 0; r < replicas_.size(); ++r) {
    absl::StatusOr<Tree> tree = WalkBacking(replicas_[r]->root_fd(), kStateName);
    if (!tree.ok()) return tree.status();
    trees.push_back(std::move(*tree));
  }
  for (size_t r = 1; r < replicas_.size(); ++r) {
    const std::string diff = FirstDifference(trees[0], "r0", trees[r], absl::StrCat("r", r));
    if (!diff.empty()) return Fail(absl::StrCat("replicas differ: ", diff));
  }
  // (2) That tree is the one the LWW rules decide from the set of versions,
  // and every store holds the winning content version of every path.
  const Tree expected = history_.Expected();
  const std::string diff = FirstDifference(expected, "LWW", trees[0], "replicas");
  if (!diff.empty()) return Fail(absl::StrCat("tree is not what LWW decides: ", diff));
  for (const std::string& path : history_.Paths()) {
    const Entry* winner = history_.Winner(path);
    for (size_t r = 0; r < replicas_.size(); ++r) {
      absl::StatusOr<std::optional<Entry>> held = replicas_[r]->store().Get(path);
      if (!held.ok()) return held.status();
      if (!held->has_value() ||
          CompareVersions((*held)->content().version(), winner->content().version()) != 0) {
        return Fail(absl::StrFormat(
            "r%d's store holds %s for %s, the winner is %s", r,
            held->has_value() ? VersionToString((*held)->content().version()) : "nothing", path,
            VersionToString(winner->content().version())));
      }
    }
  }
  // (3) Every required conflict copy exists, with the loser's content.
  for (const RequiredCopy& required : required_copies_) {
    SimReplica& replica = *replicas_[required.replica];
    absl::StatusOr<std::vector<ConflictRecord>> records = replica.applier().conflicts().List();
    if (!records.ok()) return records.status();
    const ConflictRecord* found = nullptr;
    for (const ConflictRecord& record : *records) {
      if (record.path() == required.path &&
          CompareVersions(record.loser().version(), required.loser.version()) == 0) {
        found = &record;
      }
    }
    if (found == nullptr) {
      return Fail(absl::StrFormat("r%d kept no conflict copy of %s %s (%s)", required.replica,
                                  required.path, VersionToString(required.loser.version()),
                                  required.why));
    }
    absl::StatusOr<std::vector<std::string>> hashes =
        BlockHashesOfFile(absl::StrCat(replica.state_path(), "/", found->copy_path()));
    if (!hashes.ok()) {
      return Fail(absl::StrFormat("r%d conflict copy of %s: %s", required.replica, required.path,
                                  hashes.status().ToString()));
    }
    if (*hashes != BlockHashesOf(required.loser)) {
      return Fail(absl::StrFormat("r%d conflict copy of %s %s does not hold the loser's content",
                                  required.replica, required.path,
                                  VersionToString(required.loser.version())));
    }
  }
  result_.conflicts_required = static_cast<int>(required_copies_.size());
  return absl::OkStatus();
}

SimulationResult Simulation::Run() {
  std::string root = options_.temp_root;
  if (root.empty()) {
    struct stat st;
    root = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                                                                : std::filesystem::temp_directory_path().string();
  }
  SeedDir dir(root, options_.seed, options_.keep_temp);
  absl::Status status = dir.path().empty() ? absl::InternalError("cannot create the seed folder")
                                           : Setup(dir.path());
  if (status.ok()) status = RandomPhase();
  if (status.ok()) {
    Trace("full delivery");
    status = Quiesce();
  }
  if (status.ok()) status = Check();
  replicas_.clear();  // Close stores before the folder goes.
  result_.ok = status.ok();
  if (!status.ok()) {
    result_.failure = absl::StrCat(status.message(), "\n--- steps of seed ", options_.seed,
                                   " ---\n", absl::StrJoin(trace_, "\n"));
  }
  return result_;
}

}  // namespace

SimulationResult RunSimulation(const SimulationOptions& options) {
  Simulation simulation(options);
  return simulation.Run();
}

}  // namespace replfs::sim
