#include "daemon/replication_options.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace replfs {
namespace {

absl::Status CheckHostPort(const std::string& what, const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be HOST:PORT, got '", host_port, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

void AppendPeerList(const std::string& list, std::vector<std::string>* peers) {
  for (absl::string_view peer : absl::StrSplit(list, absl::ByAnyChar("; "), absl::SkipEmpty())) {
    peers->emplace_back(peer);
  }
}

bool IsLoopbackAddress(const std::string& host_port) {
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  // A literal IPv4 address in 127.0.0.0/8 (not a name like 127.example.com).
  in_addr address{};
  return ::inet_pton(AF_INET, host.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

absl::Status CheckReplicationOptions(const ReplicationOptions& options) {
  for (const std::string& p : options.peers) {
    if (absl::Status s = CheckHostPort("a peer", p); !s.ok()) return s;
  }
  for (const std::string& p : options.fallback_peers) {
    if (absl::Status s = CheckHostPort("a fallback peer", p); !s.ok()) return s;
    if (std::find(options.peers.begin(), options.peers.end(), p) != options.peers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, " is both a peer and a fallback peer; list it once"));
    }
  }
  if (!options.fallback_peers.empty() && options.peers.empty()) {
    return absl::InvalidArgumentError(
        "fallback_peers are used only while the peers= are silent; give peers= as well");
  }
  const int tls_given = !options.tls_ca.empty() + !options.tls_cert.empty() + !options.tls_key.empty();
  if (tls_given != 0 && tls_given != 3) {
    return absl::InvalidArgumentError("TLS needs all of tls_ca=, tls_cert= and tls_key=");
  }
  if (!options.listen.empty()) {
    if (absl::Status s = CheckHostPort("listen", options.listen); !s.ok()) return s;
    if (!options.insecure && options.tls_ca.empty() && !IsLoopbackAddress(options.listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to serve replication on non-loopback address ", options.listen,
          " without TLS; pass -o insecure to allow plaintext on a trusted network"));
    }
  }
  if (!options.metrics.empty()) {
    if (absl::Status s = CheckHostPort("metrics", options.metrics); !s.ok()) return s;
    // With TLS they are served over mutual TLS (see MetricsServer), else plain HTTP.
    if (!options.insecure && options.tls_ca.empty() && !IsLoopbackAddress(options.metrics)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to serve metrics on non-loopback address ", options.metrics,
          " without TLS: they would be plain HTTP; give tls_ca=, tls_cert= and tls_key= to "
          "serve them over mutual TLS, or pass -o insecure on a trusted network"));
    }
  }
  return absl::OkStatus();
}

absl::Status ResolveTlsFiles(ReplicationOptions* options) {
  for (std::string* file : {&options->tls_ca, &options->tls_cert, &options->tls_key}) {
    if (file->empty()) continue;
    char resolved[PATH_MAX];
    if (::realpath(file->c_str(), resolved) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("TLS file ", *file, ": ", std::strerror(errno)));
    }
    *file = resolved;
  }
  return absl::OkStatus();
}

}  // namespace replfs
