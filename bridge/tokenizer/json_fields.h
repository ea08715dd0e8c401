// Typed field access for tokenizer.json objects, with errors that name the component and field.
// Pure functions; thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_JSON_FIELDS_H_
#define LIP_BRIDGE_TOKENIZER_JSON_FIELDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

// spec[key] as a string; INVALID_ARGUMENT "<component>: field \"key\" ..." if missing or not a string.
absl::StatusOr<std::string> JsonString(const nlohmann::json& spec, absl::string_view key,
                                       absl::string_view component);
// spec[key] as a bool; `fallback` when missing or null; INVALID_ARGUMENT if another type.
absl::StatusOr<bool> JsonBool(const nlohmann::json& spec, absl::string_view key, absl::string_view component,
                              bool fallback);
// spec["pattern"] = {"String": s} -> s. A {"Regex": r} pattern gives UNIMPLEMENTED naming r.
absl::StatusOr<std::string> JsonPatternString(const nlohmann::json& spec, absl::string_view component);

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_JSON_FIELDS_H_
