#include "client/loadgen/request_payloads.h"

#include <cmath>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/embedding_files.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace arginator::client {
namespace {

constexpr int kDistinctRequests = 16;

// ProtT5-like rows: random directions with L2 norm ~6.2.
EmbeddingMatrix SyntheticRows(int64_t n, int dim) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  EmbeddingMatrix m;
  m.dim = dim;
  m.values.resize(n * dim);
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int j = 0; j < dim; ++j) norm += std::pow(m.values[i * dim + j] = normal(rng), 2);
    const float scale = static_cast<float>(6.2 / std::sqrt(norm));
    for (int j = 0; j < dim; ++j) m.values[i * dim + j] *= scale;
    m.ids.push_back(absl::StrCat("synthetic-", i));
  }
  return m;
}

std::vector<v1::ClassifyRequest> BuildRequests(const LoadOptions& o, const EmbeddingMatrix& rows) {
  std::vector<v1::ClassifyRequest> requests(kDistinctRequests);
  size_t next = 0;
  for (auto& request : requests) {
    SetModelSpec(o.model, request.mutable_model());
    std::string packed;
    for (int b = 0; b < o.batch; ++b, next = (next + 1) % rows.rows()) {
      const float* row = rows.row(next);
      if (o.packed) {
        packed.append(reinterpret_cast<const char*>(row), rows.dim * sizeof(float));
        request.add_packed_ids(rows.ids[next]);
      } else {
        v1::Embedding* e = request.add_embeddings();
        e->set_id(rows.ids[next]);
        e->mutable_values()->Add(row, row + rows.dim);
      }
    }
    if (o.packed) request.set_packed_values(packed);
    request.set_evidence(o.evidence);
  }
  return requests;
}

absl::StatusOr<std::vector<v1::ClassifyRequest>> GivenRequests(const LoadOptions& o) {
  std::vector<v1::ClassifyRequest> requests(o.messages.size());
  for (size_t i = 0; i < o.messages.size(); ++i) {
    if (!requests[i].ParseFromString(o.messages[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, " is not a serialized arginator.v1.ClassifyRequest"));
    }
  }
  return requests;
}

absl::StatusOr<std::vector<v1::ClassifyRequest>> GeneratedRequests(const LoadOptions& o) {
  if (o.batch < 1) return absl::InvalidArgumentError(absl::StrCat("batch ", o.batch, " < 1"));
  EmbeddingMatrix rows;
  if (o.input.empty()) {
    rows = SyntheticRows(std::max(o.batch, 64), kEmbeddingDim);
  } else {
    auto read = ReadEmbeddingFile(o.input);
    if (!read.ok()) return read.status();
    rows = *std::move(read);
    if (rows.rows() == 0) return absl::InvalidArgumentError(o.input + " has no embeddings");
  }
  return BuildRequests(o, rows);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MessagesFromJson(std::string_view json) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("the call data is not JSON");
  if (!parsed.is_array()) parsed = nlohmann::json::array({parsed});
  if (parsed.empty()) return absl::InvalidArgumentError("the call data is an empty JSON array");
  std::vector<std::string> messages;
  for (size_t i = 0; i < parsed.size(); ++i) {
    v1::ClassifyRequest request;
    const auto s = google::protobuf::util::JsonStringToMessage(parsed[i].dump(), &request);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("call data", parsed.size() > 1 ? absl::StrCat(" [", i, "]") : "",
                       " is not an arginator.v1.ClassifyRequest in JSON: ", s.ToString()));
    }
    messages.push_back(request.SerializeAsString());
  }
  return messages;
}

absl::StatusOr<std::vector<std::string>> MessagesFromBinary(std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("the binary call data is empty");
  // Delimited: every message parses and the lengths use up the bytes exactly.
  std::vector<std::string> messages;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  uint32_t length = 0;
  bool delimited = true;
  while (delimited && !in.ExpectAtEnd()) {
    std::string message;
    v1::ClassifyRequest request;
    delimited = in.ReadVarint32(&length) && in.ReadString(&message, static_cast<int>(length)) &&
                request.ParseFromString(message);
    messages.push_back(std::move(message));
  }
  if (delimited && !messages.empty()) return messages;
  v1::ClassifyRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        "the binary call data is neither a serialized arginator.v1.ClassifyRequest nor "
        "length-delimited ones");
  }
  return std::vector<std::string>{std::string(bytes)};
}

absl::StatusOr<std::vector<grpc::ByteBuffer>> EncodeRequests(const LoadOptions& o) {
  auto requests = o.messages.empty() ? GeneratedRequests(o) : GivenRequests(o);
  if (!requests.ok()) return requests.status();
  std::vector<grpc::ByteBuffer> encoded;
  for (const v1::ClassifyRequest& request : *requests) {
    grpc::ByteBuffer buffer;
    bool own_buffer = false;
    grpc::Status s =
        grpc::SerializationTraits<v1::ClassifyRequest>::Serialize(request, &buffer, &own_buffer);
    if (!s.ok()) return absl::InternalError("cannot encode a request: " + s.error_message());
    encoded.push_back(std::move(buffer));
  }
  return encoded;
}

absl::Status WriteRequestFrame(const LoadOptions& options, const std::string& path) {
  auto requests = EncodeRequests(options);
  if (!requests.ok()) return requests.status();
  std::vector<grpc::Slice> slices;
  if (!requests->front().Dump(&slices).ok()) {
    return absl::InternalError("cannot read back the encoded request");
  }
  std::string message;
  for (const grpc::Slice& slice : slices) {
    message.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  const uint32_t length = static_cast<uint32_t>(message.size());
  const char prefix[5] = {0, static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                          static_cast<char>(length >> 8), static_cast<char>(length)};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(prefix, sizeof(prefix));
  out.write(message.data(), static_cast<std::streamsize>(message.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write the request frame to ", path));
  return absl::OkStatus();
}

}  // namespace arginator::client
