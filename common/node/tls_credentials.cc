#include "common/node/tls_credentials.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "absl/strings/str_cat.h"
#include "common/wire/packet_limits.h"
#include "common/node/tls_reloader.h"

namespace lip {
namespace {

std::string OpenSslErrors() {
  std::string out;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

struct BioDeleter { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Deleter { void operator()(X509* x) const { X509_free(x); } };
struct PkeyDeleter { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct StoreDeleter { void operator()(X509_STORE* s) const { X509_STORE_free(s); } };
struct StoreCtxDeleter { void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); } };
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

BioPtr MemBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// All certificates in a PEM text, in order.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem,
                                                       const std::string& path) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemBio(pem);
  while (true) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the loop always ends on a "no start line" error
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path, "\" holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"));
  }
  return certs;
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("file path is empty");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat("\"", path, "\" does not exist"));
    if (error == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat("\"", path, "\" is not readable"));
    }
    return absl::InternalError(absl::StrCat("cannot open \"", path, "\": ", std::strerror(error)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("error reading \"", path, "\""));
  return buffer.str();
}

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty() || options.ca_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TLS needs cert, key and CA files (got cert=\"", options.cert_file, "\", key=\"",
        options.key_file, "\", ca=\"", options.ca_file, "\"); use --insecure only for local development"));
  }
  TlsMaterial material;
  auto cert_pem = ReadFileToString(options.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ReadFileToString(options.key_file);
  if (!key_pem.ok()) return key_pem.status();
  auto ca_pem = ReadFileToString(options.ca_file);
  if (!ca_pem.ok()) return ca_pem.status();

  auto certs = ParseCertificates(*cert_pem, options.cert_file);
  if (!certs.ok()) return certs.status();
  auto cas = ParseCertificates(*ca_pem, options.ca_file);
  if (!cas.ok()) return cas.status();

  BioPtr key_bio = MemBio(*key_pem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", options.key_file, "\" holds no readable PEM private key: ", OpenSslErrors()));
  }
  X509* leaf = (*certs)[0].get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("private key \"", options.key_file,
                                                   "\" does not match certificate \"",
                                                   options.cert_file, "\""));
  }

  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  for (const auto& ca : *cas) X509_STORE_add_cert(store.get(), ca.get());
  STACK_OF(X509)* chain = sk_X509_new_null();
  for (size_t i = 1; i < certs->size(); ++i) sk_X509_push(chain, (*certs)[i].get());
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain);
  const int verified = X509_verify_cert(ctx.get());
  const int verify_error = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(chain);
  ERR_clear_error();
  if (verified != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate \"", options.cert_file, "\" does not verify against CA \"", options.ca_file,
        "\": ", X509_verify_cert_error_string(verify_error)));
  }

  material.cert_chain_pem = *std::move(cert_pem);
  material.private_key_pem = *std::move(key_pem);
  material.ca_pem = *std::move(ca_pem);
  return material;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options) {
  if (options.insecure) return grpc::InsecureServerCredentials();
  if (options.reloader != nullptr) {
    grpc::experimental::TlsServerCredentialsOptions tls(options.reloader->provider());
    tls.watch_root_certs();
    tls.watch_identity_key_cert_pairs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    return grpc::experimental::TlsServerCredentials(tls);
  }
  auto material = LoadTlsMaterial(options);
  if (!material.ok()) return material.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = material->ca_pem;
  ssl.pem_key_cert_pairs.push_back({material->private_key_pem, material->cert_chain_pem});
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsOptions& options) {
  if (options.insecure) return grpc::InsecureChannelCredentials();
  if (options.reloader != nullptr) {
    grpc::experimental::TlsChannelCredentialsOptions tls;
    tls.set_certificate_provider(options.reloader->provider());
    tls.watch_root_certs();
    tls.watch_identity_key_cert_pairs();
    tls.set_verify_server_certs(true);
    tls.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
    return grpc::experimental::TlsCredentials(tls);
  }
  auto material = LoadTlsMaterial(options);
  if (!material.ok()) return material.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = material->ca_pem;
  ssl.pem_private_key = material->private_key_pem;
  ssl.pem_cert_chain = material->cert_chain_pem;
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const TlsOptions& options,
                                                           grpc::ChannelArguments args) {
  if (address.empty()) return absl::InvalidArgumentError("channel address is empty");
  auto credentials = MakeChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  if (!options.insecure && !options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  return grpc::CreateCustomChannel(address, *credentials, args);
}

}  // namespace lip
