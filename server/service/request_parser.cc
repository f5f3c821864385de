#include "server/service/request_parser.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/embedding_matrix.h"

namespace arginator::server {
namespace {

// Called for a row whose norm is not finite: names the first NaN or Inf.
absl::Status NonFiniteError(const float* row, int dim, int64_t index, const std::string& id) {
  for (int j = 0; j < dim; ++j) {
    if (!std::isfinite(row[j])) {
      return absl::InvalidArgumentError(absl::StrCat("embedding ", index, " ('", id, "') has ",
                                                     std::isnan(row[j]) ? "NaN" : "Inf",
                                                     " at position ", j));
    }
  }
  return absl::InternalError(absl::StrCat("embedding ", index, " has a non-finite norm"));
}

// Norm of the row at `index` of `out`, or the error naming its NaN/Inf.
absl::Status AddNorm(ParsedEmbeddings& out, int dim, int64_t index, const std::string& id) {
  const float* row = out.values.data() + index * dim;
  const double norm = RowL2Norm(row, dim);
  if (!std::isfinite(norm)) return NonFiniteError(row, dim, index, id);
  out.norms.push_back(static_cast<float>(norm));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VersionSelector> ParseModelSpec(const v1::ModelSpec& spec) {
  if (spec.name().empty()) return absl::InvalidArgumentError("model.name is required");
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
    selector.label = spec.version_label();
  }
  return selector;
}

absl::StatusOr<ParsedEmbeddings> ParseEmbeddings(const v1::ClassifyRequest& request, int dim,
                                                 int64_t max_embeddings) {
  static_assert(sizeof(float) == 4, "packed_values are float32");
  const bool repeated = request.embeddings_size() > 0;
  const bool packed = !request.packed_values().empty();
  if (repeated && packed) {
    return absl::InvalidArgumentError("send either embeddings or packed_values, not both");
  }
  if (!repeated && !packed) return absl::InvalidArgumentError("empty request: no embeddings");
  ParsedEmbeddings out;
  const size_t row_bytes = sizeof(float) * dim;
  out.n = repeated ? request.embeddings_size()
                   : static_cast<int64_t>(request.packed_values().size() / row_bytes);
  if (out.n > max_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(out.n, " embeddings exceed the limit of ",
                                                   max_embeddings,
                                                   " per request; split it or "
                                                   "use ClassifyStream"));
  }
  out.ids.reserve(out.n);
  out.norms.reserve(out.n);
  if (repeated) {
    out.values.reserve(static_cast<size_t>(out.n) * dim);  // appended row by row: no zero fill
    for (int64_t i = 0; i < out.n; ++i) {
      const v1::Embedding& e = request.embeddings(static_cast<int>(i));
      if (e.values_size() != dim) {
        return absl::InvalidArgumentError(absl::StrCat("embedding ", i, " ('", e.id(), "') has ",
                                                       e.values_size(),
                                                       " values, the model expects ", dim));
      }
      out.values.insert(out.values.end(), e.values().begin(), e.values().end());
      if (absl::Status s = AddNorm(out, dim, i, e.id()); !s.ok()) return s;
      out.ids.push_back(e.id());
    }
    return out;
  }
  const std::string& bytes = request.packed_values();
  if (bytes.size() % row_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat("packed_values has ", bytes.size(),
                                                   " bytes, not a multiple of ", row_bytes,
                                                   " (rows of ", dim, " float32)"));
  }
  if (request.packed_ids_size() != 0 && request.packed_ids_size() != out.n) {
    return absl::InvalidArgumentError(
        absl::StrCat("packed_ids has ", request.packed_ids_size(), " ids for ", out.n, " rows"));
  }
  // Little-endian hosts only (x86, arm). The bytes are a protobuf string, whose storage is
  // allocated with at least float alignment, so it is read as floats directly when aligned.
  const size_t count = static_cast<size_t>(out.n) * dim;
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) == 0) {
    const float* floats = reinterpret_cast<const float*>(bytes.data());
    out.values.assign(floats, floats + count);
  } else {
    out.values.resize(count);
    std::memcpy(out.values.data(), bytes.data(), bytes.size());
  }
  for (int64_t i = 0; i < out.n; ++i) {
    std::string id =
        request.packed_ids_size() ? request.packed_ids(static_cast<int>(i)) : absl::StrCat(i);
    if (absl::Status s = AddNorm(out, dim, i, id); !s.ok()) return s;
    out.ids.push_back(std::move(id));
  }
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string CodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  for (char& c : name) {
    c = c == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

}  // namespace arginator::server
