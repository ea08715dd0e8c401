#include "server/sender/sender_service.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/node/logging.h"
#include "common/node/peer_identity.h"
#include "common/wire/status_macros.h"
#include "bridge/latent/latent_packet.h"
#include "bridge/latent/text_relay.h"
#include "bridge/latent/bridge_proto.h"
#include "bridge/latent/joint_rescoring.h"
#include "common/node/grpc_status.h"
#include "server/receiver_selection.h"

namespace lip {
namespace {

double MsSince(absl::Time start) { return absl::ToDoubleMilliseconds(absl::Now() - start); }

absl::Time DeadlineOf(const grpc::ServerContext& context) { return absl::FromChrono(context.deadline()); }

// Polled by the batcher while a call waits for its batch.
TextBatcher::CallerGone GoneWith(grpc::ServerContext* context) {
  return [context] { return context->IsCancelled(); };
}

}  // namespace

SenderService::SenderService(const SenderPipeline* pipeline, RegistryClient* registry,
                             metrics::Registry* metrics, SenderServiceOptions options)
    : pipeline_(pipeline),
      registry_(registry),
      options_(std::move(options)),
      messages_(*metrics, "lip_sender_messages_total", "Messages handled, by RPC and status code"),
      rpc_(*metrics, "lip.v1.Sender", &messages_),
      stage_ms_(metrics::BuildHistogram().Name("lip_stage_ms")
                    .Help("Per-message time in each stage (ms)").Register(*metrics)),
      wire_bytes_(metrics::BuildCounter().Name("lip_sender_wire_bytes_total")
                      .Help("Bytes sent to receivers: serialized packets (latent) or relayed text")
                      .Register(*metrics)),
      soft_tokens_(metrics::BuildHistogram().Name("lip_sender_soft_tokens")
                       .Help("Soft tokens (M) per encoded message").Register(*metrics)
                       .Add({}, metrics::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})),
      failovers_(metrics::BuildCounter().Name("lip_sender_failovers_total")
                     .Help("Messages sent again to another receiver after an UNAVAILABLE one")
                     .Register(*metrics).Add({})),
      breaker_(options_.breaker_open_for),
      batcher_(pipeline, options_.batching, metrics),
      fanout_(options_.fanout ? options_.fanout : std::make_shared<const FanOutBridges>(pipeline->bridge())) {}

absl::Status SenderService::Authorize(grpc::ServerContext* context) const {
  auto peer = PeerIdentityFromContext(*context, options_.insecure);
  if (!peer.ok()) return peer.status();
  return RequireRole(*peer, {Role::kAdmin, Role::kSender}, "use a sender");
}

absl::StatusOr<lip::v1::EncodeResponse> SenderService::EncodeText(const lip::v1::EncodeRequest& request,
                                                                  absl::Time deadline,
                                                                  const TextBatcher::CallerGone& gone,
                                                                  EncodeStages* stages) {
  if (request.text().empty()) return absl::InvalidArgumentError("Encode: text is empty");
  const absl::Time start = absl::Now();
  Batched<EncodedText> encoded = batcher_.Encode(request.text(), deadline, gone);
  if (stages != nullptr) stages->queue_ms = encoded.queue_ms;
  if (!encoded.result.ok()) return encoded.result.status();
  if (stages != nullptr) {
    stages->pipeline_ms = encoded.result->encode_ms;
    stages->device_ms = encoded.result->device_ms;
  }
  auto packet = PacketFor(*encoded.result, request, pipeline_->bridge());
  if (!packet.ok()) return packet.status();
  lip::v1::EncodeResponse response;
  *response.mutable_packet() = *std::move(packet);
  response.set_encode_ms(MsSince(start));
  return response;
}

