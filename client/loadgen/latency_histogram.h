#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace arginator::client {

// Latencies in nanoseconds, counted in log-linear buckets (HdrHistogram's layout): values below
// 2^kSubBucketBits ns are exact; above, every power of two is cut into 2^kSubBucketBits equal
// buckets, so a reported percentile is within kRelativePrecision of a recorded value. Values
// above kMaxTrackable share the top bucket. Recording is O(1) and memory is fixed, so a run's
// length does not cost memory or a sort. The exact minimum, maximum and sum are kept beside the
// buckets. Not thread-safe: each load worker records into its own and they are merged at the end.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr int64_t kMaxTrackable = int64_t{100} * 1000 * 1000 * 1000;  // 100 s
  // Half a bucket's width relative to its lowest value: 2^-(kSubBucketBits + 1).
  static constexpr double kRelativePrecision = 1.0 / (int64_t{2} << kSubBucketBits);

  LatencyHistogram();

  void Record(int64_t ns);  // negative values count as 0
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }  // exact; 0 when empty
  int64_t max() const { return count_ ? max_ : 0; }  // exact; 0 when empty
  int64_t mean() const { return count_ ? sum_ / count_ : 0; }
  // The value of rank ceil(p / 100 * count) (the nearest-rank method), p in [0, 100]: the middle
  // of its bucket, clamped to the exact [min, max]; p = 0 gives min and p = 100 gives max. 0 when
  // empty.
  int64_t Percentile(double p) const;
  // Calls f(value, count) for each non-empty bucket in increasing order, `value` being the middle
  // of the bucket clamped to the exact [min, max] (what Percentile reports for it), and for the
  // lowest and the highest bucket the exact min and max.
  template <typename F>
  void ForEachBucket(F f) const {
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      const int64_t v = MiddleOf(static_cast<int>(i));
      const bool lowest = i == static_cast<size_t>(BucketOf(min_));
      const bool highest = i == static_cast<size_t>(BucketOf(max_));
      f(lowest ? min_ : highest ? max_ : std::clamp(v, min_, max_), counts_[i]);
    }
  }

 private:
  static int BucketOf(int64_t ns);
  static int64_t MiddleOf(int bucket);

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  int64_t sum_ = 0;
};

}  // namespace arginator::client
