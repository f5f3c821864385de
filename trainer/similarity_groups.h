#pragma once

#include <string>
#include <vector>

#include "common/embedding_matrix.h"
#include "trainer/split.h"

namespace arginator::trainer {

// `rows` of `x`, L2-normalised (inner product = cosine similarity), one after another: what the
// trainer's FAISS indexes hold (here and the reference index, reference_index.h).
std::vector<float> NormalisedRows(const EmbeddingMatrix& x, const std::vector<size_t>& rows);

// Clusters of near-duplicate proteins for an honest split when the data names no groups
// (split.by=similarity): the connected components of the graph joining every two proteins whose
// embeddings have cosine similarity >= `threshold`, by exact search (FAISS IndexFlatIP over the
// L2-normalised rows: every pair is compared, so no near-duplicate is missed; the cost grows with
// the square of the proteins, docs/training.md gives the measured time). Returns a group name per
// row ("similar-<first row of its component>"), deterministic for the data.
std::vector<std::string> SimilarityGroups(const EmbeddingMatrix& x, double threshold);

// How close the test split comes to the training split: for each test protein the cosine
// similarity of its nearest training protein; the largest of those (with the pair) and the mean.
struct TrainTestSimilarity {
  double max = 0, mean = 0;
  std::string test_id, train_id;  // the closest pair
};
TrainTestSimilarity NearestTrainTestSimilarity(const EmbeddingMatrix& x, const SplitIndices& split);

}  // namespace arginator::trainer
