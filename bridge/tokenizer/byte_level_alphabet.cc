#include "bridge/tokenizer/byte_level_alphabet.h"

#include <array>

#include "bridge/tokenizer/unicode_text.h"

namespace lip {
namespace {

struct Alphabet {
  std::array<char32_t, 256> byte_to_char{};
  std::array<std::string, 256> byte_to_utf8{};
  std::array<int, 512> char_to_byte{};  // every alphabet code point is below U+0200

  Alphabet() {
    char_to_byte.fill(-1);
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
      byte_to_char[b] = c;
      char_to_byte[c] = b;
      AppendUtf8(c, &byte_to_utf8[b]);
    }
  }
};

const Alphabet& TheAlphabet() {
  static const Alphabet* alphabet = new Alphabet();
  return *alphabet;
}

}  // namespace

char32_t ByteToAlphabetChar(unsigned char byte) { return TheAlphabet().byte_to_char[byte]; }

std::optional<unsigned char> AlphabetCharToByte(char32_t c) {
  if (c >= 512) return std::nullopt;
  const int b = TheAlphabet().char_to_byte[c];
  if (b < 0) return std::nullopt;
  return static_cast<unsigned char>(b);
}

std::string BytesToAlphabet(std::string_view bytes) {
  const Alphabet& a = TheAlphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += a.byte_to_utf8[b];
  return out;
}

}  // namespace lip
