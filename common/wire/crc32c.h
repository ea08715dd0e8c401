// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the
// LIP packet payload (docs/protocol.md §5). Same parameters as iSCSI
// (RFC 3720), ext4 and LevelDB: init 0xFFFFFFFF, final xor 0xFFFFFFFF,
// so Crc32c("123456789") == 0xE3069283.
//
// Pure functions of their input; thread-safe.
#ifndef LIP_COMMON_WIRE_CRC32C_H_
#define LIP_COMMON_WIRE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lip {

// CRC32C of `size` bytes at `data`.
uint32_t Crc32c(const void* data, size_t size);
inline uint32_t Crc32c(std::string_view bytes) { return Crc32c(bytes.data(), bytes.size()); }

// Continues a CRC32C: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_CRC32C_H_
