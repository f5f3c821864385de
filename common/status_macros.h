#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Early-return helpers for absl::Status / absl::StatusOr, in the style of Abseil's internal macros.

#define ARG_CONCAT_INNER(a, b) a##b
#define ARG_CONCAT(a, b) ARG_CONCAT_INNER(a, b)

#define ARG_RETURN_IF_ERROR(expr)              \
  do {                                         \
    const absl::Status _arg_status = (expr);   \
    if (!_arg_status.ok()) return _arg_status; \
  } while (0)

#define ARG_ASSIGN_OR_RETURN(lhs, rexpr) \
  ARG_ASSIGN_OR_RETURN_IMPL(ARG_CONCAT(_arg_statusor_, __LINE__), lhs, rexpr)

#define ARG_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()
