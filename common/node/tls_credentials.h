// TLS material for LIP nodes and clients, loaded from PEM files and checked
// with OpenSSL before gRPC sees it, so that a bad file fails at startup with a
// message naming the file instead of as an opaque handshake failure later.
//
// Servers REQUIRE a client certificate and VERIFY it against the CA (mutual
// TLS); the caller's role is then read from that certificate (peer_identity.h).
// Plaintext exists only behind an explicit `insecure` switch for local
// development.
//
// Errors: NOT_FOUND for a missing file, PERMISSION_DENIED for an unreadable
// one, INVALID_ARGUMENT for bad PEM, a key that does not match the
// certificate, or a certificate not signed by the CA. Thread-safety: the
// functions are pure; results may be shared.
#ifndef LIP_COMMON_NODE_TLS_CREDENTIALS_H_
#define LIP_COMMON_NODE_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/statusor.h"

namespace lip {

class TlsReloader;  // common/node/tls_reloader.h

// Paths of one node's TLS files. All three are required unless `insecure`.
struct TlsOptions {
  std::string cert_file;  // this node's certificate chain (PEM)
  std::string key_file;   // its private key (PEM)
  std::string ca_file;    // CA certificate(s) that sign every LIP node (PEM)
  // Plaintext, no authentication: only for local development. Default false.
  bool insecure = false;
  // Client only: the name to verify in the server certificate instead of the
  // host of the address (e.g. "localhost"). Empty = the address's host.
  std::string server_name_override;
  // Set (by a node at start-up): credentials take their material from this reloader,
  // which watches the three files above, instead of reading them once; a rotated
  // certificate is then used without a restart (common/node/tls_reloader.h).
  std::shared_ptr<TlsReloader> reloader;
};

// The PEM texts after validation.
struct TlsMaterial {
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string ca_pem;
};

// Reads a whole file. NOT_FOUND / PERMISSION_DENIED / INTERNAL naming the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Loads and validates the three files: each parses as PEM, the key matches the
// certificate, and the certificate verifies against the CA.
absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsOptions& options);

// Server credentials that require and verify client certificates.
// With options.insecure: grpc::InsecureServerCredentials(). With options.reloader:
// gRPC's TLS credentials watching the reloader's material (already validated).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options);

// Client credentials presenting this node's certificate and trusting the CA
// (the server's certificate must name the host, or server_name_override).
// With options.insecure: grpc::InsecureChannelCredentials(). With options.reloader:
// as for MakeServerCredentials.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsOptions& options);

// A channel to `address` with MakeChannelCredentials(options), honouring
// server_name_override, with `args` (other channel settings) on top. The channel
// connects lazily.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& address, const TlsOptions& options,
    grpc::ChannelArguments args = grpc::ChannelArguments());

}  // namespace lip

#endif  // LIP_COMMON_NODE_TLS_CREDENTIALS_H_
