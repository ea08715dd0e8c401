// Table-driven CRC32C, slicing by 8: eight 256-entry tables let the loop
// consume 8 bytes per step with independent lookups (about 1-2 GB/s on one
// core without needing SSE4.2). Tables are built once at first use.
#include "common/crc32c.h"

#include <array>
#include <cstring>

namespace lip {
namespace {

constexpr uint32_t kCastagnoliReflected = 0x82F63B78u;

using Crc32cTables = std::array<std::array<uint32_t, 256>, 8>;

Crc32cTables BuildTables() {
  Crc32cTables t{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kCastagnoliReflected : 0u);
    t[0][byte] = crc;
  }
  for (uint32_t byte = 0; byte < 256; ++byte) {
    for (int k = 1; k < 8; ++k) t[k][byte] = (t[k - 1][byte] >> 8) ^ t[0][t[k - 1][byte] & 0xFFu];
  }
  return t;
}

const Crc32cTables& Tables() {
  static const Crc32cTables tables = BuildTables();
  return tables;
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  const Crc32cTables& t = Tables();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t state = ~crc;
  while (size >= 8) {
    // Little-endian assembly of the next 8 bytes, independent of host order.
    const uint32_t lo = state ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                                 uint32_t{p[3]} << 24);
    const uint32_t hi = uint32_t{p[4]} | uint32_t{p[5]} << 8 | uint32_t{p[6]} << 16 | uint32_t{p[7]} << 24;
    state = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) state = (state >> 8) ^ t[0][(state ^ *p++) & 0xFFu];
  return ~state;
}

uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

}  // namespace lip
