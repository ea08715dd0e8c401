// The GPT-2 byte-level alphabet: each of the 256 byte values is shown as one printable code point
// (printable Latin-1 bytes as themselves, the others as U+0100.. in order), so that byte-level BPE
// vocabularies are valid UTF-8 strings. Used by the ByteLevel pre-tokenizer and decoder.
// Pure functions over a static table; thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_BYTE_LEVEL_ALPHABET_H_
#define LIP_BRIDGE_TOKENIZER_BYTE_LEVEL_ALPHABET_H_

#include <optional>
#include <string>
#include <string_view>

namespace lip {

// The code point that stands for `byte`.
char32_t ByteToAlphabetChar(unsigned char byte);

// The byte a code point of the alphabet stands for, or nullopt if `c` is not in the alphabet.
std::optional<unsigned char> AlphabetCharToByte(char32_t c);

// Every byte of `bytes` replaced by its alphabet code point (UTF-8 encoded).
std::string BytesToAlphabet(std::string_view bytes);

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_BYTE_LEVEL_ALPHABET_H_
