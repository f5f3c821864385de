#pragma once

#include <map>
#include <string>

#include "common/embedding_matrix.h"
#include "common/hdf5_embeddings.h"

namespace arginator::testing {

// `n` rows of `dim` floats with ids "<prefix>0", "<prefix>1", ...; row i is filled with
// (i + 1) * value_scale so rows are distinguishable.
inline EmbeddingMatrix MakeMatrix(const std::string& prefix, int n, int dim = kEmbeddingDim,
                                  float value_scale = 0.01f) {
  EmbeddingMatrix m;
  m.dim = dim;
  for (int i = 0; i < n; ++i) {
    m.ids.push_back(prefix + std::to_string(i));
    for (int j = 0; j < dim; ++j) m.values.push_back((i + 1) * value_scale + j * 1e-4f);
  }
  return m;
}

// Writes the five default class files into `dir`, `n` rows each, ids prefixed by the class.
inline void WriteClassFiles(const std::string& dir, int n = 10) {
  const std::map<std::string, std::string> files = {{"A_", "card_class_a_embeddings.h5"},
                                                    {"B_", "card_class_b_embeddings.h5"},
                                                    {"C_", "card_class_c_embeddings.h5"},
                                                    {"D_", "card_class_d_embeddings.h5"},
                                                    {"N_", "non_betalactamase_embeddings_60k.h5"}};
  for (const auto& [prefix, file] : files) {
    (void)WriteEmbeddingsH5(dir + "/" + file, MakeMatrix(prefix, n));
  }
}

}  // namespace arginator::testing
