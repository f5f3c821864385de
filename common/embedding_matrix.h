#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace arginator {

// The width of a ProtT5 per-protein embedding (mean-pooled over residues).
inline constexpr int kEmbeddingDim = 1024;

// A dense row-major float32 matrix of embeddings, one row per protein, with the protein ids.
// A plain value type: no torch, no proto, so every layer can pass it around and test it.
struct EmbeddingMatrix {
  int dim = kEmbeddingDim;
  std::vector<std::string> ids;  // ids.size() == rows()
  std::vector<float> values;     // rows() * dim floats

  size_t rows() const { return ids.size(); }
  const float* row(size_t i) const { return values.data() + i * static_cast<size_t>(dim); }
  float* row(size_t i) { return values.data() + i * static_cast<size_t>(dim); }

  // Appends every row of `other` (same dim required by the caller).
  void Append(const EmbeddingMatrix& other) {
    ids.insert(ids.end(), other.ids.begin(), other.ids.end());
    values.insert(values.end(), other.values.begin(), other.values.end());
  }
};

// L2 norm of one row. Finite exactly when every value is finite, so callers validating input can
// check the norm and scan the row only when it is not. Sums in 16 float lanes, which the compiler
// turns into SIMD (a single running sum is a serial chain it must keep in order); a row whose
// float sum overflows (values beyond ~1e18) is summed again in double.
double RowL2Norm(const float* row, int dim);

// Inner product of two rows of `dim` floats, summed in 16 float lanes (SIMD, as RowL2Norm) added in
// one fixed order: a row's result never depends on what else is computed with it.
float RowDot(const float* a, const float* b, int dim);

}  // namespace arginator