absl::StatusOr<lip::v1::LipPacket> SenderService::PacketFor(const EncodedText& encoded,
                                                            const lip::v1::EncodeRequest& request,
                                                            const BridgeMetadata& bridge) const {
  LatentPacketOptions packet_options;
  packet_options.dtype = request.wire_dtype() == lip::v1::DTYPE_UNSPECIFIED ? options_.default_dtype
                                                                            : request.wire_dtype();
  packet_options.conversation_id = request.conversation_id();
  packet_options.sequence = request.sequence();
  packet_options.receiver_model = request.receiver_model();
  packet_options.priming = request.priming();
  packet_options.task = request.task();
  return PacketFromLatent(EncodedForBridge(encoded, bridge), bridge, pipeline_->model_id(), packet_options);
}

absl::StatusOr<std::vector<SenderService::Target>> SenderService::ResolveReceivers(
    const std::string& address, const lip::v1::ModelId& receiver_model, const BridgeMetadata& bridge) {
  if (!address.empty()) return std::vector<Target>{{address, address}};
  if (registry_ == nullptr) {
    return absl::FailedPreconditionError(
        "no receiver_address given and this sender has no registry to resolve one");
  }
  const std::string wanted =
      receiver_model.name().empty() ? bridge.receiver_model.name : receiver_model.name();
  auto nodes = ListReceivers();
  if (!nodes.ok()) return nodes.status();
  auto receivers = ReceiversServingBridge(*nodes, wanted, BridgeIdToProto(bridge));
  if (!receivers.ok()) return receivers.status();
  // Spread messages over the receivers that serve this bridge; recently failed ones go last.
  static std::atomic<uint64_t> next{0};
  const size_t first = next.fetch_add(1) % receivers->size();
  std::vector<std::string> addresses;
  std::map<std::string, std::string> node_ids;
  for (size_t i = 0; i < receivers->size(); ++i) {
    const lip::v1::NodeInfo& node = (*receivers)[(first + i) % receivers->size()];
    addresses.push_back(node.address());
    node_ids[node.address()] = node.node_id();
  }
  std::vector<Target> targets;
  for (const std::string& healthy : breaker_.HealthyFirst(addresses, absl::Now())) {
    targets.push_back({healthy, node_ids[healthy]});
  }
  return targets;
}

absl::StatusOr<std::vector<lip::v1::NodeInfo>> SenderService::ListReceivers() {
  const absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - receiver_list_fetched_ < options_.receiver_list_ttl) return receiver_list_;
  }
  // Asked without the lock: concurrent messages may both ask once, none waits behind the registry.
  auto nodes = registry_->ListNodes(lip::v1::NODE_ROLE_RECEIVER);
  if (!nodes.ok()) return nodes.status();
  std::lock_guard<std::mutex> lock(mu_);
  receiver_list_ = *nodes;
  receiver_list_fetched_ = now;
  return nodes;
}

absl::StatusOr<lip::v1::SendLatentResponse> SenderService::CallReceiver(
    const std::vector<Target>& targets, const ReceiverCall& call, uint64_t* bytes, Target* used,
    double* round_trip_ms) {
  absl::StatusOr<lip::v1::SendLatentResponse> answer = absl::UnavailableError("no receiver to call");
  const size_t attempts = std::min<size_t>(targets.size(), 2);
  for (size_t attempt = 0; attempt < attempts; ++attempt) {
    const Target& target = targets[attempt];
    *used = target;
    auto client = ClientFor(target.address);
    if (!client.ok()) return client.status();
    const absl::Time sent = absl::Now();
    uint64_t attempt_bytes = 0;
    answer = call(**client, &attempt_bytes);
    *bytes = attempt_bytes;
    *round_trip_ms = MsSince(sent);
    RecordLink(target, answer.ok(), attempt_bytes, *round_trip_ms);
    if (answer.ok()) {
      breaker_.RecordSuccess(target.address);
      return answer;
    }
    if (answer.status().code() != absl::StatusCode::kUnavailable) return answer;
    breaker_.RecordFailure(target.address, absl::Now());
    {
      std::lock_guard<std::mutex> lock(mu_);
      receiver_list_fetched_ = absl::InfinitePast();  // the next message asks the registry again
    }
    if (attempt + 1 < attempts) {
      failovers_.Increment();
      LogWarning("sender", "receiver unavailable; sending the message to another receiver",
                 {{"failed", target.address}, {"next", targets[attempt + 1].address},
                  {"error", answer.status().ToString()}});
    }
  }
  return answer;
}

