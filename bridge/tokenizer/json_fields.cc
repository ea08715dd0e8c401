#include "bridge/tokenizer/json_fields.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lip {

absl::StatusOr<std::string> JsonString(const nlohmann::json& spec, absl::string_view key,
                                       absl::string_view component) {
  if (!spec.is_object()) return absl::InvalidArgumentError(absl::StrCat(component, " is not a JSON object"));
  auto it = spec.find(std::string(key));
  if (it == spec.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(component, ": field \"", key, "\" is missing or not a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<bool> JsonBool(const nlohmann::json& spec, absl::string_view key, absl::string_view component,
                              bool fallback) {
  auto it = spec.find(std::string(key));
  if (it == spec.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat(component, ": field \"", key, "\" is ", it->dump(), ", expected true or false"));
  }
  return it->get<bool>();
}

absl::StatusOr<std::string> JsonPatternString(const nlohmann::json& spec, absl::string_view component) {
  auto it = spec.find("pattern");
  if (it == spec.end() || !it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(component, ": field \"pattern\" is missing"));
  }
  if (auto s = it->find("String"); s != it->end() && s->is_string()) return s->get<std::string>();
  if (auto r = it->find("Regex"); r != it->end()) {
    return absl::UnimplementedError(
        absl::StrCat(component, ": Regex pattern ", r->dump(), " is not supported (only String patterns)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(component, ": pattern ", it->dump(), " is not understood"));
}

}  // namespace lip
