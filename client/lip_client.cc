#include "client/lip_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/wire/compact_packet.h"
#include "common/node/grpc_status.h"
#include "common/wire/packet_error.h"
#include "common/wire/sha256.h"

namespace lip {
namespace fs = std::filesystem;
namespace {

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(
    grpc::ClientContext& context, Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const Request& request) {
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, &context);
  return response;
}

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(std::max<int64_t>(100, absl::ToInt64Milliseconds(options.max_reconnect_backoff))));
  return MakeChannel(options.address, options.tls, std::move(args));
}

// ---- RegistryClient ------------------------------------------------------------

absl::StatusOr<std::unique_ptr<RegistryClient>> RegistryClient::Connect(const ClientOptions& options) {
  auto channel = MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<RegistryClient>(*channel, options);
}

RegistryClient::RegistryClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)),
      options_(std::move(options)),
      stub_(lip::v1::Registry::NewStub(channel_)) {}

void RegistryClient::Prepare(grpc::ClientContext& context) const {
  SetDeadline(context, options_.timeout);
}

absl::StatusOr<lip::v1::BridgeRecord> RegistryClient::PutBridgeFiles(
    lip::v1::BridgeRecord header, const std::vector<std::string>& paths) {
  header.clear_files();
  for (const std::string& path : paths) {
    std::error_code error;
    const uint64_t size = fs::file_size(path, error);
    if (error) return absl::NotFoundError(absl::StrCat("cannot stat \"", path, "\": ", error.message()));
    auto digest = Sha256DigestOfFile(path);
    if (!digest.ok()) return digest.status();
    lip::v1::BridgeFile* file = header.add_files();
    file->set_name(fs::path(path).filename().string());
    file->set_size_bytes(size);
    file->set_digest(*digest);
  }
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::PutBridgeResponse response;
  std::unique_ptr<grpc::ClientWriter<lip::v1::PutBridgeChunk>> writer =
      stub_->PutBridge(&context, &response);
  lip::v1::PutBridgeChunk chunk;
  *chunk.mutable_header() = header;
  bool open = writer->Write(chunk);
  std::string buffer(options_.upload_chunk_bytes, '\0');
  for (size_t i = 0; open && i < paths.size(); ++i) {
    std::ifstream in(paths[i], std::ios::binary);
    if (!in) {
      context.TryCancel();
      return absl::NotFoundError(absl::StrCat("cannot read \"", paths[i], "\""));
    }
    while (open && in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const std::streamsize got = in.gcount();
      if (got <= 0) break;
      lip::v1::PutBridgeChunk data;
      data.set_data(buffer.data(), static_cast<size_t>(got));
      open = writer->Write(data);
    }
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status, &context);
  return response.record();
}

absl::StatusOr<lip::v1::BridgeRecord> RegistryClient::UploadBridgeDirectory(
    const std::string& dir, lip::v1::BridgeRecord header) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file()) paths.push_back(entry.path().string());
  }
  if (error) return absl::NotFoundError(absl::StrCat("cannot list \"", dir, "\": ", error.message()));
  if (paths.empty()) return absl::InvalidArgumentError(absl::StrCat("\"", dir, "\" holds no files"));
  std::sort(paths.begin(), paths.end());
  if (header.metadata_json().empty() && fs::exists(fs::path(dir) / "bridge.json")) {
    auto text = ReadFileToString((fs::path(dir) / "bridge.json").string());
    if (!text.ok()) return text.status();
    header.set_metadata_json(*text);
  }
  return PutBridgeFiles(std::move(header), paths);
}