absl::StatusOr<ReceiverClient*> SenderService::ClientFor(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(address);
  if (it != clients_.end()) return it->second.get();
  ClientOptions options;
  options.address = address;
  options.tls = options_.outbound_tls;
  options.timeout = options_.receiver_timeout;
  options.compact_wire = options_.compact_wire;
  auto client = ReceiverClient::Connect(options);
  if (!client.ok()) return client.status();
  ReceiverClient* raw = client->get();
  clients_[address] = *std::move(client);
  return raw;
}

void SenderService::RecordLink(const Target& target, bool ok, uint64_t bytes, double latency_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  lip::v1::LinkStats& link = links_[target.node_id];
  link.set_from_node(options_.node_id);
  link.set_to_node(target.node_id);
  link.set_messages(link.messages() + 1);
  if (!ok) link.set_errors(link.errors() + 1);
  link.set_bytes(link.bytes() + bytes);
  link.set_latency_ms_sum(link.latency_ms_sum() + latency_ms);
  link.set_latency_ms_max(std::max(link.latency_ms_max(), latency_ms));
}

std::vector<lip::v1::LinkStats> SenderService::TakeLinkStats() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<lip::v1::LinkStats> out;
  for (auto& [id, link] : links_) out.push_back(link);
  links_.clear();
  return out;
}

void SenderService::ObserveEncodeStages(const EncodeStages& stages, double encode_ms) {
  const auto buckets = metrics::DefaultLatencyBucketsMs();
  stage_ms_.Add({{"stage", "sender_queue"}}, buckets).Observe(stages.queue_ms);
  stage_ms_.Add({{"stage", "sender_pipeline"}}, buckets).Observe(stages.pipeline_ms);
  stage_ms_.Add({{"stage", "sender_device"}}, buckets).Observe(stages.device_ms);
  stage_ms_.Add({{"stage", "encode"}}, buckets).Observe(encode_ms);
}

grpc::Status SenderService::Encode(grpc::ServerContext* context, const lip::v1::EncodeRequest* request,
                                   lip::v1::EncodeResponse* response) {
  return rpc_.Serve(context, "Encode", [&] { return Authorize(context); }, [&]() -> absl::Status {
    EncodeStages stages;
    LIP_ASSIGN_OR_RETURN(*response, EncodeText(*request, DeadlineOf(*context), GoneWith(context), &stages));
    soft_tokens_.Observe(response->packet().soft_token_count());
    ObserveEncodeStages(stages, response->encode_ms());
    return absl::OkStatus();
  });
}

