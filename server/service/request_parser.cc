#include "server/service/request_parser.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/embedding_matrix.h"
#include "common/status_macros.h"
#include "server/service/grpc_edge.h"

namespace arginator::server {
namespace {

// Appends the norm of `row` (embedding `index`) to `norms`, or names its NaN/Inf.
absl::Status AddNorm(const float* row, int dim, int64_t index, const v1::ClassifyRequest& request,
                     std::vector<float>& norms) {
  return AppendRowNorm(
      row, dim,
      [&] { return absl::StrCat("embedding ", index, " ('", RowId(request, index), "')"); }, norms);
}

// INVALID_ARGUMENT for a client string longer than max_name_bytes, naming the field, not the
// value.
absl::Status CheckNameLength(const char* field, const std::string& value) {
  const size_t max = GetEdgeLimits().max_name_bytes;
  if (value.size() <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " is ", value.size(), " bytes; at most ",
                                                 max, " (server.max_name_bytes)"));
}

}  // namespace

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

absl::StatusOr<VersionSelector> ParseModelSpec(const v1::ModelSpec& spec) {
  if (spec.name().empty()) return absl::InvalidArgumentError("model.name is required");
  ARG_RETURN_IF_ERROR(CheckNameLength("model.name", spec.name()));
  VersionSelector selector;
  if (spec.selector_case() == v1::ModelSpec::kVersion) {
    if (spec.version() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.version must be positive, got ", spec.version()));
    }
    selector.version = spec.version();
  } else if (spec.selector_case() == v1::ModelSpec::kVersionLabel) {
    if (spec.version_label().empty()) {
      return absl::InvalidArgumentError("model.version_label is empty");
    }
    ARG_RETURN_IF_ERROR(CheckNameLength("model.version_label", spec.version_label()));
    selector.label = spec.version_label();
  }
  return selector;
}

std::string RowId(const v1::ClassifyRequest& request, int64_t i) {
  if (request.embeddings_size() > 0) return request.embeddings(static_cast<int>(i)).id();
  if (request.packed_ids_size() > 0) return request.packed_ids(static_cast<int>(i));
  return absl::StrCat(i);
}

absl::StatusOr<RowsView> ParseEmbeddings(const v1::ClassifyRequest& request, int dim,
                                         int64_t max_embeddings, std::vector<float>& scratch,
                                         std::vector<float>& norms) {
  static_assert(sizeof(float) == 4, "packed_values are float32");
  const bool repeated = request.embeddings_size() > 0;
  const bool packed = !request.packed_values().empty();
  if (repeated && packed) {
    return absl::InvalidArgumentError("send either embeddings or packed_values, not both");
  }
  if (!repeated && !packed) return absl::InvalidArgumentError("empty request: no embeddings");
  const size_t row_bytes = sizeof(float) * dim;
  const int64_t n = repeated ? request.embeddings_size()
                             : static_cast<int64_t>(request.packed_values().size() / row_bytes);
  if (n > max_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(n, " embeddings exceed the limit of ",
                                                   max_embeddings,
                                                   " per request; split it or "
                                                   "use ClassifyStream"));
  }
  norms.clear();
  norms.reserve(n);
  if (repeated) {
    scratch.resize(static_cast<size_t>(n) * dim);  // keeps its capacity between requests
    for (int64_t i = 0; i < n; ++i) {
      const v1::Embedding& e = request.embeddings(static_cast<int>(i));
      if (e.values_size() != dim) {
        return absl::InvalidArgumentError(absl::StrCat("embedding ", i, " ('", e.id(), "') has ",
                                                       e.values_size(),
                                                       " values, the model expects ", dim));
      }
      float* row = scratch.data() + i * dim;
      std::memcpy(row, e.values().data(), row_bytes);
      ARG_RETURN_IF_ERROR(AddNorm(row, dim, i, request, norms));
    }
    return RowsView(scratch.data(), n, dim);
  }
  const std::string& bytes = request.packed_values();
  if (bytes.size() % row_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat("packed_values has ", bytes.size(),
                                                   " bytes, not a multiple of ", row_bytes,
                                                   " (rows of ", dim, " float32)"));
  }
  if (request.packed_ids_size() != 0 && request.packed_ids_size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("packed_ids has ", request.packed_ids_size(), " ids for ", n, " rows"));
  }
  // Little-endian hosts only (x86, arm). Protobuf allocates a string's storage with at least
  // float alignment, so the rows are read in place; an unaligned buffer is copied once.
  const float* rows = reinterpret_cast<const float*>(bytes.data());
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) != 0) {
    scratch.resize(static_cast<size_t>(n) * dim);
    std::memcpy(scratch.data(), bytes.data(), bytes.size());
    rows = scratch.data();
  }
  for (int64_t i = 0; i < n; ++i) {
    ARG_RETURN_IF_ERROR(AddNorm(rows + i * dim, dim, i, request, norms));
  }
  return RowsView(rows, n, dim);
}

absl::Status UnparseableClassifyRequest() {
  return UnparseableRequest(v1::ClassifyRequest::descriptor()->full_name());
}

}  // namespace arginator::server