absl::StatusOr<lip::v1::BridgeRecord> RegistryClient::DownloadBridge(
    const std::string& name, uint32_t version, const std::vector<std::string>& files,
    const std::string& out_dir) {
  std::error_code error;
  fs::create_directories(out_dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create \"", out_dir, "\": ", error.message()));
  lip::v1::GetBridgeRequest request;
  request.set_name(name);
  request.set_version(version);
  for (const auto& file : files) request.add_files(file);
  grpc::ClientContext context;
  Prepare(context);
  std::unique_ptr<grpc::ClientReader<lip::v1::BridgeChunk>> reader = stub_->GetBridge(&context, request);

  lip::v1::BridgeChunk chunk;
  lip::v1::BridgeRecord record;
  bool have_header = false;
  size_t file_index = 0;
  uint64_t written = 0;
  std::unique_ptr<std::ofstream> out;
  std::unique_ptr<Sha256> sha;
  std::vector<std::string> temp_paths;
  auto cleanup = [&temp_paths] {
    std::error_code ignored;
    for (const auto& path : temp_paths) fs::remove(path, ignored);
  };
  auto finish_file = [&]() -> absl::Status {
    const lip::v1::BridgeFile& file = record.files(file_index);
    out->close();
    const std::string digest = sha->FinishDigest();
    if (digest != file.digest()) {
      return absl::DataLossError(absl::StrCat("downloaded \"", file.name(), "\" has digest ", digest,
                                              ", registry declared ", file.digest()));
    }
    out.reset();
    ++file_index;
    written = 0;
    return absl::OkStatus();
  };
  auto open_file = [&]() -> absl::Status {
    const std::string path = (fs::path(out_dir) / (record.files(file_index).name() + ".part")).string();
    temp_paths.push_back(path);
    out = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!*out) return absl::InternalError(absl::StrCat("cannot write \"", path, "\""));
    sha = std::make_unique<Sha256>();
    return absl::OkStatus();
  };
  absl::Status status;
  while (status.ok() && reader->Read(&chunk)) {
    if (chunk.has_header()) {
      if (have_header) status = absl::InternalError("registry sent two headers");
      record = chunk.header();
      have_header = true;
      continue;
    }
    if (!have_header) {
      status = absl::InternalError("registry sent data before the header");
      break;
    }
    absl::string_view data = chunk.data();
    while (status.ok() && !data.empty()) {
      while (status.ok() && out == nullptr && file_index < static_cast<size_t>(record.files_size()) &&
             record.files(file_index).size_bytes() == 0) {
        status = open_file();
        if (status.ok()) status = finish_file();
      }
      if (!status.ok()) break;
      if (file_index >= static_cast<size_t>(record.files_size())) {
        status = absl::DataLossError("registry sent more bytes than its header declared");
        break;
      }
      if (out == nullptr) status = open_file();
      if (!status.ok()) break;
      const uint64_t room = record.files(file_index).size_bytes() - written;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
      out->write(data.data(), static_cast<std::streamsize>(take));
      sha->Update(data.data(), take);
      written += take;
      data.remove_prefix(take);
      if (written == record.files(file_index).size_bytes()) status = finish_file();
    }
  }
  if (!status.ok()) {
    context.TryCancel();
    reader->Finish();
    cleanup();
    return status;
  }
  grpc::Status finished = reader->Finish();
  if (!finished.ok()) {
    cleanup();
    return FromGrpcStatus(finished, &context);
  }
  while (out == nullptr && file_index < static_cast<size_t>(record.files_size()) &&
         record.files(file_index).size_bytes() == 0) {
    status = open_file();
    if (status.ok()) status = finish_file();
    if (!status.ok()) break;
  }
  if (status.ok() && (!have_header || file_index != static_cast<size_t>(record.files_size()))) {
    status = absl::DataLossError(absl::StrCat("download of \"", name, "\" ended after ", file_index,
                                              " of ", record.files_size(), " files"));
  }
  if (!status.ok()) {
    cleanup();
    return status;
  }
  for (const auto& file : record.files()) {
    const fs::path final_path = fs::path(out_dir) / file.name();
    fs::rename(fs::path(out_dir) / (file.name() + ".part"), final_path, error);
    if (error) {
      cleanup();
      return absl::InternalError(absl::StrCat("cannot rename into \"", final_path.string(), "\": ",
                                              error.message()));
    }
  }
  return record;
}

absl::StatusOr<lip::v1::BridgeRecord> RegistryClient::ResolveBridge(
    const lip::v1::ResolveBridgeRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  return Unary(context, stub_.get(), &lip::v1::Registry::Stub::ResolveBridge, request);
}