grpc::Status SenderService::Send(grpc::ServerContext* context, const lip::v1::SendRequest* request,
                                 lip::v1::SendResponse* response) {
  const absl::Time start = absl::Now();
  return rpc_.Serve(context, "Send", [&] { return Authorize(context); }, [&]() -> absl::Status {
    EncodeStages stages;
    LIP_ASSIGN_OR_RETURN(const lip::v1::EncodeResponse encoded,
                         EncodeText(request->encode(), DeadlineOf(*context), GoneWith(context), &stages));
    LIP_ASSIGN_OR_RETURN(const std::vector<Target> targets,
                         ResolveReceivers(request->receiver_address(), request->encode().receiver_model(),
                                          pipeline_->bridge()));
    uint64_t wire_bytes = 0;
    Target target;
    double round_trip_ms = 0;
    const ReceiverCall send_packet = [&](ReceiverClient& client, uint64_t* bytes) {
      LatentSendInfo info;
      auto sent = client.SendLatent(encoded.packet(), context, &info);  // our caller's deadline and cancel
      *bytes = info.wire_bytes;
      return sent;
    };
    LIP_ASSIGN_OR_RETURN(const lip::v1::SendLatentResponse answer,
                         CallReceiver(targets, send_packet, &wire_bytes, &target, &round_trip_ms));

    wire_bytes_.Add({{"path", "latent"}}).Increment(static_cast<double>(wire_bytes));
    soft_tokens_.Observe(encoded.packet().soft_token_count());
    *response->mutable_answer() = answer;
    lip::v1::StageTimings* timings = response->mutable_timings();
    *timings = answer.timings();
    timings->set_encode_ms(encoded.encode_ms());
    timings->set_sender_queue_ms(stages.queue_ms);
    timings->set_sender_pipeline_ms(stages.pipeline_ms);
    timings->set_wire_ms(std::max(0.0, round_trip_ms - answer.timings().total_ms()));
    timings->set_total_ms(MsSince(start));
    response->set_wire_bytes(wire_bytes);
    response->set_text_bytes(request->encode().text().size());
    response->set_receiver_address(target.address);
    ObserveEncodeStages(stages, timings->encode_ms());
    const auto buckets = metrics::DefaultLatencyBucketsMs();
    stage_ms_.Add({{"stage", "wire"}}, buckets).Observe(timings->wire_ms());
    stage_ms_.Add({{"stage", "total"}}, buckets).Observe(timings->total_ms());
    return absl::OkStatus();
  });
}

grpc::Status SenderService::RelayText(grpc::ServerContext* context,
                                      const lip::v1::RelayTextRequest* request,
                                      lip::v1::RelayTextResponse* response) {
  const absl::Time start = absl::Now();
  return rpc_.Serve(context, "RelayText", [&] { return Authorize(context); }, [&]() -> absl::Status {
    if (request->text().empty()) return absl::InvalidArgumentError("RelayText: text is empty");
    // The sender writes its message about the text (kTextRelayFrame); an empty or short message is
    // still delivered and answered.
    const int budget = request->max_new_tokens() == 0 ? kDefaultRelayTokens
                                                      : static_cast<int>(request->max_new_tokens());
    const absl::Time generate_start = absl::Now();
    Batched<GeneratedText> batched =
        batcher_.Relay(request->text(), budget, DeadlineOf(*context), GoneWith(context));
    LIP_RETURN_IF_ERROR(batched.result.status());
    const std::string& relayed = batched.result->text;
    const double generate_ms = MsSince(generate_start);  // the wait for a batch included
    LIP_ASSIGN_OR_RETURN(const std::vector<Target> targets,
                         ResolveReceivers(request->receiver_address(), request->receiver_model(), pipeline_->bridge()));
    lip::v1::SendTextRequest text_request;
    text_request.set_text(relayed);
    if (request->task().has_classify() || request->task().has_generate()) {
      *text_request.mutable_task() = request->task();
    } else {
      for (const auto& label : pipeline_->bridge().labels) {
        text_request.mutable_task()->mutable_classify()->add_labels(label);
      }
    }
    Target target;
    double round_trip_ms = 0;
    uint64_t sent_bytes = 0;
    const ReceiverCall send_text = [&](ReceiverClient& client, uint64_t* bytes) {
      *bytes = relayed.size();
      return client.SendText(text_request, context);
    };
    LIP_ASSIGN_OR_RETURN(const lip::v1::SendLatentResponse answer,
                         CallReceiver(targets, send_text, &sent_bytes, &target, &round_trip_ms));
    wire_bytes_.Add({{"path", "text"}}).Increment(static_cast<double>(relayed.size()));
    response->set_relayed_text(relayed);
    *response->mutable_answer() = answer;
    lip::v1::StageTimings* timings = response->mutable_timings();
    *timings = answer.timings();
    timings->set_encode_ms(generate_ms);
    timings->set_wire_ms(std::max(0.0, round_trip_ms - answer.timings().total_ms()));
    timings->set_total_ms(MsSince(start));
    response->set_wire_bytes(relayed.size());
    return absl::OkStatus();
  });
}

