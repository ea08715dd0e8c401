// The LIP wire-protocol version this build speaks.
//
// A receiver refuses a packet whose major differs from kLipProtocolMajor
// (FAILED_PRECONDITION, reason VERSION_MISMATCH) and accepts any minor: fields
// added by a newer minor are unknown to it and ignored. Bump the minor when a
// field is added that older receivers may safely ignore; bump the major when
// the meaning or layout of an existing field changes. docs/protocol.md §2.
#ifndef LIP_COMMON_LIP_VERSION_H_
#define LIP_COMMON_LIP_VERSION_H_

#include <cstdint>

namespace lip {

inline constexpr uint32_t kLipProtocolMajor = 1;
inline constexpr uint32_t kLipProtocolMinor = 0;

}  // namespace lip

#endif  // LIP_COMMON_LIP_VERSION_H_
