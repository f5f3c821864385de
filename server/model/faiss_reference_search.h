#pragma once

#include "server/model/reference_set.h"

namespace arginator::server {

// Reads a FAISS index written by arginator-train (trainer/reference_index.h: IndexFlatIP, or
// IndexIVFFlat above 16,384 references) and checks its metric, width and size. The only code
// of the server that includes FAISS.
absl::StatusOr<std::unique_ptr<ReferenceSearch>> OpenFaissReferenceSearch(const std::string& path,
                                                                          int dim, int64_t count);

}  // namespace arginator::server
