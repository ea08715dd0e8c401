#include "client/lipctl_node_commands.h"

#include <cstdio>
#include <filesystem>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "client/lip_client.h"
#include "client/lipctl_command.h"
#include "common/node/grpc_status.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

const std::set<std::string> kConnectionFlags = {"registry", "sender", "receiver", "cert", "key",
                                                "ca", "server-name", "timeout-ms"};

int Usage(const absl::Status& status) {
  std::fprintf(stderr, "lipctl: %s\n", status.ToString().c_str());
  return kLipctlUsage;
}

int Failed(const absl::Status& status) {
  const std::string reason = ErrorReasonOf(status);
  std::fprintf(stderr, "lipctl: %s%s\n", status.ToString().c_str(),
               reason.empty() ? "" : absl::StrCat(" [reason ", reason, "]").c_str());
  return kLipctlFailed;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

absl::StatusOr<LipctlArgs> Parse(const std::vector<std::string>& args, std::set<std::string> extra) {
  extra.insert(kConnectionFlags.begin(), kConnectionFlags.end());
  return LipctlArgs::Parse(args, extra, {"insecure"});
}

// Connection options for the node named by `which` ("registry", "sender", "receiver").
absl::StatusOr<ClientOptions> Connection(const LipctlArgs& args, const std::string& which) {
  ClientOptions options;
  options.address = args.Get(which);
  if (options.address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", which, " HOST:PORT is required"));
  }
  options.tls.cert_file = args.Get("cert");
  options.tls.key_file = args.Get("key");
  options.tls.ca_file = args.Get("ca");
  options.tls.insecure = args.Has("insecure") && args.Get("insecure") == "true";
  options.tls.server_name_override = args.Get("server-name");
  auto timeout = args.GetInt("timeout-ms", 60000, 1, 3600000);
  if (!timeout.ok()) return timeout.status();
  options.timeout = absl::Milliseconds(*timeout);
  return options;
}

template <typename Client>
absl::StatusOr<std::unique_ptr<Client>> Connect(const LipctlArgs& args, const std::string& which) {
  auto options = Connection(args, which);
  if (!options.ok()) return options.status();
  return Client::Connect(*options);
}

lip::v1::Task TaskFromArgs(const LipctlArgs& args) {
  lip::v1::Task task;
  if (args.Has("max-new-tokens")) {
    auto tokens = args.GetInt("max-new-tokens", 32, 1, 8192);
    task.mutable_generate()->set_max_new_tokens(tokens.ok() ? static_cast<uint32_t>(*tokens) : 32);
  } else if (args.Has("labels")) {
    for (absl::string_view label : absl::StrSplit(args.Get("labels"), ',')) {
      task.mutable_classify()->add_labels(std::string(label));
    }
  }
  return task;  // empty = the bridge's labels
}

// --dtype fp32|fp16|bf16|int8 into `encode` (absent: the sender's default).
absl::Status SetWireDType(const LipctlArgs& args, lip::v1::EncodeRequest* encode) {
  if (!args.Has("dtype")) return absl::OkStatus();
  const std::string dtype = args.Get("dtype");
  lip::v1::DType value;
  if (!lip::v1::DType_Parse("DTYPE_" + absl::AsciiStrToUpper(dtype), &value)) {
    return absl::InvalidArgumentError(absl::StrCat("--dtype \"", dtype, "\" is not fp32, fp16, bf16 or int8"));
  }
  encode->set_wire_dtype(value);
  return absl::OkStatus();
}

}  // namespace

int RunRegistryUpload(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"name", "sender-model", "receiver-model", "task", "version"});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1) {
    return Usage(absl::InvalidArgumentError("registry upload needs one checkpoint directory"));
  }
  const std::string dir = args->positional()[0];
  lip::v1::BridgeRecord header;
  // Defaults from bridge.json, when present; flags override.
  auto metadata_text = ReadFileToString((std::filesystem::path(dir) / "bridge.json").string());
  if (metadata_text.ok()) {
    nlohmann::json j = nlohmann::json::parse(*metadata_text, nullptr, false);
    if (j.is_object()) {
      header.mutable_id()->set_name(j.value("name", ""));
      header.mutable_id()->set_digest(j.value("digest", ""));
      header.set_task(j.value("task", ""));
      for (const char* side : {"sender_model", "receiver_model"}) {
        if (!j.contains(side) || !j[side].is_object()) continue;
        lip::v1::ModelId* model = std::string(side) == "sender_model" ? header.mutable_sender_model()
                                                                      : header.mutable_receiver_model();
        model->set_family(j[side].value("family", ""));
        model->set_name(j[side].value("name", ""));
        model->set_revision(j[side].value("revision", ""));
        model->set_weights_digest(j[side].value("weights_digest", ""));
      }
    }
  }
  if (args->Has("name")) header.mutable_id()->set_name(args->Get("name"));
  if (args->Has("sender-model")) header.mutable_sender_model()->set_name(args->Get("sender-model"));
  if (args->Has("receiver-model")) header.mutable_receiver_model()->set_name(args->Get("receiver-model"));
  if (args->Has("task")) header.set_task(args->Get("task"));
  auto version = args->GetInt("version", 0, 0, 1 << 30);
  if (!version.ok()) return Usage(version.status());
  header.mutable_id()->set_version(static_cast<uint32_t>(*version));
  auto client = Connect<RegistryClient>(*args, "registry");
  if (!client.ok()) return Usage(client.status());
  auto record = (*client)->UploadBridgeDirectory(dir, header);
  if (!record.ok()) return Failed(record.status());
  std::printf("%s\n", ToJson(*record).c_str());
  return kLipctlOk;
}

