#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/lipctl_command.h"

namespace lip {

absl::StatusOr<LipctlArgs> LipctlArgs::Parse(const std::vector<std::string>& args,
                                             const std::set<std::string>& flags_with_value,
                                             const std::set<std::string>& bool_flags) {
  LipctlArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      parsed.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (bool_flags.count(name) > 0) {
      if (inline_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value (got \"", value, "\")"));
      }
      parsed.values_[name] = inline_value ? value : "true";
      continue;
    }
    if (flags_with_value.count(name) == 0) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!inline_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i];
    }
    parsed.values_[name] = value;
  }
  return parsed;
}

std::string LipctlArgs::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<long long> LipctlArgs::GetInt(const std::string& flag, long long fallback, long long min,
                                             long long max) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  long long value;
  if (!absl::SimpleAtoi(it->second, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " is \"", it->second, "\", expected an integer in [", min, ", ", max, "]"));
  }
  return value;
}

}  // namespace lip
