#include "server/serving/request_rules.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/bounded_json.h"
#include "common/embedding_matrix.h"
#include "common/status_macros.h"
#include "server/serving/edge_limits.h"

namespace arginator::server {
namespace {

// INVALID_ARGUMENT for a client string longer than max_name_bytes, naming what it is, not the
// value.
absl::Status CheckNameLength(const char* what, const std::string& value) {
  const size_t max = GetEdgeLimits().max_name_bytes;
  if (value.size() <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is ", value.size(), " bytes; at most ",
                                                 max, " (server.max_name_bytes)"));
}

}  // namespace

absl::StatusOr<VersionSelector> ParseModelRef(const ModelRef& ref) {
  if (ref.name.empty()) return absl::InvalidArgumentError("model name is required");
  ARG_RETURN_IF_ERROR(CheckNameLength("model name", ref.name));
  VersionSelector selector;
  if (!ref.version.empty()) {
    int64_t v = 0;
    const bool digits = ref.version.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || ref.version[0] == '0' || !absl::SimpleAtoi(ref.version, &v) || v <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("model version '", Utf8Prefix(ref.version, GetEdgeLimits().max_name_bytes),
                       "' is not a positive integer (empty selects the default version)"));
    }
    selector.version = v;
  }
  if (ref.has_label) {
    if (selector.version) {
      return absl::InvalidArgumentError("give a model version or a version label, not both");
    }
    if (ref.label.empty()) return absl::InvalidArgumentError("model version label is empty");
    ARG_RETURN_IF_ERROR(CheckNameLength("model version label", ref.label));
    selector.label = ref.label;
  }
  if (!ref.request_id.empty()) selector.request_hash = RequestIdHash(ref.request_id);
  return selector;
}

absl::Status AppendRowNorm(const float* row, int dim, absl::FunctionRef<std::string()> describe,
                           std::vector<float>& norms) {
  const double norm = RowL2Norm(row, dim);
  if (!std::isfinite(norm)) {
    for (int j = 0; j < dim; ++j) {
      if (!std::isfinite(row[j])) {
        return absl::InvalidArgumentError(absl::StrCat(
            describe(), " has ", std::isnan(row[j]) ? "NaN" : "Inf", " at position ", j));
      }
    }
    return absl::InternalError(absl::StrCat(describe(), " has a non-finite norm"));
  }
  if (norm > std::numeric_limits<float>::max()) {
    // Every value finite, but too large for float32 arithmetic: the forward would answer NaN.
    return absl::InvalidArgumentError(
        absl::StrCat(describe(), " has L2 norm ", norm,
                     ", beyond float32 range (ProtT5 embeddings have norms near 6)"));
  }
  norms.push_back(static_cast<float>(norm));
  return absl::OkStatus();
}

absl::StatusOr<RowsView> CheckRows(const RequestRows& rows, int dim, int64_t max_rows,
                                   absl::FunctionRef<std::string(int64_t)> row_name,
                                   std::vector<float>& scratch, std::vector<float>& norms) {
  static_assert(sizeof(float) == 4, "rows are float32");
  const int64_t n = rows.count;
  if (n < 1) return absl::InvalidArgumentError("the request has no embeddings");
  if (n > max_rows) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, " embeddings exceed the limit of ", max_rows,
                     " per request (server.max_embeddings_per_request); split the request, or "
                     "send them on an arginator.v1 ClassifyStream"));
  }
  auto wrong_width = [&](int64_t i, int64_t width) {
    return absl::InvalidArgumentError(
        absl::StrCat(row_name(i), " has ", width, " values, the model expects ", dim));
  };
  norms.clear();
  norms.reserve(static_cast<size_t>(n));
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(dim);
  const float* data = nullptr;
  if (rows.block == nullptr) {
    if (static_cast<int64_t>(rows.each.size()) != n) {
      return absl::InternalError("a protocol decoded a row count unlike its rows");
    }
    for (int64_t i = 0; i < n; ++i) {
      const size_t width = rows.each[static_cast<size_t>(i)].size();
      if (static_cast<int64_t>(width) != dim) return wrong_width(i, width);
    }
    if (n == 1) {
      // One row (the common single-embedding request) is contiguous already: read in place.
      data = rows.each[0].data();
    } else {
      scratch.resize(static_cast<size_t>(n) * dim);  // keeps its capacity between requests
      for (int64_t i = 0; i < n; ++i) {
        std::memcpy(scratch.data() + i * dim, rows.each[static_cast<size_t>(i)].data(), row_bytes);
      }
      data = scratch.data();
    }
  } else {
    if (rows.width != dim) return wrong_width(0, rows.width);
    // Little-endian hosts only (x86, arm). Protobuf and the HTTP edge allocate with at least
    // float alignment, so rows are normally read in place; an unaligned block is copied once.
    data = static_cast<const float*>(rows.block);
    if (reinterpret_cast<uintptr_t>(rows.block) % alignof(float) != 0) {
      scratch.resize(static_cast<size_t>(n) * dim);
      std::memcpy(scratch.data(), rows.block, static_cast<size_t>(n) * row_bytes);
      data = scratch.data();
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    ARG_RETURN_IF_ERROR(AppendRowNorm(
        data + i * dim, dim, [&] { return row_name(i); }, norms));
  }
  return RowsView(data, n, dim);
}

}  // namespace arginator::server
