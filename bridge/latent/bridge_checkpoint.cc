#include "bridge/latent/bridge_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"
#include "bridge/model/safetensors.h"
#include "common/wire/sha256.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

std::string JoinPath(const std::string& dir, const char* file) {
  return (fs::path(dir) / file).string();
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    out << text;
    if (!out.good()) return absl::InternalError(absl::StrCat("failed writing ", tmp));
  }
  std::error_code error;
  fs::rename(tmp, path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", error.message()));
  return absl::OkStatus();
}

absl::Status CheckFileDigest(const std::string& path, const std::string& expected) {
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  if (expected.empty()) {
    return absl::DataLossError(absl::StrCat("bridge.json records no digest for ", path));
  }
  LIP_ASSIGN_OR_RETURN(std::string actual, Sha256DigestOfFile(path));
  if (actual != expected) {
    return absl::DataLossError(
        absl::StrCat(path, " has digest ", actual, " but bridge.json records ", expected));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> ModuleTensors(const torch::nn::Module& module,
                                                                 const std::string& prefix) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    tensors.emplace_back(prefix + item.key(), item.value().detach());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    tensors.emplace_back(prefix + item.key(), item.value().detach());
  }
  return tensors;
}

absl::Status LoadModuleTensors(const std::string& path, torch::nn::Module& module,
                               const std::string& prefix) {
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  std::set<std::string> unused;
  for (const std::string& name : file->names()) unused.insert(name);
  torch::NoGradGuard no_grad;
  auto copy_into = [&](const std::string& name, torch::Tensor& target) -> absl::Status {
    const std::string stored_name = prefix + name;
    auto stored = file->Tensor(stored_name);
    if (!stored.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, " has no tensor \"", stored_name, "\""));
    }
    if (stored->sizes() != target.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", stored_name, "\" has shape ",
                                                     c10::str(stored->sizes()), ", expected ",
                                                     c10::str(target.sizes())));
    }
    target.copy_(stored->to(target.dtype()));
    unused.erase(stored_name);
    return absl::OkStatus();
  };
  try {
    for (auto& item : module.named_parameters(/*recurse=*/true)) {
      LIP_RETURN_IF_ERROR(copy_into(item.key(), item.value()));
    }
    for (auto& item : module.named_buffers(/*recurse=*/true)) {
      LIP_RETURN_IF_ERROR(copy_into(item.key(), item.value()));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("loading ", path, ": ", e.what_without_backtrace()));
  }
  if (!unused.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " has unexpected tensor \"", *unused.begin(),
                                                   "\" (", unused.size(), " unexpected in all)"));
  }
  return absl::OkStatus();
}

absl::Status SaveBridgeCheckpoint(const std::string& dir, const BridgeMetadata& metadata,
                                  torch::nn::Module& sender_encoder,
                                  torch::nn::Module& receiver_adapter, BridgeMetadata* saved,
                                  const std::string& sender_half_bridge) {
  LIP_RETURN_IF_ERROR(ValidateBridgeMetadata(metadata));
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));

  BridgeMetadata out = metadata;
  const std::map<std::string, std::string> file_metadata = {
      {"format", "lip-bridge"}, {"bridge", metadata.name}, {"version", std::to_string(metadata.version)}};
  auto with_half = [&](const char* half) {
    auto m = file_metadata;
    m["half"] = half;
    if (std::string(half) == "sender" && !sender_half_bridge.empty()) m["bridge"] = sender_half_bridge;
    return m;
  };
  const std::string sender_path = JoinPath(dir, kSenderHalfFile);
  const std::string receiver_path = JoinPath(dir, kReceiverHalfFile);
  LIP_RETURN_IF_ERROR(WriteSafetensors(sender_path, ModuleTensors(sender_encoder), with_half("sender")));
  LIP_RETURN_IF_ERROR(
      WriteSafetensors(receiver_path, ModuleTensors(receiver_adapter, "adapter."), with_half("receiver")));
  LIP_ASSIGN_OR_RETURN(out.sender_file_digest, Sha256DigestOfFile(sender_path));
  LIP_ASSIGN_OR_RETURN(out.receiver_file_digest, Sha256DigestOfFile(receiver_path));
  LIP_ASSIGN_OR_RETURN(out.digest, Sha256DigestOfFiles({sender_path, receiver_path}));
  LIP_RETURN_IF_ERROR(
      WriteTextFile(JoinPath(dir, kBridgeMetadataFile), BridgeMetadataToJson(out).dump(2) + "\n"));
  if (saved != nullptr) *saved = out;
  return absl::OkStatus();
}

absl::StatusOr<BridgeMetadata> ReadBridgeMetadata(const std::string& dir) {
  const std::string path = JoinPath(dir, kBridgeMetadataFile);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  auto metadata = BridgeMetadataFromJson(json);
  if (!metadata.ok()) {
    return absl::Status(metadata.status().code(),
                        absl::StrCat(path, ": ", metadata.status().message()));
  }
  return metadata;
}

absl::StatusOr<SenderHalf> LoadSenderHalf(const std::string& dir) {
  LIP_ASSIGN_OR_RETURN(BridgeMetadata metadata, ReadBridgeMetadata(dir));
  const std::string path = JoinPath(dir, kSenderHalfFile);
  LIP_RETURN_IF_ERROR(CheckFileDigest(path, metadata.sender_file_digest));
  SenderHalf half;
  half.encoder = SenderEncoder(metadata.sender);
  LIP_RETURN_IF_ERROR(LoadModuleTensors(path, *half.encoder));
  half.encoder->eval();
  for (auto& parameter : half.encoder->parameters()) parameter.set_requires_grad(false);
  half.metadata = std::move(metadata);
  return half;
}

absl::StatusOr<ReceiverHalf> LoadReceiverHalf(const std::string& dir) {
  LIP_ASSIGN_OR_RETURN(BridgeMetadata metadata, ReadBridgeMetadata(dir));
  const std::string path = JoinPath(dir, kReceiverHalfFile);
  LIP_RETURN_IF_ERROR(CheckFileDigest(path, metadata.receiver_file_digest));
  ReceiverHalf half;
  half.adapter = ReceiverAdapter(metadata.receiver.adapter);
  LIP_RETURN_IF_ERROR(LoadModuleTensors(path, *half.adapter, "adapter."));
  half.adapter->eval();
  for (auto& parameter : half.adapter->parameters()) parameter.set_requires_grad(false);
  half.metadata = std::move(metadata);
  return half;
}

}  // namespace lip