absl::StatusOr<std::vector<lip::v1::BridgeRecord>> RegistryClient::ListBridges(const std::string& name) {
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::ListBridgesRequest request;
  request.set_name(name);
  auto response = Unary(context, stub_.get(), &lip::v1::Registry::Stub::ListBridges, request);
  if (!response.ok()) return response.status();
  return std::vector<lip::v1::BridgeRecord>(response->bridges().begin(), response->bridges().end());
}

absl::StatusOr<lip::v1::RegisterNodeResponse> RegistryClient::RegisterNode(const lip::v1::NodeInfo& node) {
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::RegisterNodeRequest request;
  *request.mutable_node() = node;
  return Unary(context, stub_.get(), &lip::v1::Registry::Stub::RegisterNode, request);
}

absl::Status RegistryClient::Heartbeat(const std::string& node_id) {
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::HeartbeatRequest request;
  request.set_node_id(node_id);
  return Unary(context, stub_.get(), &lip::v1::Registry::Stub::Heartbeat, request).status();
}

absl::Status RegistryClient::Leave(const std::string& node_id) {
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::LeaveRequest request;
  request.set_node_id(node_id);
  return Unary(context, stub_.get(), &lip::v1::Registry::Stub::Leave, request).status();
}

absl::StatusOr<std::vector<lip::v1::NodeInfo>> RegistryClient::ListNodes(lip::v1::NodeRole role) {
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::ListNodesRequest request;
  request.set_role(role);
  auto response = Unary(context, stub_.get(), &lip::v1::Registry::Stub::ListNodes, request);
  const absl::Duration keep = options_.node_list_fallback;
  if (keep <= absl::ZeroDuration()) {
    if (!response.ok()) return response.status();
    return std::vector<lip::v1::NodeInfo>(response->nodes().begin(), response->nodes().end());
  }
  const absl::Time now = absl::Now();
  std::lock_guard<std::mutex> lock(node_lists_mu_);
  std::map<std::string, SeenNode>& seen = seen_nodes_[static_cast<int>(role)];
  for (auto it = seen.begin(); it != seen.end();) {  // forget what is too old to use
    it = now - it->second.listed > keep ? seen.erase(it) : std::next(it);
  }
  std::vector<lip::v1::NodeInfo> nodes;
  if (!response.ok()) {
    const absl::StatusCode code = response.status().code();
    if ((code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kDeadlineExceeded) ||
        seen.empty()) {
      return response.status();
    }
    for (const auto& [id, entry] : seen) nodes.push_back(entry.node);  // the registry is away
    return nodes;
  }
  std::set<std::string> listed;
  for (const auto& node : response->nodes()) {
    listed.insert(node.node_id());
    seen[node.node_id()] = SeenNode{now, node};
    nodes.push_back(node);
  }
  for (const auto& [id, entry] : seen) {  // alive before, forgotten by a restarted registry
    if (listed.count(id) == 0 && entry.node.alive()) nodes.push_back(entry.node);
  }
  return nodes;
}

absl::Status RegistryClient::ReportLinkStats(const std::vector<lip::v1::LinkStats>& links) {
  grpc::ClientContext context;
  Prepare(context);
  lip::v1::ReportLinkStatsRequest request;
  for (const auto& link : links) *request.add_links() = link;
  return Unary(context, stub_.get(), &lip::v1::Registry::Stub::ReportLinkStats, request).status();
}

absl::StatusOr<std::vector<lip::v1::LinkStats>> RegistryClient::GetLinkStats() {
  grpc::ClientContext context;
  Prepare(context);
  auto response = Unary(context, stub_.get(), &lip::v1::Registry::Stub::GetLinkStats,
                        lip::v1::GetLinkStatsRequest());
  if (!response.ok()) return response.status();
  return std::vector<lip::v1::LinkStats>(response->links().begin(), response->links().end());
}

