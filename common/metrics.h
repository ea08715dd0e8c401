// Prometheus metrics with the shape of prometheus-cpp's API, so that switching
// to prometheus-cpp later touches this file only:
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
// Ownership: the Registry owns its families, a Family owns its metrics; the
// references handed out stay valid as long as the Registry lives.
// Thread-safety: everything here is safe to use from several threads.
#ifndef LIP_COMMON_METRICS_H_
#define LIP_COMMON_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lip {
namespace metrics {

using Labels = std::map<std::string, std::string>;

enum class MetricType { kCounter, kGauge, kHistogram };

// ---- snapshots (what Collect() returns and the serializer reads) ----------

struct ClientMetric {
  struct Label {
    std::string name;
    std::string value;
  };
  struct Bucket {
    double upper_bound = 0;        // +Inf for the last bucket
    uint64_t cumulative_count = 0;
  };
  std::vector<Label> label;
  double value = 0;                  // counter / gauge
  uint64_t sample_count = 0;         // histogram
  double sample_sum = 0;             // histogram
  std::vector<Bucket> bucket;        // histogram, ascending, last is +Inf
};

struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<ClientMetric> metric;
};

// ---- metric kinds ----------------------------------------------------------

// Monotonic counter. Increment() with a negative amount is ignored.
class Counter {
 public:
  void Increment(double amount = 1.0);
  double Value() const;
  ClientMetric Collect() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Increment(double amount = 1.0);
  void Decrement(double amount = 1.0);
  void Set(double value);
  double Value() const;
  ClientMetric Collect() const;

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative histogram with fixed upper bounds (an implicit +Inf bucket is added).
class Histogram {
 public:
  using BucketBoundaries = std::vector<double>;
  // `boundaries` must be strictly increasing; unsorted or duplicate values are
  // sorted and de-duplicated.
  explicit Histogram(BucketBoundaries boundaries);
  void Observe(double value);
  ClientMetric Collect() const;

 private:
  BucketBoundaries boundaries_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0;
};

// Latency buckets in milliseconds used across LIP: 0.1 ms .. 60 s.
Histogram::BucketBoundaries DefaultLatencyBucketsMs();

// ---- families --------------------------------------------------------------

class Collectable {
 public:
  virtual ~Collectable() = default;
  virtual MetricFamily Collect() const = 0;
};

// All metrics of one name, one per distinct label set. Labels given to the
// builder are constant labels merged into every metric.
template <typename T>
class Family : public Collectable {
 public:
  Family(std::string name, std::string help, Labels constant_labels)
      : name_(std::move(name)), help_(std::move(help)), constant_labels_(std::move(constant_labels)) {}

  // Returns the metric with these labels, creating it with `args` (e.g. the
  // histogram's boundaries) on first use. Same labels -> same object.
  template <typename... Args>
  T& Add(const Labels& labels, Args&&... args) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = metrics_.find(labels);
    if (it == metrics_.end()) {
      it = metrics_.emplace(labels, std::make_unique<T>(std::forward<Args>(args)...)).first;
    }
    return *it->second;
  }

  MetricFamily Collect() const override;

 private:
  const std::string name_;
  const std::string help_;
  const Labels constant_labels_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> metrics_;
};

// Owns families. Registering a second family of the same name and type
// returns the first one; the same name with another type aborts (a
// programming error, as in prometheus-cpp).
class Registry {
 public:
  template <typename T>
  Family<T>& AddFamily(const std::string& name, const std::string& help, const Labels& labels);
  std::vector<MetricFamily> Collect() const;

 private:
  mutable std::mutex mu_;
  struct Entry {
    MetricType type;
    std::unique_ptr<Collectable> family;
  };
  std::vector<std::pair<std::string, Entry>> families_;  // registration order
};

// ---- builders --------------------------------------------------------------

template <typename T>
class Builder {
 public:
  Builder& Name(const std::string& name) { name_ = name; return *this; }
  Builder& Help(const std::string& help) { help_ = help; return *this; }
  Builder& Labels(const metrics::Labels& labels) { labels_ = labels; return *this; }
  Family<T>& Register(Registry& registry) { return registry.AddFamily<T>(name_, help_, labels_); }

 private:
  std::string name_;
  std::string help_;
  metrics::Labels labels_;
};

inline Builder<Counter> BuildCounter() { return {}; }
inline Builder<Gauge> BuildGauge() { return {}; }
inline Builder<Histogram> BuildHistogram() { return {}; }

// ---- exposition ------------------------------------------------------------

// Prometheus text exposition format 0.0.4.
class TextSerializer {
 public:
  std::string Serialize(const std::vector<MetricFamily>& families) const;
};

// Content-Type header value for TextSerializer's output.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace metrics
}  // namespace lip

#endif  // LIP_COMMON_METRICS_H_
