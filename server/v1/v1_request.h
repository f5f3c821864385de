#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "arginator/v1/classifier.pb.h"
#include "server/serving/request_rules.h"
#include "server/serving/serving_path.h"

namespace arginator::server {

// arginator.v1's request format, decoded for the serving path (its rules are the path's:
// server/serving/request_rules.h).

// A version's status as ListModels and ModelAdmin report it.
void FillVersionStatus(const VersionView& view, v1::VersionStatus* out);

// The model a ModelSpec names: its name, and its version or version label if set.
void DecodeModelSpec(const v1::ModelSpec& spec, ModelRef& out);

// A ClassifyRequest's embeddings as rows of a model `dim` wide, without copying: the repeated
// form as one span per embedding, the packed form as one block. INVALID_ARGUMENT for what only
// this format can get wrong: both forms at once, packed_values that are not a whole number of
// rows, a packed_ids count that does not match the rows.
absl::Status DecodeClassifyRows(const v1::ClassifyRequest& request, int dim, RequestRows& rows);

// The id of row `i` of a decoded request, as its answer carries it: the embedding's id, its
// packed id, or the row index for packed rows without ids.
std::string RowId(const v1::ClassifyRequest& request, int64_t i);

// Row `i` in the path's messages: "embedding 3 ('P12345')", or "embedding 3" without an id.
std::string ClassifyRowName(const v1::ClassifyRequest& request, int64_t i);

// The error of bytes that do not parse as a ClassifyRequest (Classify, and each message of
// ClassifyStream), as for every other RPC.
absl::Status UnparseableClassifyRequest();

// The serving path's answer as a ClassifyResponse for `request`.
void EncodeClassifyResponse(const v1::ClassifyRequest& request, const ServingAnswer& answer,
                            v1::ClassifyResponse& response);

}  // namespace arginator::server