// ---- ReceiverClient ------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ReceiverClient>> ReceiverClient::Connect(const ClientOptions& options) {
  auto channel = MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<ReceiverClient>(*channel, options);
}

ReceiverClient::ReceiverClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)),
      options_(std::move(options)),
      stub_(lip::v1::LatentReceiver::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> ReceiverClient::MakeContext(
    const grpc::ServerContextBase* parent) const {
  // A child context gets the sooner of the two deadlines (gRPC takes the minimum).
  auto context = parent != nullptr ? grpc::ClientContext::FromServerContext(*parent)
                                   : std::make_unique<grpc::ClientContext>();
  SetDeadline(*context, options_.timeout);
  return context;
}

bool ReceiverClient::HeaderKnown(uint64_t header_id) {
  std::lock_guard<std::mutex> lock(headers_mu_);
  auto it = std::find(known_headers_.begin(), known_headers_.end(), header_id);
  if (it == known_headers_.end()) return false;
  known_headers_.splice(known_headers_.begin(), known_headers_, it);
  return true;
}

void ReceiverClient::RememberHeader(uint64_t header_id) {
  std::lock_guard<std::mutex> lock(headers_mu_);
  known_headers_.remove(header_id);
  known_headers_.push_front(header_id);
  while (known_headers_.size() > options_.compact_headers) known_headers_.pop_back();
}

void ReceiverClient::ForgetHeader(uint64_t header_id) {
  std::lock_guard<std::mutex> lock(headers_mu_);
  known_headers_.remove(header_id);
}

absl::StatusOr<lip::v1::SendLatentResponse> ReceiverClient::SendLatent(
    const lip::v1::LipPacket& packet, const grpc::ServerContextBase* parent, LatentSendInfo* info) {
  LatentSendInfo local;
  if (info == nullptr) info = &local;
  *info = LatentSendInfo();
  lip::v1::SendLatentRequest request;
  const uint64_t header_id = options_.compact_wire ? HeaderIdFor(packet) : 0;
  if (header_id != 0 && HeaderKnown(header_id)) {
    *request.mutable_compact() = CompactFromPacket(packet, header_id);
    info->wire_bytes += request.compact().ByteSizeLong();
    auto context = MakeContext(parent);
    auto answer = Unary(*context, stub_.get(), &lip::v1::LatentReceiver::Stub::SendLatent, request);
    if (answer.ok() || ErrorReasonOf(answer.status()) != kReasonHeaderNotCached) {
      info->compact = true;
      return answer;
    }
    // The receiver no longer holds the header (evicted, restarted): the message did not run.
    ForgetHeader(header_id);
    info->resent_in_full = true;
    request.clear_compact();
  }
  *request.mutable_packet() = header_id != 0 ? WithHeaderId(packet, header_id) : packet;
  info->wire_bytes += request.packet().ByteSizeLong();
  auto context = MakeContext(parent);
  auto answer = Unary(*context, stub_.get(), &lip::v1::LatentReceiver::Stub::SendLatent, request);
  if (answer.ok() && header_id != 0 && answer->header_cached()) RememberHeader(header_id);
  return answer;
}

absl::StatusOr<std::vector<lip::v1::SendLatentResponse>> ReceiverClient::StreamLatents(
    const std::vector<lip::v1::LipPacket>& packets, std::vector<uint64_t>* wire_bytes) {
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < packets.size(); ++i) {
    if (!index_of.emplace(packets[i].packet_id(), i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("StreamLatents: packets ", index_of[packets[i].packet_id()], " and ", i,
                       " have the same packet_id; answers are matched by it"));
    }
  }
  if (wire_bytes != nullptr) wire_bytes->clear();
  auto context = MakeContext(nullptr);
  auto stream = stub_->StreamLatents(context.get());
  std::vector<lip::v1::SendLatentResponse> answers(packets.size());
  std::vector<bool> answered(packets.size(), false);
  std::thread reader([&] {
    lip::v1::SendLatentResponse response;
    while (stream->Read(&response)) {
      auto it = index_of.find(response.packet_id());
      if (it == index_of.end()) continue;  // names no packet of ours: nothing to match it to
      answers[it->second] = response;
      answered[it->second] = true;
    }
  });
  std::set<uint64_t> sent_on_stream;  // headers sent in full on this stream (the receiver reads in order)
  std::vector<uint64_t> header_ids(packets.size(), 0);
  for (size_t i = 0; i < packets.size(); ++i) {
    lip::v1::SendLatentRequest request;
    if (options_.compact_wire) {
      header_ids[i] = HeaderIdFor(packets[i]);
      if (sent_on_stream.count(header_ids[i]) > 0 || HeaderKnown(header_ids[i])) {
        *request.mutable_compact() = CompactFromPacket(packets[i], header_ids[i]);
      } else {
        *request.mutable_packet() = WithHeaderId(packets[i], header_ids[i]);
        sent_on_stream.insert(header_ids[i]);
      }
    } else {
      *request.mutable_packet() = packets[i];
    }
    if (wire_bytes != nullptr) {
      wire_bytes->push_back(request.has_compact() ? request.compact().ByteSizeLong() : request.packet().ByteSizeLong());
    }
    if (!stream->Write(request)) break;  // the stream failed: Finish says why
  }
  stream->WritesDone();
  reader.join();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpcStatus(status, context.get());
  for (size_t i = 0; i < packets.size(); ++i) {
    if (!answered[i]) {
      return absl::InternalError(absl::StrCat("StreamLatents: the receiver closed the stream without answering packet ",
                                              i, " of ", packets.size()));
    }
    if (header_ids[i] == 0) continue;
    if (answers[i].header_cached()) RememberHeader(header_ids[i]);
    if (answers[i].has_error() && answers[i].error().reason() == kReasonHeaderNotCached) {
      ForgetHeader(header_ids[i]);
      LatentSendInfo info;
      auto resent = SendLatent(packets[i], nullptr, &info);
      if (wire_bytes != nullptr) wire_bytes->push_back(info.wire_bytes);
      if (resent.ok()) {
        answers[i] = *std::move(resent);
      } else {
        lip::v1::MessageError* error = answers[i].mutable_error();
        error->set_code(static_cast<int>(resent.status().code()));
        const std::string reason = ErrorReasonOf(resent.status());
        error->set_reason(reason.empty() ? absl::StatusCodeToString(resent.status().code()) : reason);
        error->set_message(std::string(resent.status().message()));
      }
    }
  }
  return answers;
}

