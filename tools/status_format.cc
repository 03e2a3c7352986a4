#include "tools/status_format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "proto/version_text.h"
#include "tools/conflict_restore.h"

namespace replfs {
namespace {

// ---- human form ----

std::string Bytes(uint64_t bytes) {
  const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string Duration(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return absl::StrFormat("%.1fs", seconds);
  auto total = static_cast<int64_t>(seconds);
  const int64_t days = total / 86400;
  total %= 86400;
  if (days > 0) return absl::StrFormat("%dd%02dh%02dm", days, total / 3600, total % 3600 / 60);
  if (total >= 3600)
    return absl::StrFormat("%dh%02dm%02ds", total / 3600, total % 3600 / 60, total % 60);
  return absl::StrFormat("%dm%02ds", total / 60, total % 60);
}

std::string Ago(int64_t now_ms, int64_t then_ms) {
  if (then_ms <= 0) return "never";
  return absl::StrCat(Duration(static_cast<double>(now_ms - then_ms) / 1000.0), " ago");
}

std::string Node(uint64_t node) { return node == 0 ? "-" : absl::StrFormat("%016x", node); }

std::string Upper(const char* text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

void PrintConflicts(const ReplicaReport& report, const std::string& mountpoint, std::ostream& out) {
  if (report.conflicts.empty()) {
    out << "  no conflict copies kept\n";
    return;
  }
  out << "  conflict copies (the losing side of concurrent writes):\n";
  for (const ConflictCopy& c : report.conflicts) {
    out << absl::StrFormat(
        "    %s\n      lost:  %s (made on node %s)\n      won:   %s\n      kept:  %s, %s\n"
        "      restore: %s\n",
        c.path(), VersionToString(c.loser_version()), Node(c.origin()),
        VersionToString(c.winner_version()), ConflictSource(report.location.state_dir, c),
        absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", absl::FromUnixMillis(c.saved_unix_ms()),
                         absl::LocalTimeZone()),
        RestoreCommand(report.location.state_dir, mountpoint, c));
  }
  out << "    (or: replfs-status --restore PATH[@VERSION] " << report.location.target
      << "; the copy replicates as a new version)\n";
}

void PrintReplica(const ReplicaReport& report, const FormatOptions& options, std::ostream& out) {
  const std::string headline =
      absl::StrCat(report.location.target, "  ", Upper(HealthName(report.health)));
  out << headline << "\n";
  if (!report.status.has_value()) {
    out << "  state folder  " << report.location.state_dir << "\n";
    out << "  error         " << report.error << "\n\n";
    return;
  }
  const ReplicaStatus& s = *report.status;
  const int64_t now = options.now_unix_ms;
  const std::string mountpoint =
      s.mountpoint().empty() ? report.location.mountpoint : s.mountpoint();
  out << absl::StrFormat("  node          %s   cluster %s\n", Node(s.node()), s.cluster());
  out << absl::StrFormat("  listen        %s\n",
                         s.listen().empty() ? "(not serving peers)" : s.listen());
  out << absl::StrFormat("  mounted       %s on %s\n", s.backing(), mountpoint);
  out << absl::StrFormat("  state folder  %s\n", report.location.state_dir);
  if (!s.data_path().empty()) {
    out << absl::StrFormat("  data path     %s%s\n", s.data_path(),
                           s.data_path_reason().empty() ? "" : " (" + s.data_path_reason() + ")");
  }
  out << absl::StrFormat("  uptime        %s\n",
                         Duration(static_cast<double>(now - s.started_unix_ms()) / 1000.0));
  out << absl::StrFormat("  entries       %d live, %d tombstones; change log at seq %d\n",
                         s.entries(), s.tombstones(), s.head_seq());
  out << absl::StrFormat(
      "  pending       %d local commits, %d remote entries waiting for a "
      "writer to close, %d failed commits\n",
      s.pending_commits(), s.deferred(), s.commit_failures());
  out << absl::StrFormat(
      "  conflicts     %d%s\n", s.conflicts(),
      s.conflicts() > 0 && !options.conflicts ? " (--conflicts lists them)" : "");
  if (s.keep_versions_days() > 0) {
    out << absl::StrFormat(
        "  versions      %d kept, %s (%s, %d %s)%s\n", s.versions_kept(), Bytes(s.versions_bytes()),
        s.versions_max_bytes() > 0 ? "cap " + Bytes(s.versions_max_bytes()) : "no cap",
        s.keep_versions_days(), s.keep_versions_days() == 1 ? "day" : "days",
        s.versions_not_kept() > 0 ? absl::StrCat(", ", s.versions_not_kept(), " not kept") : "");
  }
  out << absl::StrFormat("  served        %s to peers\n", Bytes(s.bytes_served()));
  if (s.ignore_patterns_size() > 0) {
    out << absl::StrFormat("  ignored       '%s' (local to this replica)\n",
                           absl::StrJoin(s.ignore_patterns(), "' '"));
  }
  for (const std::string& warning : s.warnings()) out << "  warning       " << warning << "\n";

  if (s.peers_size() == 0) {
    out << "  peers         none (standalone)\n";
  } else {
    out << absl::StrFormat("  %-22s %-16s %-10s %-22s %-14s %-26s %s\n", "PEER", "NODE", "STATE",
                           "WE LAG (entries, s)", "THEY LAG", "RECEIVED", "LAST CONTACT");
    for (int i = 0; i < s.peers_size(); ++i) {
      const PeerStatus& p = s.peers(i);
      const PeerAssessment& a = report.peers[static_cast<size_t>(i)];
      const std::string incoming =
          absl::StrFormat("%d, %.1fs", a.incoming_lag_entries, a.incoming_lag_seconds);
      const std::string outgoing =
          a.outgoing_lag_entries.has_value() ? absl::StrCat(*a.outgoing_lag_entries) : "?";
      const std::string received =
          absl::StrFormat("%s, %d entries", Bytes(p.bytes_received()), p.entries_received());
      const std::string state = p.state().empty() ? "?" : p.state();
      out << absl::StrFormat("  %-22s %-16s %-10s %-22s %-14s %-26s %s\n", p.address(),
                             Node(p.node()), state, incoming, outgoing, received,
                             Ago(now, p.last_contact_unix_ms()));
      if (p.fallback()) out << "    fallback peer, " << p.use_reason() << "\n";
      if (p.max_rate() > 0) {
        out << "    pulled at most " << Bytes(p.max_rate()) << "/s (-o max_rate)\n";
      }
      if (p.compression() == "gzip") {
        const uint64_t plain = p.bytes_received() + p.bytes_saved_by_compression();
        out << absl::StrFormat("    gzipped: %s received for %s plain (%.0f%% saved)\n",
                               Bytes(p.bytes_received()), Bytes(plain),
                               plain == 0 ? 0.0
                                          : 100.0 * static_cast<double>(
                                                        p.bytes_saved_by_compression()) /
                                                static_cast<double>(plain));
      }
      if (p.state() != "connected" && p.state() != "standby") {
        std::string retry =
            p.last_error().empty() ? "" : absl::StrCat("last error: ", p.last_error());
        if (p.next_attempt_unix_ms() > 0) {
          absl::StrAppend(
              &retry, retry.empty() ? "" : "; ",
              p.next_attempt_unix_ms() > now
                  ? absl::StrCat(
                        "next attempt in ",
                        Duration(static_cast<double>(p.next_attempt_unix_ms() - now) / 1000.0))
                  : "attempting now");
        }
        if (!retry.empty()) out << "    " << retry << "\n";
      }
      if (p.missed_purge_seq() > 0) {
        out << absl::StrFormat(
            "    STALE: this peer had forgotten deletions through its seq %d when this replica "
            "came back; files deleted meanwhile may still be here until it has reconciled\n",
            p.missed_purge_seq());
      }
      if (p.rejected_entries() > 0) {
        out << absl::StrFormat("    rejected %d entries from this peer\n", p.rejected_entries());
      }
      if (p.set_aside_entries() > 0) {
        out << absl::StrFormat("    set aside %d entries from this peer (kept, retried):\n",
                               p.set_aside_entries());
        for (const SetAsideProblem& problem : p.set_aside()) {
          std::string when = "not retried";
          if (problem.next_attempt_unix_ms() > 0) {
            when = problem.next_attempt_unix_ms() > now
                       ? absl::StrCat("next attempt in ",
                                      Duration(static_cast<double>(
                                                   problem.next_attempt_unix_ms() - now) /
                                               1000.0))
                       : "attempting now";
          }
          out << absl::StrFormat("      %s: %s (%d attempts, %s)\n", problem.path(),
                                 problem.reason(), problem.attempts(), when);
        }
      }
    }
  }
  for (const PullingNode& puller : s.pullers()) {
    if (puller.is_peer()) continue;
    out << absl::StrFormat(
        "  pulled by     %s (not a peer of this one), acknowledged seq %d: tombstones after it "
        "are kept for it\n",
        Node(puller.node()), puller.acknowledged_seq());
  }
  for (const std::string& problem : report.problems) out << "  ! " << problem << "\n";
  if (options.conflicts) PrintConflicts(report, mountpoint, out);
  out << "\n";
}

// ---- JSON ----
// Built by hand so that keys keep a readable order; proto messages are
// embedded as MessageToJsonString prints them.

std::string Quote(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string Bool(bool flag) { return flag ? "true" : "false"; }

std::string Number(double number) { return absl::StrFormat("%.3f", number); }

std::string Strings(const std::vector<std::string>& texts) {
  std::vector<std::string> quoted;
  quoted.reserve(texts.size());
  for (const std::string& t : texts) quoted.push_back(Quote(t));
  return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
}

// {"k":v,...} from already-encoded values, in the order given.
std::string Object(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> parts;
  parts.reserve(fields.size());
  for (const auto& [key, value] : fields) parts.push_back(absl::StrCat(Quote(key), ":", value));
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

absl::StatusOr<std::string> ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.always_print_primitive_fields = true;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(message, &json, print); !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot print JSON: ", s.ToString()));
  }
  return json;
}

// Re-indents compact JSON, two spaces a level.
std::string Indent(const std::string& json) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  auto newline = [&] { out += "\n" + std::string(static_cast<size_t>(depth) * 2, ' '); };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(json[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[':
        out.push_back(c);
        if (i + 1 < json.size() && (json[i + 1] == '}' || json[i + 1] == ']')) {
          out.push_back(json[++i]);  // Empty: keep "[]" on one line.
          break;
        }
        ++depth;
        newline();
        break;
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\n':
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string PeerJson(const PeerAssessment& a) {
  return Object({
      {"address", Quote(a.address)},
      {"node", Quote(Node(a.node))},
      {"down", Bool(a.down)},
      {"behind", Bool(a.behind)},
      {"incoming_lag_entries", absl::StrCat(a.incoming_lag_entries)},
      {"incoming_lag_seconds", Number(a.incoming_lag_seconds)},
      {"outgoing_lag_entries",
       a.outgoing_lag_entries.has_value() ? absl::StrCat(*a.outgoing_lag_entries) : "null"},
      {"silent_seconds", Number(a.silent_seconds)},
      {"problems", Strings(a.problems)},
  });
}

absl::StatusOr<std::string> ReplicaJson(const ReplicaReport& report, const FormatOptions& options) {
  std::string status = "null";
  if (report.status.has_value()) {
    absl::StatusOr<std::string> json = ProtoJson(*report.status);
    if (!json.ok()) return json.status();
    status = *std::move(json);
  }
  std::vector<std::string> peers;
  for (const PeerAssessment& a : report.peers) peers.push_back(PeerJson(a));
  std::vector<std::pair<std::string, std::string>> fields = {
      {"target", Quote(report.location.target)},
      {"mountpoint", Quote(report.location.mountpoint)},
      {"state_dir", Quote(report.location.state_dir)},
      {"node", Quote(report.status.has_value() ? Node(report.status->node()) : "-")},
      {"reachable", Bool(report.status.has_value())},
      {"health", Quote(HealthName(report.health))},
      {"problems", Strings(report.problems)},
      {"error", Quote(report.error)},
      {"peers", absl::StrCat("[", absl::StrJoin(peers, ","), "]")},
      {"status", status},
  };
  if (options.conflicts) {
    const std::string mountpoint = report.status.has_value() && !report.status->mountpoint().empty()
                                       ? report.status->mountpoint()
                                       : report.location.mountpoint;
    std::vector<std::string> conflicts;
    for (const ConflictCopy& c : report.conflicts) {
      absl::StatusOr<std::string> copy = ProtoJson(c);
      if (!copy.ok()) return copy.status();
      // Extra keys appended inside the message's object.
      copy->pop_back();
      conflicts.push_back(absl::StrCat(
          *copy, copy->size() > 1 ? "," : "", Quote("name"), ":", Quote(ConflictName(c)), ",",
          Quote("copy_file"), ":", Quote(ConflictSource(report.location.state_dir, c)), ",",
          Quote("restore_command"), ":",
          Quote(RestoreCommand(report.location.state_dir, mountpoint, c)), "}"));
    }
    fields.emplace_back("conflicts", absl::StrCat("[", absl::StrJoin(conflicts, ","), "]"));
  }
  return Object(fields);
}

}  // namespace

void PrintHumanReport(const std::vector<ReplicaReport>& reports, Health overall,
                      const FormatOptions& options, std::ostream& out) {
  for (const ReplicaReport& report : reports) PrintReplica(report, options, out);
  size_t counts[3] = {0, 0, 0};
  for (const ReplicaReport& report : reports) ++counts[static_cast<int>(report.health)];
  out << absl::StrFormat(
      "%s: %d healthy, %d degraded, %d unreachable (lag limits: %.0f s, %d entries)\n",
      Upper(HealthName(overall)), counts[0], counts[1], counts[2],
      options.thresholds.max_lag_seconds, options.thresholds.max_lag_entries);
}

absl::StatusOr<std::string> JsonReport(const std::vector<ReplicaReport>& reports, Health overall,
                                       const FormatOptions& options) {
  std::vector<std::string> replicas;
  for (const ReplicaReport& report : reports) {
    absl::StatusOr<std::string> replica = ReplicaJson(report, options);
    if (!replica.ok()) return replica.status();
    replicas.push_back(*std::move(replica));
  }
  const std::string json = Object({
      {"health", Quote(HealthName(overall))},
      {"exit_code", absl::StrCat(static_cast<int>(overall))},
      {"time_unix_ms", absl::StrCat(options.now_unix_ms)},
      {"thresholds",
       Object({{"max_lag_seconds", Number(options.thresholds.max_lag_seconds)},
               {"max_lag_entries", absl::StrCat(options.thresholds.max_lag_entries)}})},
      {"replicas", absl::StrCat("[", absl::StrJoin(replicas, ","), "]")},
  });
  return options.pretty ? Indent(json) : json;
}

}  // namespace replfs
