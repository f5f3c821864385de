#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace arginator::trainer {

struct SplitIndices {
  std::vector<size_t> train, val, test;
};

// Stratified split: within each stratum (e.g. class), rows are shuffled with `seed` and cut by the
// fractions (val and test rounded, train takes the rest), so each part keeps the class proportions.
// Deterministic for the same strata, fractions and seed. Each part is sorted.
SplitIndices StratifiedSplit(const std::vector<int>& strata, double val_fraction,
                             double test_fraction, uint64_t seed);

// Group split (split.by=group or similarity): whole groups go to one part, so no group (a sequence
// cluster, a family, a set of near-duplicates) is in two. Stratified by each group's most common
// stratum: within a stratum the groups (in name order) are shuffled with `seed` and fill val, then
// test, up to their fractions of the stratum's rows; the rest is train. A stratum of a single group
// goes to train. Deterministic for the same inputs. Each part is sorted.
SplitIndices GroupSplit(const std::vector<int>& strata, const std::vector<std::string>& groups,
                        double val_fraction, double test_fraction, uint64_t seed);

// Class-balanced weighted sampling with replacement (as torch's WeightedRandomSampler with weights
// 1 / class count): every class is drawn with equal probability, rows uniformly within a class.
class BalancedSampler {
 public:
  // `labels[i]` is the label of candidate row `rows[i]`.
  BalancedSampler(std::vector<size_t> rows, const std::vector<int>& labels);

  // `n` row indices for one epoch; deterministic for the seed.
  std::vector<size_t> Sample(size_t n, uint64_t seed) const;

 private:
  std::vector<std::vector<size_t>> rows_by_label_;  // only non-empty labels
};

}  // namespace arginator::trainer
