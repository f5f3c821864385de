#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/matrix_view.h"
#include "server/registry/model_registry.h"

namespace arginator::server {

// The rules every inference request meets, whatever its protocol: which model it names, and what
// its rows must be. Written once here and applied by the serving path (serving_path.h), so the
// same bad request gets the same code and message on arginator.v1, v2 gRPC and v2 REST. Pure
// functions; the protocol adapters only decode their wire format into these types.

// The model a request names, as its protocol carries it.
struct ModelRef {
  std::string name;
  std::string version;  // "" = the model's default version; else a positive decimal integer
  std::string label;    // with has_label: select the version this label points to
  bool has_label = false;
  // The request's id (v1 request_id, v2 id): keeps a retried request on the same side of a
  // canary split. Not checked: any string, only hashed.
  std::string request_id;
};

// `ref` as a registry selector. INVALID_ARGUMENT, naming neither an over-long name nor label:
//   "model name is required"
//   "model name is N bytes; at most M (server.max_name_bytes)"
//   "model version 'x' is not a positive integer (empty selects the default version)"
//   "model version label is empty" / "model version label is N bytes; at most M (...)"
absl::StatusOr<VersionSelector> ParseModelRef(const ModelRef& ref);

// A request's rows as its protocol decoded them, before the rows contract is checked.
struct RequestRows {
  int64_t count = 0;
  // Either one block of `count` rows of `width` float32 values, read in place when it is
  // float-aligned (else copied once)...
  const void* block = nullptr;
  int64_t width = 0;
  // ...or one span per row, each of any width (arginator.v1's repeated form).
  std::vector<absl::Span<const float>> each;

  void Clear() {
    count = 0;
    block = nullptr;
    width = 0;
    each.clear();
  }
};

// The rows contract: 1 <= count <= max_rows ("N embeddings exceed the limit of M per request
// (server.max_embeddings_per_request)..."), every row `dim` wide ("embedding 3 has 5 values, the
// model expects 1024"), every value finite and every row's L2 norm within float32 ("embedding 3
// has NaN at position 17"). Returns the rows the batcher reads (`rows.block` or a lone row in
// place, else a copy in `scratch`) and appends one norm per row to `norms`. `row_name(i)` names
// row i in messages ("embedding 3", with the protocol's id when it has one) and is called only on
// error.
// INVALID_ARGUMENT for every violation.
absl::StatusOr<RowsView> CheckRows(const RequestRows& rows, int dim, int64_t max_rows,
                                   absl::FunctionRef<std::string(int64_t)> row_name,
                                   std::vector<float>& scratch, std::vector<float>& norms);

// Appends the L2 norm of one input row to `norms`, checking the row on the way: INVALID_ARGUMENT
// for its first NaN or Inf, or a norm beyond float32 range; `describe` names the row in the
// message and is called only on error.
absl::Status AppendRowNorm(const float* row, int dim, absl::FunctionRef<std::string()> describe,
                           std::vector<float>& norms);

}  // namespace arginator::server
