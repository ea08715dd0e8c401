#include "common/node/peer_identity.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include <grpcpp/server_context.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace lip {
namespace {
constexpr absl::string_view kRoleUriPrefix = "lip://role/";
constexpr absl::string_view kNodeUriPrefix = "lip://node/";
}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kRegistry: return "registry";
    case Role::kSender: return "sender";
    case Role::kReceiver: return "receiver";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kAdmin, Role::kRegistry, Role::kSender, Role::kReceiver}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("role \"", name, "\" is not one of admin, registry, sender, receiver"));
}

std::string RoleUri(Role role) { return absl::StrCat(kRoleUriPrefix, RoleName(role)); }

std::string NodeUri(absl::string_view node_id) { return absl::StrCat(kNodeUriPrefix, node_id); }

std::string PeerIdentity::ToString() const {
  if (insecure) return "insecure-peer [all roles]";
  std::vector<std::string> names;
  for (Role role : roles) names.push_back(RoleName(role));
  return absl::StrCat(common_name.empty() ? "(no CN)" : common_name, " [",
                      absl::StrJoin(names, ","), "]",
                      node_ids.empty() ? "" : absl::StrCat(" nodes=", absl::StrJoin(node_ids, ",")));
}

absl::StatusOr<PeerIdentity> PeerIdentityFromPem(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("peer certificate is not a readable PEM certificate");
  }
  PeerIdentity identity;
  X509_NAME* subject = X509_get_subject_name(cert);
  char cn[256] = {0};
  if (subject != nullptr &&
      X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof(cn)) > 0) {
    identity.common_name = cn;
  }
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      absl::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                            ASN1_STRING_length(uri));
      if (absl::StartsWith(text, kNodeUriPrefix)) {
        const absl::string_view id = text.substr(kNodeUriPrefix.size());
        if (!id.empty()) identity.node_ids.insert(std::string(id));
        continue;
      }
      if (!absl::StartsWith(text, kRoleUriPrefix)) continue;
      auto role = ParseRole(text.substr(kRoleUriPrefix.size()));
      if (role.ok()) identity.roles.insert(*role);  // unknown roles grant nothing
    }
    GENERAL_NAMES_free(names);
  }
  X509_free(cert);
  return identity;
}

absl::StatusOr<PeerIdentity> CachedPeerIdentityFromPem(absl::string_view pem) {
  // The identity is a function of the certificate's bytes alone (TLS verified them already), so
  // each distinct certificate is parsed once; a full cache starts over (certificates rotate).
  constexpr size_t kMaxCertificates = 256;
  static std::mutex mutex;
  static auto* identities = new std::unordered_map<std::string, PeerIdentity>();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = identities->find(std::string(pem));
    if (it != identities->end()) return it->second;
  }
  absl::StatusOr<PeerIdentity> identity = PeerIdentityFromPem(pem);
  if (!identity.ok()) return identity;
  std::lock_guard<std::mutex> lock(mutex);
  if (identities->size() >= kMaxCertificates) identities->clear();
  identities->emplace(std::string(pem), *identity);
  return identity;
}

absl::StatusOr<PeerIdentity> PeerIdentityFromContext(const grpc::ServerContextBase& context,
                                                     bool insecure_server) {
  if (insecure_server) {
    PeerIdentity identity;
    identity.insecure = true;
    return identity;
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("caller presented no verified client certificate");
  }
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.empty()) {
    return absl::UnauthenticatedError("caller's TLS session carries no certificate");
  }
  return CachedPeerIdentityFromPem(absl::string_view(pems[0].data(), pems[0].size()));
}

absl::Status RequireRole(const PeerIdentity& peer, absl::Span<const Role> allowed,
                         absl::string_view action) {
  for (Role role : allowed) {
    if (peer.Has(role)) return absl::OkStatus();
  }
  std::vector<std::string> needed;
  for (Role role : allowed) needed.push_back(RoleName(role));
  return absl::PermissionDeniedError(absl::StrCat(peer.ToString(), " may not ", action,
                                                  " (needs role ", absl::StrJoin(needed, " or "),
                                                  ")"));
}

}  // namespace lip