absl::StatusOr<lip::v1::SendLatentResponse> ReceiverClient::SendText(
    const lip::v1::SendTextRequest& request, const grpc::ServerContextBase* parent) {
  auto context = MakeContext(parent);
  return Unary(*context, stub_.get(), &lip::v1::LatentReceiver::Stub::SendText, request);
}

// ---- SenderClient --------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SenderClient>> SenderClient::Connect(const ClientOptions& options) {
  auto channel = MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<SenderClient>(*channel, options);
}

SenderClient::SenderClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)),
      options_(std::move(options)),
      stub_(lip::v1::Sender::NewStub(channel_)) {}

void SenderClient::Prepare(grpc::ClientContext& context) const {
  SetDeadline(context, options_.timeout);
}

absl::StatusOr<lip::v1::EncodeResponse> SenderClient::Encode(const lip::v1::EncodeRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  return Unary(context, stub_.get(), &lip::v1::Sender::Stub::Encode, request);
}

absl::StatusOr<lip::v1::SendResponse> SenderClient::Send(const lip::v1::SendRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  return Unary(context, stub_.get(), &lip::v1::Sender::Stub::Send, request);
}

absl::StatusOr<lip::v1::SendFanOutResponse> SenderClient::SendFanOut(const lip::v1::SendFanOutRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  return Unary(context, stub_.get(), &lip::v1::Sender::Stub::SendFanOut, request);
}

absl::StatusOr<lip::v1::RelayTextResponse> SenderClient::RelayText(
    const lip::v1::RelayTextRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  return Unary(context, stub_.get(), &lip::v1::Sender::Stub::RelayText, request);
}

}  // namespace lip
