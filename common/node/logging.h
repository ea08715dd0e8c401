// Structured logs: one JSON object per line on stderr (or a file), e.g.
//   {"time":"2026-11-23T14:50:01.123Z","level":"info","component":"registry",
//    "msg":"stored bridge","name":"demo","version":3}
// There is no absl/log in this toolchain; this is the one logging facility of
// every LIP binary. Thread-safe: lines from several threads never interleave.
#ifndef LIP_COMMON_NODE_LOGGING_H_
#define LIP_COMMON_NODE_LOGGING_H_

#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lip {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug" | "info" | "warning" (or "warn") | "error"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
const char* LogLevelName(LogLevel level);

// Lines below this level are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// Where lines go. Default: stderr. The FILE is not owned; it must outlive all
// logging. Passing nullptr restores stderr.
void SetLogSink(std::FILE* sink);

// Writes one line. `fields` must be a JSON object (or null); its keys are
// merged after time/level/component/msg.
void Log(LogLevel level, absl::string_view component, absl::string_view message,
         const nlohmann::json& fields = nullptr);

// Renders the line Log() would write, without the trailing newline. Exposed
// for tests and for tools that log elsewhere.
std::string FormatLogLine(LogLevel level, absl::string_view component, absl::string_view message,
                          const nlohmann::json& fields);

inline void LogDebug(absl::string_view component, absl::string_view message,
                     const nlohmann::json& fields = nullptr) {
  Log(LogLevel::kDebug, component, message, fields);
}
inline void LogInfo(absl::string_view component, absl::string_view message,
                    const nlohmann::json& fields = nullptr) {
  Log(LogLevel::kInfo, component, message, fields);
}
inline void LogWarning(absl::string_view component, absl::string_view message,
                       const nlohmann::json& fields = nullptr) {
  Log(LogLevel::kWarning, component, message, fields);
}
inline void LogError(absl::string_view component, absl::string_view message,
                     const nlohmann::json& fields = nullptr) {
  Log(LogLevel::kError, component, message, fields);
}

}  // namespace lip

#endif  // LIP_COMMON_NODE_LOGGING_H_
