#include "client/loadgen/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace arginator::client {
namespace {

constexpr int64_t kSubBuckets = int64_t{1} << LatencyHistogram::kSubBucketBits;

}  // namespace

// Bucket i < 2 * kSubBuckets holds the value i. Above, a value v with highest set bit e falls in
// bucket ((e - kSubBucketBits) << kSubBucketBits) + (v >> (e - kSubBucketBits)): the top
// kSubBucketBits + 1 bits of v, offset by one run of kSubBuckets per power of two.
int LatencyHistogram::BucketOf(int64_t ns) {
  const uint64_t v = static_cast<uint64_t>(std::clamp<int64_t>(ns, 0, kMaxTrackable));
  if (v < static_cast<uint64_t>(kSubBuckets)) return static_cast<int>(v);
  const int shift = 63 - __builtin_clzll(v) - kSubBucketBits;
  return static_cast<int>((int64_t{shift} << kSubBucketBits) + static_cast<int64_t>(v >> shift));
}

int64_t LatencyHistogram::MiddleOf(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = (bucket >> kSubBucketBits) - 1;
  const int64_t low = (int64_t{bucket} - (int64_t{shift} << kSubBucketBits)) << shift;
  return low + ((int64_t{1} << shift) >> 1);
}

LatencyHistogram::LatencyHistogram() : counts_(BucketOf(kMaxTrackable) + 1, 0) {}

void LatencyHistogram::Record(int64_t ns) {
  ns = std::max<int64_t>(ns, 0);
  ++counts_[BucketOf(ns)];
  min_ = count_ ? std::min(min_, ns) : ns;
  max_ = count_ ? std::max(max_, ns) : ns;
  sum_ += ns;
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = count_ ? std::max(max_, other.max_) : other.max_;
  sum_ += other.sum_;
  count_ += other.count_;
}

int64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  const int64_t rank = static_cast<int64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  if (rank <= 1) return min_;
  if (rank >= count_) return max_;
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(MiddleOf(static_cast<int>(i)), min_, max_);
  }
  return max_;
}

}  // namespace arginator::client
