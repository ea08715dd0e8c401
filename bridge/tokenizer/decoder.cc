#include "bridge/tokenizer/decoder.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "bridge/tokenizer/byte_level_alphabet.h"
#include "bridge/tokenizer/json_fields.h"
#include "bridge/tokenizer/unicode_text.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// Maps alphabet characters back to bytes; a token with any character outside the alphabet keeps
// its own bytes. The result is one lossy-UTF-8 string.
class ByteLevelDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& token : *tokens) {
      std::string token_bytes;
      bool all_in_alphabet = true;
      for (const CodePoint& cp : DecodeUtf8(token)) {
        auto b = AlphabetCharToByte(cp.value);
        if (!b) {
          all_in_alphabet = false;
          break;
        }
        token_bytes.push_back(static_cast<char>(*b));
      }
      bytes += all_in_alphabet ? token_bytes : token;
    }
    *tokens = {Utf8Lossy(bytes)};
  }
};

// Replacement character -> space; in the first token it is dropped instead when a prefix space was
// prepended at encoding time.
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool drop_in_first) : replacement_(replacement), drop_in_first_(drop_in_first) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string out;
      for (const CodePoint& cp : DecodeUtf8((*tokens)[i])) {
        if (cp.value == replacement_) {
          if (!(i == 0 && drop_in_first_)) out.push_back(' ');
        } else {
          AppendUtf8(cp.value, &out);
        }
      }
      (*tokens)[i] = std::move(out);
    }
  }

 private:
  char32_t replacement_;
  bool drop_in_first_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) t = absl::StrReplaceAll(t, {{from_, to_}});
  }

 private:
  std::string from_, to_;
};

// Runs of <0xXX> tokens become the bytes they name; a run that is not valid UTF-8 becomes one
// U+FFFD per byte, as in tokenizers.
class ByteFallbackDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (ValidateUtf8(pending).ok()) {
        out.push_back(pending);
      } else {
        std::string replacement;
        for (size_t k = 0; k < pending_count; ++k) replacement += "\xEF\xBF\xBD";
        out.push_back(replacement);
      }
      pending.clear();
      pending_count = 0;
    };
    for (std::string& token : *tokens) {
      if (auto byte = ParseByteToken(token)) {
        pending.push_back(static_cast<char>(*byte));
        ++pending_count;
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    *tokens = std::move(out);
  }

 private:
  static std::optional<unsigned char> ParseByteToken(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<unsigned char>(hi * 16 + lo);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    *tokens = {absl::StrJoin(*tokens, "")};
  }
};

// Removes up to `start` leading and `stop` trailing occurrences of one character from each token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& token : *tokens) {
      const std::vector<CodePoint> cps = DecodeUtf8(token);
      size_t b = 0, e = cps.size();
      while (b < e && b < start_ && cps[b].value == content_) ++b;
      size_t cut = 0;
      while (e > b && cut < stop_ && cps[e - 1].value == content_) {
        --e;
        ++cut;
      }
      token = b == e ? "" : token.substr(cps[b].byte_begin, cps[e - 1].byte_end - cps[b].byte_begin);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& part : parts_) part->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

absl::StatusOr<char32_t> SingleChar(const std::string& s, const char* component) {
  if (!ValidateUtf8(s).ok()) return absl::InvalidArgumentError(absl::StrCat(component, ": invalid UTF-8"));
  std::vector<CodePoint> cps = DecodeUtf8(s);
  if (cps.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(component, ": \"", s, "\" is not one character"));
  }
  return cps[0].value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::FromJson(const nlohmann::json& spec) {
  auto type = JsonString(spec, "type", "decoder");
  if (!type.ok()) return type.status();
  if (*type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (*type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (*type == "Fuse") return std::make_unique<FuseDecoder>();
  if (*type == "Metaspace") {
    auto replacement = JsonString(spec, "replacement", "Metaspace decoder");
    if (!replacement.ok()) return replacement.status();
    auto c = SingleChar(*replacement, "Metaspace decoder");
    if (!c.ok()) return c.status();
    bool drop_in_first;
    if (auto it = spec.find("prepend_scheme"); it != spec.end() && it->is_string()) {
      drop_in_first = it->get<std::string>() != "never";
    } else {
      auto add_prefix_space = JsonBool(spec, "add_prefix_space", "Metaspace decoder", true);
      if (!add_prefix_space.ok()) return add_prefix_space.status();
      drop_in_first = *add_prefix_space;
    }
    return std::make_unique<MetaspaceDecoder>(*c, drop_in_first);
  }
  if (*type == "Replace") {
    auto from = JsonPatternString(spec, "Replace decoder");
    auto to = JsonString(spec, "content", "Replace decoder");
    if (!from.ok()) return from.status();
    if (!to.ok()) return to.status();
    return std::make_unique<ReplaceDecoder>(*from, *to);
  }
  if (*type == "Strip") {
    auto content = JsonString(spec, "content", "Strip decoder");
    if (!content.ok()) return content.status();
    auto c = SingleChar(*content, "Strip decoder");
    if (!c.ok()) return c.status();
    auto count = [&](const char* key) -> absl::StatusOr<size_t> {
      auto it = spec.find(key);
      if (it == spec.end() || !it->is_number_unsigned()) {
        return absl::InvalidArgumentError(absl::StrCat("Strip decoder: \"", key, "\" is not a count"));
      }
      return it->get<size_t>();
    };
    auto start = count("start");
    auto stop = count("stop");
    if (!start.ok()) return start.status();
    if (!stop.ok()) return stop.status();
    return std::make_unique<StripDecoder>(*c, *start, *stop);
  }
  if (*type == "Sequence") {
    auto it = spec.find("decoders");
    if (it == spec.end() || !it->is_array()) {
      return absl::InvalidArgumentError("Sequence decoder has no \"decoders\" array");
    }
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& part : *it) {
      auto d = FromJson(part);
      if (!d.ok()) return d.status();
      parts.push_back(std::move(*d));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  return absl::UnimplementedError(absl::StrCat("decoder type \"", *type, "\" is not supported"));
}

}  // namespace lip
