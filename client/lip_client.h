// The LIP C++ client library: typed, blocking clients for the three node
// services over mutual TLS.
//
//   lip::ClientOptions options;
//   options.address = "127.0.0.1:7000";
//   options.tls = {"certs/admin.crt", "certs/admin.key", "certs/ca.crt"};
//   auto registry = lip::RegistryClient::Connect(options);
//   auto record = (*registry)->UploadBridgeDirectory("bridges/demo", header);
//
// Every call returns absl::Status / StatusOr with the server's code and
// message; a packet defect's machine-readable reason (lip-error-reason
// trailer) is attached as in common/node/grpc_status.h (ErrorReasonOf()).
// Errors of the connection itself: UNAVAILABLE, UNAUTHENTICATED for a TLS
// handshake the client refused (common/node/grpc_status.h, IsTlsHandshakeFailure),
// DEADLINE_EXCEEDED after options.timeout.
//
// Ownership: a client owns its channel. Thread-safety: all methods may be
// called from several threads at once (gRPC stubs are thread-safe).
#ifndef LIP_CLIENT_LIP_CLIENT_H_
#define LIP_CLIENT_LIP_CLIENT_H_

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/node/tls_credentials.h"
#include "lip/v1/receiver.grpc.pb.h"
#include "lip/v1/registry.grpc.pb.h"
#include "lip/v1/sender.grpc.pb.h"

namespace lip {

struct ClientOptions {
  std::string address;                      // host:port of the node; required
  TlsOptions tls;                           // client certificate, key, CA (or insecure)
  absl::Duration timeout = absl::Seconds(60);  // deadline of each call
  size_t upload_chunk_bytes = 1 << 20;      // PutBridge data chunk size
  // Longest wait between two attempts to (re)connect after the node went away (gRPC's
  // default grows to 120 s; nodes use a short one for the registry so they notice its
  // return within seconds).
  absl::Duration max_reconnect_backoff = absl::Seconds(120);
  // RegistryClient::ListNodes only (0 = off): while the registry cannot be reached
  // (UNAVAILABLE or DEADLINE_EXCEEDED), answer with the nodes it last listed for that role
  // that are at most this old; and when it answers without a node it listed alive before,
  // keep that node in the answer (as last seen, for at most this long). A registry never
  // forgets a node while it runs (dead and departed nodes stay listed, not alive), so an
  // absent one means it restarted with an empty directory and the node has not registered
  // again yet. A sender keeps finding its receivers through a registry outage this way.
  absl::Duration node_list_fallback = absl::ZeroDuration();
  // ReceiverClient only: the LIP 1.1 compact wire (docs/protocol.md §12). A packet whose header
  // the receiver has confirmed holding for this client (SendLatentResponse.header_cached) goes as
  // a CompactPacket; others go in full with header_id set. A compact message the receiver
  // answers with HEADER_NOT_CACHED is sent again in full, once, without the caller noticing.
  bool compact_wire = false;
  // How many confirmed header ids a ReceiverClient remembers (least recently used go first;
  // forgetting one only costs one full packet).
  size_t compact_headers = 64;
};

// Makes the channel for options (validating the TLS files first).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(const ClientOptions& options);

class RegistryClient {
 public:
  static absl::StatusOr<std::unique_ptr<RegistryClient>> Connect(const ClientOptions& options);
  explicit RegistryClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  // Uploads local files as one bridge checkpoint. `header` names the bridge,
  // models and task (id.version 0 = next version); files, sizes and digests
  // are filled in from `paths` (each file is stored under its base name).
  absl::StatusOr<lip::v1::BridgeRecord> PutBridgeFiles(lip::v1::BridgeRecord header,
                                                       const std::vector<std::string>& paths);
  // Uploads every regular file of `dir` (sorted by name); metadata_json is
  // set from dir/bridge.json when present and not already set.
  absl::StatusOr<lip::v1::BridgeRecord> UploadBridgeDirectory(const std::string& dir,
                                                              lip::v1::BridgeRecord header);
  // Downloads (name, version; 0 = newest) into out_dir, verifying each file's
  // size and SHA-256 before it is renamed into place (DATA_LOSS on mismatch).
  // `files` empty = all. Returns the record as the registry sent it.
  absl::StatusOr<lip::v1::BridgeRecord> DownloadBridge(const std::string& name, uint32_t version,
                                                       const std::vector<std::string>& files,
                                                       const std::string& out_dir);
  absl::StatusOr<lip::v1::BridgeRecord> ResolveBridge(const lip::v1::ResolveBridgeRequest& request);
  absl::StatusOr<std::vector<lip::v1::BridgeRecord>> ListBridges(const std::string& name = "");
  absl::StatusOr<lip::v1::RegisterNodeResponse> RegisterNode(const lip::v1::NodeInfo& node);
  absl::Status Heartbeat(const std::string& node_id);
  // Lists the node as not alive at once (a graceful stop); RegisterNode or Heartbeat undo it.
  absl::Status Leave(const std::string& node_id);
  // See ClientOptions::node_list_fallback for what it answers while the registry is down.
  absl::StatusOr<std::vector<lip::v1::NodeInfo>> ListNodes(
      lip::v1::NodeRole role = lip::v1::NODE_ROLE_UNSPECIFIED);
  absl::Status ReportLinkStats(const std::vector<lip::v1::LinkStats>& links);
  absl::StatusOr<std::vector<lip::v1::LinkStats>> GetLinkStats();

