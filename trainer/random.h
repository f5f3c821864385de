#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace arginator::trainer {

// A seeded generator whose outputs are the same on every platform: std::mt19937_64 is fully
// specified, but std::*_distribution are not, so the distributions are written out here.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Next() { return engine_(); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>(Uniform() * n); }
  // Standard normal (Box-Muller, caching the second value).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 1e-300) u1 = Uniform();
    double u2 = Uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2 * M_PI * u2);
  }
  template <typename It>
  void Shuffle(It begin, It end) {
    for (auto n = end - begin; n > 1; --n) std::swap(begin[n - 1], begin[Below(n)]);
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace arginator::trainer
