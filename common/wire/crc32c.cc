// CRC32C through Intel's ISA-L (libisal, Debian 12's `libisal-dev`):
// crc32_iscsi picks the fastest kernel for the CPU at run time (SSE4.2 crc32
// with PCLMULQDQ folding, AVX-512 where present, a table fallback elsewhere).
// Google's crc32c library is not packaged for Debian 12 (`libcrc32c-dev` first
// ships in Debian 13); ISA-L computes the same function.
//
// crc32_iscsi neither inverts its seed nor its result, so the standard
// CRC32C (init 0xFFFFFFFF, final xor 0xFFFFFFFF) is ~crc32_iscsi(data, ~crc).
#include "common/wire/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace lip {

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  // crc32_iscsi takes a non-const pointer (it only reads) and an int length.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t state = ~crc;
  constexpr size_t kMaxChunk = size_t{1} << 30;
  static_assert(kMaxChunk <= static_cast<size_t>(INT_MAX), "chunk must fit crc32_iscsi's int length");
  while (size > 0) {
    const size_t chunk = size < kMaxChunk ? size : kMaxChunk;
    state = crc32_iscsi(p, static_cast<int>(chunk), state);
    p += chunk;
    size -= chunk;
  }
  return ~state;
}

uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

}  // namespace lip