  lip::v1::Registry::Stub* stub() { return stub_.get(); }

 private:
  struct SeenNode {
    absl::Time listed;  // when the registry last listed it
    lip::v1::NodeInfo node;
  };
  void Prepare(grpc::ClientContext& context) const;
  std::shared_ptr<grpc::Channel> channel_;
  ClientOptions options_;
  std::unique_ptr<lip::v1::Registry::Stub> stub_;
  std::mutex node_lists_mu_;
  // Per role, by node id: what ListNodes last said of each node (node_list_fallback).
  std::map<int, std::map<std::string, SeenNode>> seen_nodes_;
};

// What one ReceiverClient::SendLatent call put on the wire.
struct LatentSendInfo {
  // Serialized LipPacket or CompactPacket bytes of every attempt, summed (the 2-4 bytes of the
  // SendLatentRequest envelope around them not counted, as lip.v1.SendResponse.wire_bytes).
  uint64_t wire_bytes = 0;
  bool compact = false;        // the answered attempt was a compact message
  bool resent_in_full = false;  // a compact attempt was refused with HEADER_NOT_CACHED first
};

class ReceiverClient {
 public:
  static absl::StatusOr<std::unique_ptr<ReceiverClient>> Connect(const ClientOptions& options);
  explicit ReceiverClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  // `parent`: the server call this one is made for (a sender node relaying its caller's
  // request); its deadline (when sooner than options.timeout) and its cancellation carry
  // over to the receiver, so an abandoned Send frees the receiver too.
  // With options.compact_wire, the packet goes compact or in full as ClientOptions says, and a
  // HEADER_NOT_CACHED refusal is answered by resending it in full; `info` (may be null) says
  // what was sent.
  absl::StatusOr<lip::v1::SendLatentResponse> SendLatent(const lip::v1::LipPacket& packet,
                                                         const grpc::ServerContextBase* parent = nullptr,
                                                         LatentSendInfo* info = nullptr);
  // Sends `packets` on one StreamLatents call and returns their answers in the order of
  // `packets` (each a result or a MessageError answer, as the receiver sent it). The packets
  // need distinct packet ids (INVALID_ARGUMENT otherwise). With options.compact_wire the first
  // packet of each header goes in full with header_id set and later ones of that header go
  // compact on the same stream; a message refused with HEADER_NOT_CACHED (its header was
  // evicted, or the full packet was refused) is sent again in full through SendLatent.
  // `wire_bytes` (may be null) gets the serialized LipPacket or CompactPacket bytes of every
  // message written, in the order written, full resends last. The call's status is the stream's: an error only
  // when the stream itself failed.
  absl::StatusOr<std::vector<lip::v1::SendLatentResponse>> StreamLatents(
      const std::vector<lip::v1::LipPacket>& packets, std::vector<uint64_t>* wire_bytes = nullptr);
  absl::StatusOr<lip::v1::SendLatentResponse> SendText(const lip::v1::SendTextRequest& request,
                                                       const grpc::ServerContextBase* parent = nullptr);
  lip::v1::LatentReceiver::Stub* stub() { return stub_.get(); }

 private:
  // A context with options.timeout, child of `parent` when given.
  std::unique_ptr<grpc::ClientContext> MakeContext(const grpc::ServerContextBase* parent) const;
  bool HeaderKnown(uint64_t header_id);
  void RememberHeader(uint64_t header_id);
  void ForgetHeader(uint64_t header_id);
  std::shared_ptr<grpc::Channel> channel_;
  ClientOptions options_;
  std::unique_ptr<lip::v1::LatentReceiver::Stub> stub_;
  std::mutex headers_mu_;
  std::list<uint64_t> known_headers_;  // confirmed by the receiver; front = most recently used
};

class SenderClient {
 public:
  static absl::StatusOr<std::unique_ptr<SenderClient>> Connect(const ClientOptions& options);
  explicit SenderClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  absl::StatusOr<lip::v1::EncodeResponse> Encode(const lip::v1::EncodeRequest& request);
  absl::StatusOr<lip::v1::SendResponse> Send(const lip::v1::SendRequest& request);
  // Fan-out (protocol.md §13): one encode, an answer per receiver plus the joint answer (sender.proto).
  absl::StatusOr<lip::v1::SendFanOutResponse> SendFanOut(const lip::v1::SendFanOutRequest& request);
  absl::StatusOr<lip::v1::RelayTextResponse> RelayText(const lip::v1::RelayTextRequest& request);
  lip::v1::Sender::Stub* stub() { return stub_.get(); }

 private:
  void Prepare(grpc::ClientContext& context) const;
  std::shared_ptr<grpc::Channel> channel_;
  ClientOptions options_;
  std::unique_ptr<lip::v1::Sender::Stub> stub_;
};

}  // namespace lip

#endif  // LIP_CLIENT_LIP_CLIENT_H_
