// Bytes -> ClassifyRequest -> the checks a Classify call meets on the serving path: the model it
// names (DecodeModelSpec, ParseModelRef), its rows at ProtT5's width (DecodeClassifyRows, then
// the rows contract CheckRows), RowId for every row, ToGrpcStatus for any error. Checks the
// contracts v1_request.h and request_rules.h state, not just the absence of crashes.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "arginator/v1/classifier.pb.h"
#include "common/embedding_matrix.h"
#include "google/protobuf/stubs/logging.h"
#include "server/grpc/grpc_edge.h"
#include "server/serving/edge_limits.h"
#include "server/serving/request_rules.h"
#include "server/v1/v1_request.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const size_t kMaxNameBytes = arginator::server::GetEdgeLimits().max_name_bytes;
const size_t kMaxStatusMessageBytes = arginator::server::GetEdgeLimits().max_status_message_bytes;

constexpr int kDim = 1024;
// Small, so that a few rows reach the limit check: inputs stay near 12 KB and the fuzzer fast.
constexpr int64_t kMaxEmbeddings = 2;

// The edge conversion keeps the code and bounds the message (plus its "... (cut; N bytes)" note).
void CheckEdge(const absl::Status& status) {
  const grpc::Status edge = arginator::server::ToGrpcStatus(status);
  FUZZ_CHECK(static_cast<int>(edge.error_code()) == static_cast<int>(status.code()));
  FUZZ_CHECK(edge.error_message().size() <= kMaxStatusMessageBytes + 64);
}

void CheckModelSpec(const arginator::v1::ModelSpec& spec) {
  arginator::server::ModelRef model;
  arginator::server::DecodeModelSpec(spec, model);
  auto selector = arginator::server::ParseModelRef(model);
  if (selector.ok()) {
    FUZZ_CHECK(!spec.name().empty() && spec.name().size() <= kMaxNameBytes);
    return;
  }
  FUZZ_CHECK(selector.status().code() == absl::StatusCode::kInvalidArgument);
  // An over-long name or label is refused without being repeated.
  if (spec.name().size() > kMaxNameBytes) {
    FUZZ_CHECK(selector.status().message().find(spec.name()) == absl::string_view::npos);
  }
  CheckEdge(selector.status());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field that is not UTF-8 (and then refuses the message): millions
  // of lines per run. The refusal is what is tested.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Reused between inputs, as the service reuses them between requests.
  static std::vector<float> scratch, norms;
  arginator::v1::ClassifyRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  CheckModelSpec(request.model());

  static arginator::server::RequestRows decoded;
  decoded.Clear();
  absl::Status format = arginator::server::DecodeClassifyRows(request, kDim, decoded);
  if (!format.ok()) {
    FUZZ_CHECK(format.code() == absl::StatusCode::kInvalidArgument);
    CheckEdge(format);
    return 0;
  }
  auto rows = arginator::server::CheckRows(
      decoded, kDim, kMaxEmbeddings,
      [&](int64_t i) { return arginator::server::ClassifyRowName(request, i); }, scratch, norms);
  if (!rows.ok()) {
    FUZZ_CHECK(rows.status().code() == absl::StatusCode::kInvalidArgument);
    CheckEdge(rows.status());
    return 0;
  }
  FUZZ_CHECK(rows->cols == kDim);
  FUZZ_CHECK(rows->rows >= 1 && rows->rows <= kMaxEmbeddings);
  FUZZ_CHECK(static_cast<int64_t>(norms.size()) == rows->rows);
  for (int64_t i = 0; i < rows->rows; ++i) {
    // Reads every value of the row (ASan sees a view that outruns its buffer).
    const double norm = arginator::RowL2Norm(rows->row(i), kDim);
    FUZZ_CHECK(std::isfinite(norm) && static_cast<float>(norm) == norms[i]);
    const std::string id = arginator::server::RowId(request, i);
    if (request.embeddings_size() > 0)
      FUZZ_CHECK(id == request.embeddings(static_cast<int>(i)).id());
  }
  return 0;
}
