#include "tests/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/unique_fd.h"

namespace replfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, at least 0.
int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status WaitReady(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, RemainingMs(deadline));
    if (r > 0) return absl::OkStatus();
    if (r == 0) return absl::DeadlineExceededError("HTTP exchange timed out");
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "poll");
  }
}

absl::StatusOr<UniqueFd> Connect(int port, Clock::time_point deadline) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS) return absl::ErrnoToStatus(errno, absl::StrCat("connect to port ", port));
    if (absl::Status s = WaitReady(fd.get(), POLLOUT, deadline); !s.ok()) return s;
    int error = 0;
    socklen_t length = sizeof(error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return absl::ErrnoToStatus(errno, "getsockopt");
    }
    if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("connect to port ", port));
  }
  return fd;
}

absl::Status SendAll(int fd, const std::string& data, Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (absl::Status s = WaitReady(fd, POLLOUT, deadline); !s.ok()) return s;
    } else {
      return absl::ErrnoToStatus(errno, "send");
    }
  }
  return absl::OkStatus();
}

// Everything the server sends until it closes the connection.
absl::StatusOr<std::string> ReceiveAll(int fd, Clock::time_point deadline) {
  std::string received;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      received.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      return received;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = WaitReady(fd, POLLIN, deadline); !s.ok()) return s;
    } else {
      return absl::ErrnoToStatus(errno, "recv");
    }
  }
}

// The value of header `name` (case-insensitive), if present.
std::optional<std::string> HeaderValue(const std::string& headers, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)), name)) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> Dechunk(absl::string_view raw) {
  std::string body;
  for (;;) {
    const size_t line_end = raw.find("\r\n");
    if (line_end == absl::string_view::npos) return absl::DataLossError("unterminated chunked body");
    absl::string_view size_text = raw.substr(0, line_end);
    size_text = size_text.substr(0, size_text.find(';'));
    const std::string size_string(absl::StripAsciiWhitespace(size_text));
    char* end = nullptr;
    const unsigned long long size = std::strtoull(size_string.c_str(), &end, 16);
    if (size_string.empty() || end == nullptr || *end != '\0') {
      return absl::DataLossError("bad chunk size");
    }
    raw.remove_prefix(line_end + 2);
    if (size == 0) return body;
    if (raw.size() < size + 2) return absl::DataLossError("chunked body cut short");
    const absl::string_view chunk = raw.substr(0, size);
    body.append(chunk.data(), chunk.size());
    raw.remove_prefix(size + 2);
  }
}

absl::StatusOr<HttpResponse> Parse(const std::string& raw) {
  const size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) {
    return absl::DataLossError(absl::StrCat("no complete header in ", raw.size(), " bytes"));
  }
  const size_t status_end = raw.find("\r\n");
  const std::vector<std::string> status_line =
      absl::StrSplit(raw.substr(0, status_end), absl::MaxSplits(' ', 2));
  HttpResponse response;
  if (status_line.size() < 2 || !status_line[0].starts_with("HTTP/1.") ||
      !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", raw.substr(0, status_end)));
  }
  response.headers = raw.substr(status_end + 2, header_end - status_end - 2);
  const std::string rest = raw.substr(header_end + 4);
  const std::optional<std::string> encoding = HeaderValue(response.headers, "Transfer-Encoding");
  if (encoding && absl::EqualsIgnoreCase(*encoding, "chunked")) {
    absl::StatusOr<std::string> body = Dechunk(rest);
    if (!body.ok()) return body.status();
    response.body = std::move(*body);
    return response;
  }
  if (const std::optional<std::string> length = HeaderValue(response.headers, "Content-Length")) {
    size_t expected = 0;
    if (!absl::SimpleAtoi(*length, &expected)) return absl::DataLossError("bad Content-Length");
    if (rest.size() != expected) {
      return absl::DataLossError(absl::StrCat("body has ", rest.size(), " bytes, Content-Length says ",
                                              expected));
    }
  }
  response.body = rest;
  return response;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  absl::StatusOr<UniqueFd> fd = Connect(port, deadline);
  if (!fd.ok()) return fd.status();
  const std::string request = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                           "\r\nConnection: close\r\nUser-Agent: replfs-test\r\n\r\n");
  if (absl::Status s = SendAll(fd->get(), request, deadline); !s.ok()) return s;
  absl::StatusOr<std::string> raw = ReceiveAll(fd->get(), deadline);
  if (!raw.ok()) return raw.status();
  return Parse(*raw);
}

}  // namespace replfs::testing