int RunRegistryDownload(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"version", "out", "files"});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1 || !args->Has("out")) {
    return Usage(absl::InvalidArgumentError("registry download needs NAME and --out DIR"));
  }
  auto version = args->GetInt("version", 0, 0, 1 << 30);
  if (!version.ok()) return Usage(version.status());
  std::vector<std::string> files;
  if (args->Has("files")) {
    for (absl::string_view file : absl::StrSplit(args->Get("files"), ',')) files.emplace_back(file);
  }
  auto client = Connect<RegistryClient>(*args, "registry");
  if (!client.ok()) return Usage(client.status());
  auto record = (*client)->DownloadBridge(args->positional()[0], static_cast<uint32_t>(*version), files,
                                          args->Get("out"));
  if (!record.ok()) return Failed(record.status());
  std::printf("%s\n", ToJson(*record).c_str());
  return kLipctlOk;
}

int RunRegistryList(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"name"});
  if (!args.ok()) return Usage(args.status());
  auto client = Connect<RegistryClient>(*args, "registry");
  if (!client.ok()) return Usage(client.status());
  auto records = (*client)->ListBridges(args->Get("name"));
  if (!records.ok()) return Failed(records.status());
  lip::v1::ListBridgesResponse response;
  for (const auto& record : *records) *response.add_bridges() = record;
  std::printf("%s\n", ToJson(response).c_str());
  return kLipctlOk;
}

int RunRegistryResolve(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"sender-model", "receiver-model", "task"});
  if (!args.ok()) return Usage(args.status());
  if (!args->Has("sender-model") || !args->Has("receiver-model")) {
    return Usage(absl::InvalidArgumentError("registry resolve needs --sender-model and --receiver-model"));
  }
  lip::v1::ResolveBridgeRequest request;
  request.mutable_sender_model()->set_name(args->Get("sender-model"));
  request.mutable_receiver_model()->set_name(args->Get("receiver-model"));
  request.set_task(args->Get("task"));
  auto client = Connect<RegistryClient>(*args, "registry");
  if (!client.ok()) return Usage(client.status());
  auto record = (*client)->ResolveBridge(request);
  if (!record.ok()) return Failed(record.status());
  std::printf("%s\n", ToJson(*record).c_str());
  return kLipctlOk;
}

int RunRegistryNodes(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"role"});
  if (!args.ok()) return Usage(args.status());
  lip::v1::NodeRole role = lip::v1::NODE_ROLE_UNSPECIFIED;
  if (args->Has("role")) {
    const std::string name = args->Get("role");
    if (name == "sender") role = lip::v1::NODE_ROLE_SENDER;
    else if (name == "receiver") role = lip::v1::NODE_ROLE_RECEIVER;
    else if (name == "registry") role = lip::v1::NODE_ROLE_REGISTRY;
    else return Usage(absl::InvalidArgumentError(absl::StrCat("--role \"", name, "\" is not sender, receiver or registry")));
  }
  auto client = Connect<RegistryClient>(*args, "registry");
  if (!client.ok()) return Usage(client.status());
  auto nodes = (*client)->ListNodes(role);
  if (!nodes.ok()) return Failed(nodes.status());
  lip::v1::ListNodesResponse response;
  for (const auto& node : *nodes) *response.add_nodes() = node;
  std::printf("%s\n", ToJson(response).c_str());
  return kLipctlOk;
}

int RunRegistryLinks(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {});
  if (!args.ok()) return Usage(args.status());
  auto client = Connect<RegistryClient>(*args, "registry");
  if (!client.ok()) return Usage(client.status());
  auto links = (*client)->GetLinkStats();
  if (!links.ok()) return Failed(links.status());
  lip::v1::GetLinkStatsResponse response;
  for (const auto& link : *links) *response.add_links() = link;
  std::printf("%s\n", ToJson(response).c_str());
  return kLipctlOk;
}

