#include "client/loadgen/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace arginator::client {
namespace {

constexpr double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};

// The nearest-rank percentile of `sorted`, as LoadReport computed it from every sample.
int64_t ExactPercentile(const std::vector<int64_t>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void ExpectMatchesSamples(const LatencyHistogram& h, std::vector<int64_t> samples) {
  std::sort(samples.begin(), samples.end());
  ASSERT_EQ(h.count(), static_cast<int64_t>(samples.size()));
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.max(), samples.back());
  int64_t sum = 0;
  for (int64_t s : samples) sum += s;
  EXPECT_EQ(h.mean(), sum / static_cast<int64_t>(samples.size()));
  for (double p : kPercentiles) {
    const double exact = static_cast<double>(ExactPercentile(samples, p));
    EXPECT_NEAR(static_cast<double>(h.Percentile(p)), exact,
                exact * LatencyHistogram::kRelativePrecision)
        << "p" << p;
  }
}

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
  for (double p : kPercentiles) EXPECT_EQ(h.Percentile(p), 0) << "p" << p;
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  std::vector<int64_t> samples;
  for (int64_t v = 100; v >= 1; --v) {
    h.Record(v);
    samples.push_back(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : kPercentiles) EXPECT_EQ(h.Percentile(p), ExactPercentile(samples, p)) << p;
  EXPECT_EQ(h.Percentile(50), 50);
  EXPECT_EQ(h.mean(), 50);  // 5050 / 100, truncated
}

TEST(LatencyHistogramTest, LogUniformMicrosecondsToHundredSecondsWithinPrecision) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> log10_ns(3, 11);  // 1 us .. 100 s
  LatencyHistogram h;
  std::vector<int64_t> samples;
  for (int i = 0; i < 200000; ++i) {
    const int64_t v = static_cast<int64_t>(std::pow(10.0, log10_ns(rng)));
    h.Record(v);
    samples.push_back(v);
  }
  ExpectMatchesSamples(h, samples);
}

TEST(LatencyHistogramTest, NarrowNormalDistributionWithinPrecision) {
  // A fast server's latencies: ~120 us with a few microseconds of spread, where a coarse
  // histogram would put every percentile in one bucket.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> us(120, 4);
  LatencyHistogram h;
  std::vector<int64_t> samples;
  for (int i = 0; i < 100000; ++i) {
    const int64_t v = static_cast<int64_t>(us(rng) * 1000);
    h.Record(v);
    samples.push_back(v);
  }
  ExpectMatchesSamples(h, samples);
  EXPECT_LT(h.Percentile(10), h.Percentile(50));
  EXPECT_LT(h.Percentile(50), h.Percentile(90));
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> ms(1.0);
  LatencyHistogram a, b, all;
  std::vector<int64_t> samples;
  for (int i = 0; i < 50000; ++i) {
    const int64_t v = static_cast<int64_t>(ms(rng) * 1e6) + 1000;
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
    samples.push_back(v);
  }
  LatencyHistogram merged;
  merged.Merge(a);
  merged.Merge(LatencyHistogram());  // merging an empty one changes nothing
  merged.Merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.mean(), all.mean());
  for (double p : kPercentiles) EXPECT_EQ(merged.Percentile(p), all.Percentile(p)) << "p" << p;
  ExpectMatchesSamples(merged, samples);
}

TEST(LatencyHistogramTest, OutOfRangeValuesKeepExactExtremes) {
  LatencyHistogram h;
  h.Record(-5);                         // a clock step back counts as 0
  h.Record(int64_t{300} * 1000000000);  // 300 s, beyond the tracked range
  h.Record(int64_t{250} * 1000000000);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), int64_t{300} * 1000000000);
  EXPECT_EQ(h.Percentile(100), int64_t{300} * 1000000000);
  // Values past the range share the top bucket: a percentile there stays within [min, max] and
  // at least the range's end.
  EXPECT_GE(h.Percentile(60), LatencyHistogram::kMaxTrackable);
  EXPECT_LE(h.Percentile(60), h.max());
}

}  // namespace
}  // namespace arginator::client