void SenderService::SendToTarget(grpc::ServerContext* context, const lip::v1::FanOutTarget& target,
                                 const lip::v1::LipPacket& packet, const BridgeMetadata& bridge,
                                 lip::v1::ReceiverOutcome* outcome) {
  *outcome->mutable_receiver_model() = target.receiver_model();
  *outcome->mutable_bridge() = BridgeIdToProto(bridge);
  auto fail = [&](const absl::Status& status) {
    lip::v1::MessageError* error = outcome->mutable_error();
    error->set_code(static_cast<int32_t>(status.code()));
    error->set_reason(ErrorReasonOf(status));
    error->set_message(absl::StrCat("receiver model ", target.receiver_model().name(),
                                    outcome->receiver_address().empty() ? "" : " at " + outcome->receiver_address(),
                                    ": ", status.message()));
  };
  auto targets = ResolveReceivers(target.receiver_address(), target.receiver_model(), bridge);
  if (!targets.ok()) return fail(targets.status());
  uint64_t wire_bytes = 0;
  Target used;
  double round_trip_ms = 0;
  const ReceiverCall send_packet = [&](ReceiverClient& client, uint64_t* bytes) {
    LatentSendInfo info;
    auto sent = client.SendLatent(packet, context, &info);
    *bytes = info.wire_bytes;
    return sent;
  };
  auto answer = CallReceiver(*targets, send_packet, &wire_bytes, &used, &round_trip_ms);
  outcome->set_receiver_address(used.address);
  outcome->set_wire_bytes(wire_bytes);
  if (!answer.ok()) return fail(answer.status());
  wire_bytes_.Add({{"path", "latent"}}).Increment(static_cast<double>(wire_bytes));
  lip::v1::StageTimings* timings = outcome->mutable_timings();
  *timings = answer->timings();
  timings->set_wire_ms(std::max(0.0, round_trip_ms - answer->timings().total_ms()));
  *outcome->mutable_answer() = *std::move(answer);
}

