// Early-return helpers for absl::Status / absl::StatusOr, the one copy for all of LIP
// (abseil's own macros are not public in this toolchain). Header-only, no dependencies
// beyond absl::status.
#ifndef LIP_COMMON_WIRE_STATUS_MACROS_H_
#define LIP_COMMON_WIRE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status of `expr` from the current function when it is not OK.
#define LIP_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    const absl::Status _lip_status = (expr);       \
    if (!_lip_status.ok()) return _lip_status;     \
  } while (0)

#define LIP_STATUS_CONCAT_INNER_(a, b) a##b
#define LIP_STATUS_CONCAT_(a, b) LIP_STATUS_CONCAT_INNER_(a, b)

// `LIP_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares x from the value or returns the error;
// `LIP_ASSIGN_OR_RETURN(existing, StatusOrExpr());` assigns. It expands to several statements: use it
// inside braces, not as the body of an unbraced if/else, and at most once per line.
#define LIP_ASSIGN_OR_RETURN(lhs, expr) \
  LIP_ASSIGN_OR_RETURN_IMPL_(LIP_STATUS_CONCAT_(_lip_statusor_, __LINE__), lhs, expr)
#define LIP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // LIP_COMMON_WIRE_STATUS_MACROS_H_
