// Prometheus metrics for LIP nodes: prometheus-cpp's core library (registry,
// counters, gauges, histograms, text serializer) under LIP's names, so node
// code reads the same as with plain prometheus-cpp:
//
//   auto registry = std::make_shared<lip::metrics::Registry>();
//   auto& requests = lip::metrics::BuildCounter()
//                        .Name("lip_requests_total")
//                        .Help("RPCs handled, by method and status")
//                        .Register(*registry);
//   requests.Add({{"method", "SendLatent"}, {"code", "OK"}}).Increment();
//   auto& latency = lip::metrics::BuildHistogram().Name("lip_stage_ms").Help("...")
//                       .Register(*registry);
//   latency.Add({{"stage", "prefill"}}, lip::metrics::Histogram::BucketBoundaries{1, 5, 25})
//       .Observe(3.2);
//   std::string text = lip::metrics::TextSerializer().Serialize(registry->Collect());
//
// Contract (prometheus-cpp 1.0.1's, Debian 12):
// - Registering a second family of the same name, type and constant labels
//   returns the first one; the same name with another type (or other constant
//   labels) throws std::invalid_argument, as does an invalid metric or label
//   name. These are programming errors, found by the first test that builds the
//   service.
// - Family::Add returns the metric with those labels, creating it with the
//   extra arguments on first use (later calls ignore them); same labels, same
//   object. Histogram bucket boundaries must be strictly increasing (an
//   implicit +Inf bucket is added).
// - Counter::Increment with a negative amount is ignored.
// - Exposition lists a metric's constant labels first, then its own.
// Ownership: the Registry owns its families, a Family owns its metrics; the
// references handed out stay valid as long as the Registry lives.
// Thread-safety: everything here is safe to use from several threads.
//
// The one thing LIP adds is Builder::Help escaping: prometheus-cpp 1.0.1 writes
// HELP text verbatim, so a backslash or newline in it would break the text
// format (promtool rejects it); LIP's builders escape both.
#ifndef LIP_COMMON_NODE_METRICS_H_
#define LIP_COMMON_NODE_METRICS_H_

#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace lip {
namespace metrics {

using Labels = prometheus::Labels;
using Registry = prometheus::Registry;
using Counter = prometheus::Counter;
using Gauge = prometheus::Gauge;
using Histogram = prometheus::Histogram;
template <typename T>
using Family = prometheus::Family<T>;
using MetricFamily = prometheus::MetricFamily;
using TextSerializer = prometheus::TextSerializer;

// `help` with backslashes and newlines escaped as the text format's HELP line
// requires ("a\nb" -> "a\\nb").
std::string EscapeHelp(const std::string& help);

// prometheus-cpp's builder with Help() escaped (see the file comment).
template <typename T>
class Builder {
 public:
  Builder& Name(const std::string& name) { builder_.Name(name); return *this; }
  Builder& Help(const std::string& help) { builder_.Help(EscapeHelp(help)); return *this; }
  Builder& Labels(const metrics::Labels& labels) { builder_.Labels(labels); return *this; }
  Family<T>& Register(Registry& registry) { return builder_.Register(registry); }

 private:
  prometheus::detail::Builder<T> builder_;
};

inline Builder<Counter> BuildCounter() { return {}; }
inline Builder<Gauge> BuildGauge() { return {}; }
inline Builder<Histogram> BuildHistogram() { return {}; }

// Latency buckets in milliseconds used across LIP: 0.1 ms .. 60 s.
Histogram::BucketBoundaries DefaultLatencyBucketsMs();

// Content-Type header value for TextSerializer's output (text format 0.0.4).
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace metrics
}  // namespace lip

#endif  // LIP_COMMON_NODE_METRICS_H_