grpc::Status SenderService::SendFanOut(grpc::ServerContext* context, const lip::v1::SendFanOutRequest* request,
                                       lip::v1::SendFanOutResponse* response) {
  const absl::Time start = absl::Now();
  return rpc_.Serve(context, "SendFanOut", [&] { return Authorize(context); }, [&]() -> absl::Status {
    // The whole request is checked before anything is encoded or sent.
    const int count = request->targets_size();
    if (count == 0 || count > kMaxFanOutTargets) {
      return absl::InvalidArgumentError(absl::StrCat("SendFanOut: ", count, " targets, expected 1 to ",
                                                     kMaxFanOutTargets));
    }
    if (!request->encode().receiver_model().name().empty()) {
      return absl::InvalidArgumentError("SendFanOut: encode.receiver_model must be empty (each target names its own)");
    }
    std::vector<const BridgeMetadata*> bridges;
    for (int i = 0; i < count; ++i) {
      const std::string& name = request->targets(i).receiver_model().name();
      if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("SendFanOut: target ", i, " has no receiver_model"));
      for (int j = 0; j < i; ++j) {
        if (request->targets(j).receiver_model().name() == name) {
          return absl::InvalidArgumentError(absl::StrCat("SendFanOut: targets ", j, " and ", i,
                                                         " both name receiver model ", name));
        }
      }
      LIP_ASSIGN_OR_RETURN(const BridgeMetadata* bridge, fanout_->ForReceiver(name));
      bridges.push_back(bridge);
    }
    const lip::v1::Task& task = request->encode().task();
    const bool classify = !task.has_generate();
    // The labels every receiver scores: the task's, else each bridge's own, which must agree.
    std::vector<std::string> labels(task.classify().labels().begin(), task.classify().labels().end());
    if (classify && labels.empty()) {
      labels = bridges[0]->labels;
      for (int i = 1; i < count; ++i) {
        if (bridges[i]->labels != labels) {
          return absl::InvalidArgumentError(absl::StrCat(
              "SendFanOut: bridges \"", bridges[0]->name, "\" and \"", bridges[i]->name,
              "\" answer different labels; give the labels in task.classify to rescore them jointly"));
        }
      }
    }

    // One encode for every receiver.
    if (request->encode().text().empty()) return absl::InvalidArgumentError("SendFanOut: text is empty");
    const absl::Time encode_start = absl::Now();
    Batched<EncodedText> encoded = batcher_.Encode(request->encode().text(), DeadlineOf(*context), GoneWith(context));
    LIP_RETURN_IF_ERROR(encoded.result.status());
    const double encode_ms = MsSince(encode_start);
    std::vector<lip::v1::LipPacket> packets(count);
    for (int i = 0; i < count; ++i) {
      lip::v1::EncodeRequest for_target = request->encode();
      *for_target.mutable_receiver_model() = request->targets(i).receiver_model();
      LIP_ASSIGN_OR_RETURN(packets[i], PacketFor(*encoded.result, for_target, *bridges[i]));
    }
    soft_tokens_.Observe(packets[0].soft_token_count());

    // Every receiver at once; each outcome is its answer or its error.
    std::vector<lip::v1::ReceiverOutcome> outcomes(count);
    {
      std::vector<std::thread> calls;
      for (int i = 1; i < count; ++i) {
        calls.emplace_back([&, i] { SendToTarget(context, request->targets(i), packets[i], *bridges[i], &outcomes[i]); });
      }
      SendToTarget(context, request->targets(0), packets[0], *bridges[0], &outcomes[0]);
      for (std::thread& call : calls) call.join();
    }

    std::vector<std::vector<float>> scores;
    std::string failures;
    int failed = 0;
    for (lip::v1::ReceiverOutcome& outcome : outcomes) {
      outcome.mutable_timings()->set_encode_ms(encode_ms);
      if (outcome.has_error()) {
        ++failed;
        absl::StrAppend(&failures, failures.empty() ? "" : "; ", outcome.error().message());
      } else if (outcome.answer().has_classification()) {
        const auto& log_probs = outcome.answer().classification().log_probs();
        scores.emplace_back(log_probs.begin(), log_probs.end());
      }
      *response->add_outcomes() = std::move(outcome);
    }
    if (failed == count) {
      return absl::Status(static_cast<absl::StatusCode>(response->outcomes(0).error().code()),
                          absl::StrCat("SendFanOut: no receiver answered: ", failures));
    }
    if (classify && !scores.empty()) {
      LIP_ASSIGN_OR_RETURN(JointLabelScores joint, RescoreJointly(scores));
      lip::v1::JointAnswer* out = response->mutable_joint();
      out->set_label_index(static_cast<uint32_t>(joint.label_index));
      if (joint.label_index < int64_t(labels.size())) out->set_label(labels[joint.label_index]);
      for (double v : joint.log_probs) out->add_log_probs(static_cast<float>(v));
      for (double p : joint.probabilities) out->add_probabilities(static_cast<float>(p));
      out->set_receivers(static_cast<uint32_t>(scores.size()));
    }
    response->set_encode_ms(encode_ms);
    response->set_text_bytes(request->encode().text().size());
    response->set_total_ms(MsSince(start));
    const auto buckets = metrics::DefaultLatencyBucketsMs();
    stage_ms_.Add({{"stage", "sender_queue"}}, buckets).Observe(encoded.queue_ms);
    stage_ms_.Add({{"stage", "encode"}}, buckets).Observe(encode_ms);
    stage_ms_.Add({{"stage", "total"}}, buckets).Observe(response->total_ms());
    return absl::OkStatus();
  });
}

}  // namespace lip
