#include "bridge/tokenizer/normalizer.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bridge/tokenizer/json_fields.h"
#include "bridge/tokenizer/unicode_text.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

std::string ToUtf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

// NFC / NFD / NFKC / NFKD through ICU's normalizer instances (which are thread-safe singletons).
class UnicodeNormalization final : public Normalizer {
 public:
  explicit UnicodeNormalization(const icu::Normalizer2* normalizer) : normalizer_(normalizer) {}
  std::string Normalize(std::string_view text) const override {
    // ASCII is unchanged by all four forms; skip the UTF-16 round trip for it.
    if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
      return std::string(text);
    }
    UErrorCode status = U_ZERO_ERROR;
    icu::UnicodeString normalized = normalizer_->normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))),
        status);
    if (U_FAILURE(status)) return std::string(text);  // ICU fails only on allocation failure
    return ToUtf8(normalized);
  }

 private:
  const icu::Normalizer2* normalizer_;
};

class Lowercase final : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override {
    icu::UnicodeString s =
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
    s.toLower(icu::Locale::getRoot());
    return ToUtf8(s);
  }
};

// Removes combining marks (general category Mn), as tokenizers' StripAccents does.
class StripAccents final : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override {
    std::string out;
    for (const CodePoint& cp : DecodeUtf8(text)) {
      if (u_charType(static_cast<UChar32>(cp.value)) != U_NON_SPACING_MARK) AppendUtf8(cp.value, &out);
    }
    return out;
  }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string Normalize(std::string_view text) const override {
    const std::vector<CodePoint> cps = DecodeUtf8(text);
    size_t b = 0, e = cps.size();
    if (left_) while (b < e && IsWhitespace(cps[b].value)) ++b;
    if (right_) while (e > b && IsWhitespace(cps[e - 1].value)) --e;
    if (b == e) return "";
    return std::string(text.substr(cps[b].byte_begin, cps[e - 1].byte_end - cps[b].byte_begin));
  }

 private:
  bool left_, right_;
};

// Prepends a string to non-empty text (tokenizers leaves empty text alone).
class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Normalize(std::string_view text) const override {
    if (text.empty()) return "";
    return prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  std::string Normalize(std::string_view text) const override {
    return absl::StrReplaceAll(absl::string_view(text.data(), text.size()), {{from_, to_}});
  }

 private:
  std::string from_, to_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  std::string Normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& part : parts_) s = part->Normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

absl::StatusOr<const icu::Normalizer2*> IcuInstance(const std::string& type) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  if (type == "NFC") n = icu::Normalizer2::getNFCInstance(status);
  if (type == "NFD") n = icu::Normalizer2::getNFDInstance(status);
  if (type == "NFKC") n = icu::Normalizer2::getNFKCInstance(status);
  if (type == "NFKD") n = icu::Normalizer2::getNFKDInstance(status);
  if (n == nullptr || U_FAILURE(status)) {
    return absl::InternalError(absl::StrCat("ICU has no ", type, " normalizer: ", u_errorName(status)));
  }
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::FromJson(const nlohmann::json& spec) {
  auto type = JsonString(spec, "type", "normalizer");
  if (!type.ok()) return type.status();
  if (*type == "NFC" || *type == "NFD" || *type == "NFKC" || *type == "NFKD") {
    auto instance = IcuInstance(*type);
    if (!instance.ok()) return instance.status();
    return std::make_unique<UnicodeNormalization>(*instance);
  }
  if (*type == "Lowercase") return std::make_unique<Lowercase>();
  if (*type == "StripAccents") return std::make_unique<StripAccents>();
  if (*type == "Strip") {
    auto left = JsonBool(spec, "strip_left", "Strip normalizer", true);
    auto right = JsonBool(spec, "strip_right", "Strip normalizer", true);
    if (!left.ok()) return left.status();
    if (!right.ok()) return right.status();
    return std::make_unique<Strip>(*left, *right);
  }
  if (*type == "Prepend") {
    auto prefix = JsonString(spec, "prepend", "Prepend normalizer");
    if (!prefix.ok()) return prefix.status();
    return std::make_unique<Prepend>(*prefix);
  }
  if (*type == "Replace") {
    auto from = JsonPatternString(spec, "Replace normalizer");
    auto to = JsonString(spec, "content", "Replace normalizer");
    if (!from.ok()) return from.status();
    if (!to.ok()) return to.status();
    return std::make_unique<Replace>(*from, *to);
  }
  if (*type == "Sequence") {
    auto it = spec.find("normalizers");
    if (it == spec.end() || !it->is_array()) {
      return absl::InvalidArgumentError("Sequence normalizer has no \"normalizers\" array");
    }
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& part : *it) {
      auto n = FromJson(part);
      if (!n.ok()) return n.status();
      parts.push_back(std::move(*n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  return absl::UnimplementedError(absl::StrCat("normalizer type \"", *type, "\" is not supported"));
}

}  // namespace lip
