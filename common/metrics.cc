#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"

namespace lip {
namespace metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + amount)) {
  }
}

template <typename T> constexpr MetricType TypeOf();
template <> constexpr MetricType TypeOf<Counter>() { return MetricType::kCounter; }
template <> constexpr MetricType TypeOf<Gauge>() { return MetricType::kGauge; }
template <> constexpr MetricType TypeOf<Histogram>() { return MetricType::kHistogram; }

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string FormatLabels(const std::vector<ClientMetric::Label>& labels,
                         const std::string& extra_name = "", const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& label : labels) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, label.name, "=\"", EscapeLabelValue(label.value), "\"");
  }
  if (!extra_name.empty()) {
    if (!first) out += ",";
    absl::StrAppend(&out, extra_name, "=\"", EscapeLabelValue(extra_value), "\"");
  }
  out += "}";
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void Counter::Increment(double amount) {
  if (amount < 0) return;
  AtomicAdd(value_, amount);
}
double Counter::Value() const { return value_.load(); }
ClientMetric Counter::Collect() const {
  ClientMetric metric;
  metric.value = Value();
  return metric;
}

void Gauge::Increment(double amount) { AtomicAdd(value_, amount); }
void Gauge::Decrement(double amount) { AtomicAdd(value_, -amount); }
void Gauge::Set(double value) { value_.store(value); }
double Gauge::Value() const { return value_.load(); }
ClientMetric Gauge::Collect() const {
  ClientMetric metric;
  metric.value = Value();
  return metric;
}

Histogram::Histogram(BucketBoundaries boundaries) : boundaries_(std::move(boundaries)) {
  std::sort(boundaries_.begin(), boundaries_.end());
  boundaries_.erase(std::unique(boundaries_.begin(), boundaries_.end()), boundaries_.end());
  counts_.assign(boundaries_.size() + 1, 0);
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(boundaries_.begin(), boundaries_.end(), value) - boundaries_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  counts_[bucket] += 1;
  sum_ += value;
}

ClientMetric Histogram::Collect() const {
  ClientMetric metric;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    ClientMetric::Bucket bucket;
    bucket.upper_bound =
        i < boundaries_.size() ? boundaries_[i] : std::numeric_limits<double>::infinity();
    bucket.cumulative_count = cumulative;
    metric.bucket.push_back(bucket);
  }
  metric.sample_count = cumulative;
  metric.sample_sum = sum_;
  return metric;
}

Histogram::BucketBoundaries DefaultLatencyBucketsMs() {
  return {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};
}

template <typename T>
MetricFamily Family<T>::Collect() const {
  MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = TypeOf<T>();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, metric] : metrics_) {
    ClientMetric snapshot = metric->Collect();
    Labels merged = constant_labels_;
    for (const auto& [name, value] : labels) merged[name] = value;
    for (const auto& [name, value] : merged) snapshot.label.push_back({name, value});
    family.metric.push_back(std::move(snapshot));
  }
  return family;
}

template <typename T>
Family<T>& Registry::AddFamily(const std::string& name, const std::string& help,
                               const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [existing_name, entry] : families_) {
    if (existing_name != name) continue;
    if (entry.type != TypeOf<T>()) {
      std::fprintf(stderr, "metrics: family %s registered twice with different types\n",
                   name.c_str());
      std::abort();
    }
    return static_cast<Family<T>&>(*entry.family);
  }
  auto family = std::make_unique<Family<T>>(name, help, labels);
  Family<T>& ref = *family;
  families_.push_back({name, Entry{TypeOf<T>(), std::move(family)}});
  return ref;
}

std::vector<MetricFamily> Registry::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MetricFamily> out;
  out.reserve(families_.size());
  for (const auto& [name, entry] : families_) out.push_back(entry.family->Collect());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;
template Family<Counter>& Registry::AddFamily<Counter>(const std::string&, const std::string&,
                                                       const Labels&);
template Family<Gauge>& Registry::AddFamily<Gauge>(const std::string&, const std::string&,
                                                   const Labels&);
template Family<Histogram>& Registry::AddFamily<Histogram>(const std::string&, const std::string&,
                                                           const Labels&);

std::string TextSerializer::Serialize(const std::vector<MetricFamily>& families) const {
  std::string out;
  for (const MetricFamily& family : families) {
    absl::StrAppend(&out, "# HELP ", family.name, " ", EscapeHelp(family.help), "\n");
    absl::StrAppend(&out, "# TYPE ", family.name, " ", TypeName(family.type), "\n");
    for (const ClientMetric& metric : family.metric) {
      if (family.type != MetricType::kHistogram) {
        absl::StrAppend(&out, family.name, FormatLabels(metric.label), " ",
                        FormatValue(metric.value), "\n");
        continue;
      }
      for (const auto& bucket : metric.bucket) {
        absl::StrAppend(&out, family.name, "_bucket",
                        FormatLabels(metric.label, "le", FormatValue(bucket.upper_bound)), " ",
                        bucket.cumulative_count, "\n");
      }
      absl::StrAppend(&out, family.name, "_sum", FormatLabels(metric.label), " ",
                      FormatValue(metric.sample_sum), "\n");
      absl::StrAppend(&out, family.name, "_count", FormatLabels(metric.label), " ",
                      metric.sample_count, "\n");
    }
  }
  return out;
}

}  // namespace metrics
}  // namespace lip
