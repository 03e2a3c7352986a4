#ifndef REPLFS_TESTS_HTTP_CLIENT_H_
#define REPLFS_TESTS_HTTP_CLIENT_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace replfs::testing {

struct HttpResponse {
  int status = 0;           // 200, 403, 404...
  std::string headers;      // Raw header block, without the status line.
  std::string body;         // Exactly Content-Length bytes (or the de-chunked body).
};

// One HTTP/1.1 GET to 127.0.0.1:`port` with `Connection: close`, over a plain
// blocking socket. `target` is the request target as sent ("/a/b.html"). The
// whole exchange is bounded by `timeout`. A response cut short (fewer body
// bytes than its Content-Length, an unterminated chunked body) is an error,
// never a shorter body: tests compare bodies byte for byte.
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_HTTP_CLIENT_H_
