#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arginator/v1/classifier.pb.h"
#include "common/matrix_view.h"
#include "server/registry/model_registry.h"
#include "server/service/grpc_edge.h"

namespace arginator::server {

// Validates a request's embeddings (either the repeated or the packed form) and returns them as
// rows the batcher reads: a view straight into the request's packed bytes when they are
// float-aligned (no copy), else into `scratch` (the repeated form's values made contiguous).
// `norms` gets each row's L2 norm, from the same pass that checks the values are finite. The ids
// stay in the request (RowId). `scratch` and `norms` are the caller's, reused between requests.
// INVALID_ARGUMENT names the problem and the embedding (index and id): empty request, both forms
// at once, too many embeddings, a wrong width, NaN/Inf, a packed buffer that is not a whole number
// of rows, a packed_ids count that does not match.
absl::StatusOr<RowsView> ParseEmbeddings(const v1::ClassifyRequest& request, int dim,
                                         int64_t max_embeddings, std::vector<float>& scratch,
                                         std::vector<float>& norms);

// Appends the L2 norm of one input row to `norms`, checking the row on the way: INVALID_ARGUMENT
// for its first NaN or Inf, or a norm beyond float32 range; `describe` names the row in the
// message ("embedding 3 ('P12345')") and is called only on error. Every protocol's parser uses it.
absl::Status AppendRowNorm(const float* row, int dim, absl::FunctionRef<std::string()> describe,
                           std::vector<float>& norms);

// The id of row `i` of a parsed request: the embedding's id, its packed id, or the row index.
std::string RowId(const v1::ClassifyRequest& request, int64_t i);

// The error of a message that does not parse as a ClassifyRequest (Classify, and each message of
// ClassifyStream): UnparseableRequest (grpc_edge.h), as for every other RPC.
absl::Status UnparseableClassifyRequest();

// ModelSpec -> selector; INVALID_ARGUMENT when the name is missing or longer than max_name_bytes,
// the version is not positive, or the label is empty or too long.
absl::StatusOr<VersionSelector> ParseModelSpec(const v1::ModelSpec& spec);

}  // namespace arginator::server
