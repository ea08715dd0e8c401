// The LIP wire-protocol version this build speaks.
//
// A receiver refuses a packet whose major differs from kLipProtocolMajor
// (FAILED_PRECONDITION, reason VERSION_MISMATCH) and accepts any minor: fields
// added by a newer minor are unknown to it and ignored. Bump the minor when a
// field is added that older receivers may safely ignore; bump the major when
// the meaning or layout of an existing field changes. docs/protocol.md §2.
#ifndef LIP_COMMON_WIRE_LIP_VERSION_H_
#define LIP_COMMON_WIRE_LIP_VERSION_H_

#include <cstdint>

namespace lip {

inline constexpr uint32_t kLipProtocolMajor = 1;
// The newest minor this build speaks.
inline constexpr uint32_t kLipProtocolMinor = 1;

// The minor that introduced each feature. A packet carries the lowest minor that defines every
// field it uses (docs/protocol.md §2), so a packet without 1.1 features is byte-identical to
// the 1.0 packet it always was (the golden vectors pin this).
inline constexpr uint32_t kLipMinorBase = 0;
// LipPacket.header_id, CompactPacket, SendLatentResponse.header_cached (docs/protocol.md §12).
inline constexpr uint32_t kLipMinorCompactWire = 1;

}  // namespace lip

#endif  // LIP_COMMON_WIRE_LIP_VERSION_H_
