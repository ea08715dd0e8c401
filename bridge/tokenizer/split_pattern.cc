#include "bridge/tokenizer/split_pattern.h"

#include "absl/strings/str_cat.h"
#include "bridge/tokenizer/unicode_text.h"

namespace lip {
namespace {

// The three regexes differ only in a few alternatives; one matcher walks them in order and returns
// the end of the first alternative that matches at position i (in code points), or i if none does.
class HandWrittenRegex final : public SplitPattern {
 public:
  enum class Flavor { kLlama3, kQwen2, kGpt2 };
  explicit HandWrittenRegex(Flavor flavor) : flavor_(flavor) {}

  std::vector<std::pair<size_t, size_t>> FindMatches(std::string_view text) const override {
    const std::vector<CodePoint> cps = DecodeUtf8(text);
    std::vector<std::pair<size_t, size_t>> matches;
    size_t i = 0;
    while (i < cps.size()) {
      const size_t end = MatchAt(cps, i);
      if (end > i) {
        matches.emplace_back(cps[i].byte_begin, cps[end - 1].byte_end);
        i = end;
      } else {
        ++i;
      }
    }
    return matches;
  }

 private:
  static bool IsNewline(char32_t c) { return c == '\r' || c == '\n'; }
  // [^\s\p{L}\p{N}]
  static bool IsOther(char32_t c) { return !IsWhitespace(c) && !IsLetter(c) && !IsNumber(c); }

  static char32_t Fold(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

  // 's|'t|'re|'ve|'m|'ll|'d, case-insensitive for Llama-3/Qwen2. Returns the end or i.
  size_t MatchContraction(const std::vector<CodePoint>& cps, size_t i) const {
    if (cps[i].value != '\'' || i + 1 >= cps.size()) return i;
    const bool fold = flavor_ != Flavor::kGpt2;
    auto at = [&](size_t k) -> char32_t {
      if (k >= cps.size()) return 0;
      return fold ? Fold(cps[k].value) : cps[k].value;
    };
    const char32_t c1 = at(i + 1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
    if (fold && cps[i + 1].value == 0x017F) return i + 2;  // (?i) folds U+017F LONG S to 's'
    const char32_t c2 = at(i + 2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
    return i;
  }

  template <typename Pred>
  static size_t RunEnd(const std::vector<CodePoint>& cps, size_t j, Pred pred, size_t limit = SIZE_MAX) {
    size_t n = 0;
    while (j < cps.size() && n < limit && pred(cps[j].value)) {
      ++j;
      ++n;
    }
    return j;
  }

  size_t MatchAt(const std::vector<CodePoint>& cps, size_t i) const {
    const size_t n = cps.size();
    const char32_t c = cps[i].value;
    if (size_t e = MatchContraction(cps, i); e > i) return e;

    if (flavor_ == Flavor::kGpt2) {
      //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
      const size_t j = (c == ' ' && i + 1 < n) ? i + 1 : i;
      for (auto pred : {&IsLetter, &IsNumber, &IsOther}) {
        if (pred(cps[j].value)) return RunEnd(cps, j, pred);
      }
    } else {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (IsLetter(c)) return RunEnd(cps, i, &IsLetter);
      if (!IsNewline(c) && !IsNumber(c) && i + 1 < n && IsLetter(cps[i + 1].value)) {
        return RunEnd(cps, i + 1, &IsLetter);
      }
      // \p{N}{1,3}  or  \p{N}
      if (IsNumber(c)) return RunEnd(cps, i, &IsNumber, flavor_ == Flavor::kLlama3 ? 3 : 1);
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      const size_t j = (c == ' ' && i + 1 < n && IsOther(cps[i + 1].value)) ? i + 1 : i;
      if (IsOther(cps[j].value)) return RunEnd(cps, RunEnd(cps, j, &IsOther), &IsNewline);
      // \s*[\r\n]+ : ends just after the last newline of the whitespace run.
      if (IsWhitespace(c)) {
        const size_t ws_end = RunEnd(cps, i, &IsWhitespace);
        for (size_t t = ws_end; t > i; --t) {
          if (IsNewline(cps[t - 1].value)) return t;
        }
      }
    }
    // \s+(?!\S) | \s+
    if (IsWhitespace(c)) {
      const size_t ws_end = RunEnd(cps, i, &IsWhitespace);
      if (ws_end == n) return ws_end;
      if (ws_end - 1 > i) return ws_end - 1;  // leave the last space to prefix the next word
      return ws_end;
    }
    return i;
  }

  Flavor flavor_;
};

class LiteralPattern final : public SplitPattern {
 public:
  explicit LiteralPattern(std::string literal) : literal_(std::move(literal)) {}

  std::vector<std::pair<size_t, size_t>> FindMatches(std::string_view text) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    size_t pos = 0;
    while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
      matches.emplace_back(pos, pos + literal_.size());
      pos += literal_.size();
    }
    return matches;
  }

 private:
  std::string literal_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SplitPattern>> SplitPattern::FromRegex(std::string_view regex) {
  using Flavor = HandWrittenRegex::Flavor;
  if (regex == kLlama3SplitRegex) return std::make_unique<HandWrittenRegex>(Flavor::kLlama3);
  if (regex == kQwen2SplitRegex) return std::make_unique<HandWrittenRegex>(Flavor::kQwen2);
  if (regex == kGpt2SplitRegex) return std::make_unique<HandWrittenRegex>(Flavor::kGpt2);
  return absl::UnimplementedError(absl::StrCat(
      "Split pre-tokenizer regex \"", std::string(regex),
      "\" is not supported (only the Llama-3, Qwen2 and GPT-2 split regexes are implemented)"));
}

absl::StatusOr<std::unique_ptr<SplitPattern>> SplitPattern::FromLiteral(std::string literal) {
  if (literal.empty()) return absl::InvalidArgumentError("Split pattern string is empty");
  return std::make_unique<LiteralPattern>(std::move(literal));
}

}  // namespace lip
