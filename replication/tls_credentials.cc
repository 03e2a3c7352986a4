#include "replication/tls_credentials.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace replfs {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string pem = buffer.str();
  if (!absl::StrContains(pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not a PEM file"));
  }
  return pem;
}

}  // namespace

absl::StatusOr<ReplicationCredentials> MakeReplicationCredentials(const TlsFiles& files) {
  ReplicationCredentials credentials;
  if (!files.enabled()) {
    credentials.server = grpc::InsecureServerCredentials();
    credentials.channel = grpc::InsecureChannelCredentials();
    return credentials;
  }
  absl::StatusOr<std::string> ca = ReadPem(files.ca, "CA certificate");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = ReadPem(files.cert, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(files.key, "private key");
  if (!key.ok()) return key.status();

  grpc::SslServerCredentialsOptions server_options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  server_options.pem_root_certs = *ca;
  server_options.pem_key_cert_pairs.push_back({*key, *cert});
  credentials.server = grpc::SslServerCredentials(server_options);

  grpc::SslCredentialsOptions channel_options;
  channel_options.pem_root_certs = *ca;
  channel_options.pem_private_key = *key;
  channel_options.pem_cert_chain = *cert;
  credentials.channel = grpc::SslCredentials(channel_options);
  return credentials;
}

}  // namespace replfs
