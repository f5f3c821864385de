#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "arginator/v1/classifier.pb.h"
#include "grpcpp/support/status.h"
#include "server/registry/model_registry.h"

namespace arginator::server {

// A request's embeddings, validated and copied out of the proto into one contiguous buffer, with
// each row's L2 norm (computed once, by the same pass that checks the values are finite).
struct ParsedEmbeddings {
  std::vector<std::string> ids;
  std::vector<float> values;  // n * dim
  std::vector<float> norms;   // n
  int64_t n = 0;
};

// Checks and copies either the repeated or the packed form. INVALID_ARGUMENT names the problem
// and the embedding (index and id): empty request, both forms at once, too many embeddings, a
// wrong width, NaN/Inf, a packed buffer that is not a whole number of rows.
absl::StatusOr<ParsedEmbeddings> ParseEmbeddings(const v1::ClassifyRequest& request, int dim,
                                                 int64_t max_embeddings);

// ModelSpec -> selector; INVALID_ARGUMENT when the name is missing or the version is not positive.
absl::StatusOr<VersionSelector> ParseModelSpec(const v1::ModelSpec& spec);

// The one conversion of absl::Status to the gRPC edge (codes map one to one).
grpc::Status ToGrpcStatus(const absl::Status& status);

// Canonical upper-case name of a status code ("OK", "INVALID_ARGUMENT", ...), for metrics.
std::string CodeName(absl::StatusCode code);

}  // namespace arginator::server
