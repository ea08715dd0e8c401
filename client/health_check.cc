#include "client/health_check.h"

#include <chrono>
#include <cstdint>
#include <future>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/node/grpc_status.h"

namespace lip {
namespace {

// Field 1 (wire type 2, length-delimited): the service name. Names longer than 127 bytes
// need a multi-byte length varint.
std::string EncodeRequest(const std::string& service) {
  std::string bytes;
  if (service.empty()) return bytes;
  bytes.push_back('\x0a');
  for (uint64_t n = service.size(); ; n >>= 7) {
    if (n < 0x80) { bytes.push_back(static_cast<char>(n)); break; }
    bytes.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  return bytes + service;
}

bool ReadVarint(const std::string& bytes, size_t* pos, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *pos < bytes.size(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(bytes[(*pos)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Reads field 1 (varint) and skips any field a newer health.proto may add.
absl::StatusOr<ServingStatus> DecodeResponse(const std::string& bytes) {
  uint64_t status = 0;  // absent field = UNKNOWN (proto3 default)
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t key = 0, value = 0;
    if (!ReadVarint(bytes, &pos, &key)) break;
    const uint64_t field = key >> 3, wire_type = key & 7;
    if (wire_type == 0) {
      if (!ReadVarint(bytes, &pos, &value)) break;
      if (field == 1) status = value;
    } else if (wire_type == 2) {
      if (!ReadVarint(bytes, &pos, &value) || value > bytes.size() - pos) break;
      pos += value;
    } else {
      return absl::DataLossError(absl::StrCat("health answer has field ", field, " of wire type ", wire_type));
    }
  }
  if (pos != bytes.size()) {
    return absl::DataLossError(absl::StrCat("health answer of ", bytes.size(), " bytes is truncated"));
  }
  if (status > 3) return absl::DataLossError(absl::StrCat("health answer has status ", status));
  return static_cast<ServingStatus>(status);
}

}  // namespace

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kServing: return "SERVING";
    case ServingStatus::kNotServing: return "NOT_SERVING";
    case ServingStatus::kServiceUnknown: return "SERVICE_UNKNOWN";
    case ServingStatus::kUnknown: break;
  }
  return "UNKNOWN";
}

absl::StatusOr<ServingStatus> CheckHealth(const ClientOptions& options, const std::string& service) {
  auto channel = MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  grpc::GenericStub stub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout)));
  const std::string request_bytes = EncodeRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::DataLossError("health answer could not be read");
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return DecodeResponse(bytes);
}

}  // namespace lip
