// Seeded randomness: one 64-bit seed, one small fast generator, our own distributions.
//
// Why our own distributions: the standard library's distributions are allowed to
// differ between implementations and versions, so the same seed could explore a
// different run after a compiler upgrade. Everything here is specified exactly.
//
// Named sub-streams: Rng::stream(seed, "net") derives an independent generator
// from the run seed and a name, so adding a component (a new stream name) never
// shifts the draws of the others.
//
// Not thread-safe; a generator belongs to one component on one thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace streamsim {

// SplitMix64 step: used to expand a 64-bit seed into generator state.
uint64_t splitmix64(uint64_t& state);
// FNV-1a 64-bit hash of a name; stable across platforms.
uint64_t fnv1a64(std::string_view s);

// xoshiro256** 1.0 (Blackman and Vigna), seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  // Independent generator for (seed, name). Same inputs give the same stream.
  static Rng stream(uint64_t seed, std::string_view name);

  uint64_t next_u64();
  // Uniform integer in [0, bound). Precondition: bound > 0. Unbiased (Lemire).
  uint64_t uniform(uint64_t bound);
  // Uniform integer in [lo, hi] inclusive. Precondition: lo <= hi.
  int64_t uniform_int(int64_t lo, int64_t hi);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform01();
  // Uniform double in [lo, hi).
  double uniform_real(double lo, double hi);
  // True with probability p (p <= 0 never, p >= 1 always).
  bool bernoulli(double p);
  // Exponential with the given mean (> 0).
  double exponential(double mean);
  // Normal (Box-Muller, one value per call, no cached state).
  double normal(double mean, double stddev);
  // exp(normal(mu, sigma)).
  double lognormal(double mu, double sigma);
  // Zipf on {1..n} with exponent s > 0 (rejection-inversion, Hormann and Derflinger).
  uint64_t zipf(uint64_t n, double s);

  // Raw state, for tests against the reference implementation.
  const std::array<uint64_t, 4>& state() const { return s_; }

 private:
  std::array<uint64_t, 4> s_{};
};

}  // namespace streamsim
