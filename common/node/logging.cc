#include "common/node/logging.h"

#include <atomic>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lip {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_sink_mu;
std::FILE* g_sink = nullptr;  // nullptr = stderr; guarded by g_sink_mu

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("log level \"", name, "\" is not one of debug, info, warning, error"));
}

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "unknown";
}

void SetMinLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }
LogLevel MinLogLevel() { return static_cast<LogLevel>(g_min_level.load()); }

void SetLogSink(std::FILE* sink) {
  std::lock_guard<std::mutex> lock(g_sink_mu);
  g_sink = sink;
}

std::string FormatLogLine(LogLevel level, absl::string_view component, absl::string_view message,
                          const nlohmann::json& fields) {
  nlohmann::ordered_json line;
  line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = LogLevelName(level);
  line["component"] = std::string(component);
  line["msg"] = std::string(message);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      // Fixed keys win; a field named like one is kept under "field.<key>".
      if (line.contains(it.key())) {
        line["field." + it.key()] = it.value();
      } else {
        line[it.key()] = it.value();
      }
    }
  } else if (!fields.is_null()) {
    line["fields"] = fields;
  }
  // Invalid UTF-8 in a message must not throw out of a log call.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Log(LogLevel level, absl::string_view component, absl::string_view message,
         const nlohmann::json& fields) {
  if (static_cast<int>(level) < g_min_level.load()) return;
  const std::string text = FormatLogLine(level, component, message, fields);
  std::lock_guard<std::mutex> lock(g_sink_mu);
  std::FILE* out = g_sink != nullptr ? g_sink : stderr;
  std::fwrite(text.data(), 1, text.size(), out);
  std::fputc('\n', out);
  std::fflush(out);
}

}  // namespace lip
