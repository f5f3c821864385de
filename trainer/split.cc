#include "trainer/split.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "trainer/random.h"

namespace arginator::trainer {

SplitIndices StratifiedSplit(const std::vector<int>& strata, double val_fraction,
                             double test_fraction, uint64_t seed) {
  std::map<int, std::vector<size_t>> by_stratum;
  for (size_t i = 0; i < strata.size(); ++i) by_stratum[strata[i]].push_back(i);
  SplitIndices out;
  Rng rng(seed);
  for (auto& [stratum, rows] : by_stratum) {
    rng.Shuffle(rows.begin(), rows.end());
    size_t n = rows.size();
    size_t n_val = static_cast<size_t>(std::llround(n * val_fraction));
    size_t n_test = static_cast<size_t>(std::llround(n * test_fraction));
    if (n_val + n_test > n) n_test = n - std::min(n, n_val);
    out.val.insert(out.val.end(), rows.begin(), rows.begin() + n_val);
    out.test.insert(out.test.end(), rows.begin() + n_val, rows.begin() + n_val + n_test);
    out.train.insert(out.train.end(), rows.begin() + n_val + n_test, rows.end());
  }
  for (auto* part : {&out.train, &out.val, &out.test}) std::sort(part->begin(), part->end());
  return out;
}

SplitIndices GroupSplit(const std::vector<int>& strata, const std::vector<std::string>& groups,
                        double val_fraction, double test_fraction, uint64_t seed) {
  std::map<std::string, std::vector<size_t>> rows_of_group;
  for (size_t i = 0; i < groups.size(); ++i) rows_of_group[groups[i]].push_back(i);
  std::map<int, std::vector<const std::vector<size_t>*>> groups_of_stratum;
  std::map<int, size_t> rows_of_stratum;
  for (const auto& [name, rows] : rows_of_group) {
    std::map<int, size_t> votes;
    for (size_t r : rows) ++votes[strata[r]];
    int stratum = votes.begin()->first;
    for (const auto& [s, n] : votes) {
      if (n > votes[stratum]) stratum = s;
    }
    groups_of_stratum[stratum].push_back(&rows);
    rows_of_stratum[stratum] += rows.size();
  }
  SplitIndices out;
  Rng rng(seed);
  for (auto& [stratum, members] : groups_of_stratum) {
    rng.Shuffle(members.begin(), members.end());
    const size_t n = rows_of_stratum[stratum];
    const size_t n_val = static_cast<size_t>(std::llround(n * val_fraction));
    const size_t n_test = static_cast<size_t>(std::llround(n * test_fraction));
    size_t in_val = 0, in_test = 0;
    for (const std::vector<size_t>* rows : members) {
      std::vector<size_t>* part = &out.train;
      if (members.size() > 1 && in_val < n_val) {
        part = &out.val;
        in_val += rows->size();
      } else if (members.size() > 1 && in_test < n_test) {
        part = &out.test;
        in_test += rows->size();
      }
      part->insert(part->end(), rows->begin(), rows->end());
    }
  }
  for (auto* part : {&out.train, &out.val, &out.test}) std::sort(part->begin(), part->end());
  return out;
}

BalancedSampler::BalancedSampler(std::vector<size_t> rows, const std::vector<int>& labels) {
  std::map<int, std::vector<size_t>> by_label;
  for (size_t i = 0; i < rows.size(); ++i) by_label[labels[i]].push_back(rows[i]);
  for (auto& [label, r] : by_label) rows_by_label_.push_back(std::move(r));
}

std::vector<size_t> BalancedSampler::Sample(size_t n, uint64_t seed) const {
  std::vector<size_t> out;
  if (rows_by_label_.empty()) return out;
  out.reserve(n);
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) {
    const auto& rows = rows_by_label_[rng.Below(rows_by_label_.size())];
    out.push_back(rows[rng.Below(rows.size())]);
  }
  return out;
}

}  // namespace arginator::trainer
