// PeerIdentity: who is calling, read from the client certificate that mutual
// TLS has already verified against the LIP CA.
//
// Convention (deploy/certs/make_certs.sh issues certificates this way): a
// node's roles are SAN URIs of the form
//     lip://role/<role>        <role> = admin | registry | sender | receiver
// and its name is the certificate's subject CN (e.g. "sender-1"). A certificate
// may carry several role URIs. The subject OU is NOT used for roles: URIs are
// unambiguous and survive re-issuing by another CA tool.
//
// A certificate may also name the node ids it may act for in the registry
// (register, heartbeat, leave), as SAN URIs
//     lip://node/<node-id>     <node-id> = [A-Za-z0-9._~-]+ (URI-safe, not decoded)
// A certificate without such URIs is bound by the registry to the node ids it
// registers first, by its subject CN (docs/nodes.md, "Node identity").
//
// On a server started with --insecure there is no certificate; the peer is
// then `insecure` and holds every role (local development only).
//
// Thread-safety: value type, freely copyable.
#ifndef LIP_COMMON_NODE_PEER_IDENTITY_H_
#define LIP_COMMON_NODE_PEER_IDENTITY_H_

#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace grpc {
class ServerContext;
class ServerContextBase;
}  // namespace grpc

namespace lip {

enum class Role { kAdmin, kRegistry, kSender, kReceiver };

const char* RoleName(Role role);
// "admin" | "registry" | "sender" | "receiver"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);
// The SAN URI for a role: "lip://role/<name>".
std::string RoleUri(Role role);
// The SAN URI naming a node id: "lip://node/<node_id>".
std::string NodeUri(absl::string_view node_id);

struct PeerIdentity {
  std::string common_name;  // subject CN; "" when insecure
  std::set<Role> roles;
  std::set<std::string> node_ids;  // from lip://node/<id> URIs; empty = names no node
  bool insecure = false;    // plaintext server: no certificate, all roles

  bool Has(Role role) const { return insecure || roles.count(role) > 0; }
  // The certificate names node ids (lip://node/...).
  bool NamesNodes() const { return !node_ids.empty(); }
  bool Names(const std::string& node_id) const { return node_ids.count(node_id) > 0; }
  // "sender-1 [sender]" or "receiver-a [receiver] nodes=receiver-1" — for logs and errors.
  std::string ToString() const;
};

// Parses a PEM certificate's CN, lip://role/ and lip://node/ URIs. INVALID_ARGUMENT for bad PEM.
absl::StatusOr<PeerIdentity> PeerIdentityFromPem(absl::string_view pem);
// PeerIdentityFromPem, each distinct certificate parsed once per process (an RPC's caller presents
// the same certificate on every call; parsing one costs ~0.1 ms). Thread-safe; errors are not kept.
absl::StatusOr<PeerIdentity> CachedPeerIdentityFromPem(absl::string_view pem);

// The identity of the caller of an RPC (CachedPeerIdentityFromPem). UNAUTHENTICATED when a TLS server sees
// no verified certificate (cannot happen with mutual TLS, but is checked).
// `insecure_server` = the server runs with --insecure.
absl::StatusOr<PeerIdentity> PeerIdentityFromContext(const grpc::ServerContextBase& context,
                                                     bool insecure_server);

// OK when the identity has one of `allowed`; PERMISSION_DENIED naming the
// caller, its roles and the needed ones otherwise.
absl::Status RequireRole(const PeerIdentity& peer, absl::Span<const Role> allowed,
                         absl::string_view action);

}  // namespace lip

#endif  // LIP_COMMON_NODE_PEER_IDENTITY_H_