int RunNodeSend(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"labels", "max-new-tokens", "dtype", "to"});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1) return Usage(absl::InvalidArgumentError("node send needs one TEXT"));
  lip::v1::SendRequest request;
  request.mutable_encode()->set_text(args->positional()[0]);
  *request.mutable_encode()->mutable_task() = TaskFromArgs(*args);
  request.set_receiver_address(args->Get("to"));
  absl::Status dtype = SetWireDType(*args, request.mutable_encode());
  if (!dtype.ok()) return Usage(dtype);
  auto client = Connect<SenderClient>(*args, "sender");
  if (!client.ok()) return Usage(client.status());
  auto response = (*client)->Send(request);
  if (!response.ok()) return Failed(response.status());
  std::printf("%s\n", ToJson(*response).c_str());
  return kLipctlOk;
}

int RunNodeFanOut(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"receiver-models", "labels", "max-new-tokens", "dtype", "to"});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1) return Usage(absl::InvalidArgumentError("node fanout needs one TEXT"));
  const std::vector<std::string> models = absl::StrSplit(args->Get("receiver-models"), ',', absl::SkipEmpty());
  if (models.empty()) {
    return Usage(absl::InvalidArgumentError("node fanout needs --receiver-models MODEL,MODEL,..."));
  }
  // --to, when given, names one address per receiver model, in the same order ("" = the registry's).
  const std::vector<std::string> addresses =
      args->Has("to") ? std::vector<std::string>(absl::StrSplit(args->Get("to"), ',')) : std::vector<std::string>();
  if (!addresses.empty() && addresses.size() != models.size()) {
    return Usage(absl::InvalidArgumentError(absl::StrCat("--to names ", addresses.size(), " addresses for ",
                                                         models.size(), " receiver models")));
  }
  lip::v1::SendFanOutRequest request;
  request.mutable_encode()->set_text(args->positional()[0]);
  *request.mutable_encode()->mutable_task() = TaskFromArgs(*args);
  absl::Status dtype = SetWireDType(*args, request.mutable_encode());
  if (!dtype.ok()) return Usage(dtype);
  for (size_t i = 0; i < models.size(); ++i) {
    lip::v1::FanOutTarget* target = request.add_targets();
    target->mutable_receiver_model()->set_name(models[i]);
    if (!addresses.empty()) target->set_receiver_address(addresses[i]);
  }
  auto client = Connect<SenderClient>(*args, "sender");
  if (!client.ok()) return Usage(client.status());
  auto response = (*client)->SendFanOut(request);
  if (!response.ok()) return Failed(response.status());
  std::printf("%s\n", ToJson(*response).c_str());
  return kLipctlOk;
}

int RunNodeRelay(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"labels", "generate-tokens", "to"});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1) return Usage(absl::InvalidArgumentError("node relay needs one TEXT"));
  lip::v1::RelayTextRequest request;
  request.set_text(args->positional()[0]);
  *request.mutable_task() = TaskFromArgs(*args);
  auto tokens = args->GetInt("generate-tokens", 32, 1, 1024);
  if (!tokens.ok()) return Usage(tokens.status());
  request.set_max_new_tokens(static_cast<uint32_t>(*tokens));
  request.set_receiver_address(args->Get("to"));
  auto client = Connect<SenderClient>(*args, "sender");
  if (!client.ok()) return Usage(client.status());
  auto response = (*client)->RelayText(request);
  if (!response.ok()) return Failed(response.status());
  std::printf("%s\n", ToJson(*response).c_str());
  return kLipctlOk;
}

int RunNodeSendText(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {"labels", "max-new-tokens"});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1) return Usage(absl::InvalidArgumentError("node send-text needs one TEXT"));
  lip::v1::SendTextRequest request;
  request.set_text(args->positional()[0]);
  *request.mutable_task() = TaskFromArgs(*args);
  auto client = Connect<ReceiverClient>(*args, "receiver");
  if (!client.ok()) return Usage(client.status());
  auto response = (*client)->SendText(request);
  if (!response.ok()) return Failed(response.status());
  std::printf("%s\n", ToJson(*response).c_str());
  return kLipctlOk;
}

int RunNodeSendPacket(const std::vector<std::string>& raw) {
  auto args = Parse(raw, {});
  if (!args.ok()) return Usage(args.status());
  if (args->positional().size() != 1) {
    return Usage(absl::InvalidArgumentError("node send-packet needs one PACKET.bin"));
  }
  auto bytes = ReadFileToString(args->positional()[0]);
  if (!bytes.ok()) return Usage(bytes.status());
  lip::v1::LipPacket packet;
  if (!packet.ParseFromString(*bytes)) {
    return Usage(absl::InvalidArgumentError(absl::StrCat("\"", args->positional()[0], "\" is not a LipPacket")));
  }
  auto client = Connect<ReceiverClient>(*args, "receiver");
  if (!client.ok()) return Usage(client.status());
  auto response = (*client)->SendLatent(packet);
  if (!response.ok()) return Failed(response.status());
  std::printf("%s\n", ToJson(*response).c_str());
  return kLipctlOk;
}

}  // namespace lip
