#include "server/service/request_parser.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace arginator::server {
namespace {

absl::Status CheckFinite(const float* row, int dim, int64_t index, const std::string& id) {
  for (int j = 0; j < dim; ++j) {
    if (!std::isfinite(row[j])) {
      return absl::InvalidArgumentError(absl::StrCat("embedding ", index, " ('", id, "') has ",
                                                     std::isnan(row[j]) ? "NaN" : "Inf",
                                                     " at position ", j));
    }
  }
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
  out.values.resize(static_cast<size_t>(out.n) * dim);
  out.ids.reserve(out.n);
  if (repeated) {
    for (int64_t i = 0; i < out.n; ++i) {
      const v1::Embedding& e = request.embeddings(static_cast<int>(i));
      if (e.values_size() != dim) {
        return absl::InvalidArgumentError(absl::StrCat("embedding ", i, " ('", e.id(), "') has ",
                                                       e.values_size(),
                                                       " values, the model expects ", dim));
      }
      float* row = out.values.data() + i * dim;
      std::memcpy(row, e.values().data(), row_bytes);
      if (absl::Status s = CheckFinite(row, dim, i, e.id()); !s.ok()) return s;
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
  std::memcpy(out.values.data(), bytes.data(),
              bytes.size());  // little-endian hosts only (x86, arm)
  for (int64_t i = 0; i < out.n; ++i) {
    std::string id =
        request.packed_ids_size() ? request.packed_ids(static_cast<int>(i)) : absl::StrCat(i);
    if (absl::Status s = CheckFinite(out.values.data() + i * dim, dim, i, id); !s.ok()) return s;
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
