// UTF-8 and Unicode character classes used by the tokenizer pipeline.
//
// Code points are decoded from UTF-8 by hand (the input is validated first); character classes come
// from ICU so that \p{L}, \p{N}, \s and \w mean what they mean in the regex engines `tokenizers`
// uses (Unicode general categories and the White_Space property). All functions are pure and
// thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_UNICODE_TEXT_H_
#define LIP_BRIDGE_TOKENIZER_UNICODE_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace lip {

// OK if `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF);
// INVALID_ARGUMENT naming the byte offset of the first bad sequence otherwise.
absl::Status ValidateUtf8(std::string_view text);

// One decoded code point and where its bytes lie in the text.
struct CodePoint {
  char32_t value;
  size_t byte_begin;
  size_t byte_end;
};

// Decodes valid UTF-8 (call ValidateUtf8 first) into code points with byte offsets.
std::vector<CodePoint> DecodeUtf8(std::string_view text);

// Appends the UTF-8 encoding of `cp` to `out`.
void AppendUtf8(char32_t cp, std::string* out);

// Bytes -> text the way Rust's String::from_utf8_lossy does: each maximal invalid subsequence
// becomes one U+FFFD.
std::string Utf8Lossy(std::string_view bytes);

bool IsLetter(char32_t cp);       // \p{L}
bool IsNumber(char32_t cp);       // \p{N}
bool IsWhitespace(char32_t cp);   // \s: the White_Space property
bool IsWordChar(char32_t cp);     // \w: Alphabetic, marks, Nd, Pc, Join_Control

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_UNICODE_TEXT_H_
