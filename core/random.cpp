// Seeded randomness: SplitMix64 seeding, xoshiro256** 1.0, and distributions
// written out by hand so that one seed explores the same run on every compiler
// and standard library. Nothing here may use the standard random header: its
// distributions are implementation-defined, which is exactly the nondeterminism
// we are avoiding.
#include <streamsim/core/random.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include <streamsim/core/assert.h>

namespace streamsim {

namespace {

// GCC and Clang both provide a 128-bit unsigned integer; __extension__ keeps
// -pedantic quiet because the project builds with compiler extensions off.
__extension__ using u128 = unsigned __int128;

constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr double kTwoPi = 6.283185307179586476925286766559;

}  // namespace

// Reference: https://prng.di.unimi.it/splitmix64.c (Vigna), unchanged.
uint64_t splitmix64(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a over the bytes of the name. Bytes are taken as unsigned char so the
// result does not depend on whether plain char is signed on this platform.
uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The four state words are four successive SplitMix64 outputs, as the xoshiro
// authors recommend. SplitMix64's output function is a bijection of its counter,
// so at most one of four consecutive outputs can be zero and the all-zero state
// (the one state xoshiro can never leave) cannot occur.
Rng::Rng(uint64_t seed) {
  uint64_t sm = seed;
  for (auto& word : s_) word = splitmix64(sm);
}

// A named stream is Rng(seed ^ mix(fnv1a64(name))), where mix is one SplitMix64
// step applied to the name hash. FNV-1a alone is a weak hash (similar names give
// hashes that differ in few, mostly high, bits); the SplitMix64 finaliser spreads
// every name bit over the whole word. The XOR with the run seed is then expanded
// again by the SplitMix64 seeding in Rng(uint64_t), so streams of different names
// start from unrelated xoshiro states. The derivation uses only the two inputs,
// so creating or drawing from one stream never affects another.
Rng Rng::stream(uint64_t seed, std::string_view name) {
  uint64_t h = fnv1a64(name);
  const uint64_t mixed = splitmix64(h);
  return Rng(seed ^ mixed);
}

// Reference: https://prng.di.unimi.it/xoshiro256starstar.c (Blackman and Vigna).
uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

// Lemire, "Fast Random Integer Generation in an Interval" (2019). The high word of
// x * bound is the candidate; the low word tells whether x fell in the short,
// biased part of its slot, and only then is the (slow) modulo computed to decide
// whether to redraw. This is unbiased for every bound.
uint64_t Rng::uniform(uint64_t bound) {
  SS_ASSERT(bound > 0, "Rng::uniform needs a positive bound");
  u128 m = static_cast<u128>(next_u64()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    // (2^64 - bound) mod bound, computed without 128-bit division.
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<u128>(next_u64()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

// The span hi - lo is computed in uint64_t, where it always fits (at most
// 2^64 - 1), and the offset is added back with modular arithmetic; the final
// conversion to int64_t is well defined (two's complement) since C++20. The one
// span that does not fit in a bound, the whole int64 range, is a raw draw.
int64_t Rng::uniform_int(int64_t lo, int64_t hi) {
  SS_ASSERT(lo <= hi, "Rng::uniform_int needs lo <= hi");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == std::numeric_limits<uint64_t>::max()) return static_cast<int64_t>(next_u64());
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + uniform(span + 1));
}

// The top 53 bits fill a double's mantissa exactly, so every value is a multiple
// of 2^-53 in [0, 1) and 1.0 itself is never produced.
double Rng::uniform01() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

// lo + (hi - lo) * u can round up to hi when the span is wide compared to lo, so
// that one case is pulled back below hi to keep the documented half-open range.
double Rng::uniform_real(double lo, double hi) {
  SS_ASSERT(lo <= hi, "Rng::uniform_real needs lo <= hi");
  const double r = lo + (hi - lo) * uniform01();
  if (r >= hi && hi > lo) return std::nextafter(hi, lo);
  return r;
}

// The edge cases return without drawing, so a component whose probability is 0
// or 1 does not consume randomness; that keeps its later draws independent of
// whether such a degenerate probability was configured.
bool Rng::bernoulli(double p) {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  return uniform01() < p;
}

// Inversion: with u in [0, 1), 1 - u is in (0, 1], so the logarithm is finite.
// log1p keeps precision for small u, where most of the draws of interest are.
double Rng::exponential(double mean) {
  SS_ASSERT(mean > 0.0, "Rng::exponential needs a positive mean");
  return -mean * std::log1p(-uniform01());
}

// Basic Box-Muller. Only the cosine branch is used and the sine partner is
// discarded, because caching it would make a draw depend on the call before it.
// u1 is taken in (0, 1] so log(u1) is finite.
double Rng::normal(double mean, double stddev) {
  SS_ASSERT(stddev >= 0.0, "Rng::normal needs a non-negative stddev");
  const double u1 = 1.0 - uniform01();
  const double u2 = uniform01();
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
  return mean + stddev * z;
}

double Rng::lognormal(double mu, double sigma) { return std::exp(normal(mu, sigma)); }

namespace {

// Helpers for rejection-inversion Zipf sampling, following Hormann and Derflinger
// (1996) as implemented in Apache Commons RNG's RejectionInversionZipfSampler.
// The hat integral is H(x) = (x^(1-s) - 1) / (1-s), which tends to log(x) as s
// tends to 1; writing it through expm1/log1p with Taylor fallbacks keeps it
// accurate near s == 1, so one code path covers every s > 0.
struct ZipfHat {
  double s;

  static constexpr double kTaylorThreshold = 1e-8;

  // log(1 + x) / x, with its series near 0 where the quotient is 0/0.
  static double helper1(double x) {
    if (std::fabs(x) > kTaylorThreshold) return std::log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
  }

  // (exp(x) - 1) / x, with its series near 0.
  static double helper2(double x) {
    if (std::fabs(x) > kTaylorThreshold) return std::expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
  }

  // h(x) = x^-s, the hat function.
  double h(double x) const { return std::exp(-s * std::log(x)); }

  // H(x), an antiderivative of h.
  double big_h(double x) const {
    const double log_x = std::log(x);
    return helper2((1.0 - s) * log_x) * log_x;
  }

  // The inverse of H.
  double big_h_inverse(double x) const {
    double t = x * (1.0 - s);
    // Rounding can push t just below -1, where log1p is undefined; the exact
    // value is never below -1, so clamping only undoes the rounding.
    if (t < -1.0) t = -1.0;
    return std::exp(helper1(t) * x);
  }
};

}  // namespace

// Rejection-inversion: u is drawn uniformly under the integrated hat between
// H(1.5) - 1 and H(n + 0.5), inverted to a real x, and rounded to the integer k.
// k = 1 is always accepted; larger k are accepted with probability h(k) over the
// hat's mass on [k - 1/2, k + 1/2], which makes P(k) proportional to k^-s. The
// cheap test k - x <= shortcut accepts most draws without evaluating H again.
//
// The constants depend only on (n, s) and are recomputed on every call: the
// header keeps Rng free of per-distribution state, and a cache keyed on (n, s)
// would make the cost of a draw depend on the previous call's arguments.
uint64_t Rng::zipf(uint64_t n, double s) {
  SS_ASSERT(n >= 1, "Rng::zipf needs n >= 1");
  SS_ASSERT(s > 0.0, "Rng::zipf needs a positive exponent");
  // With one element there is nothing to draw; return without consuming
  // randomness, like bernoulli's degenerate cases.
  if (n == 1) return 1;

  const ZipfHat hat{s};
  const double n_d = static_cast<double>(n);
  const double h_integral_x1 = hat.big_h(1.5) - 1.0;
  const double h_integral_n = hat.big_h(n_d + 0.5);
  const double shortcut = 2.0 - hat.big_h_inverse(hat.big_h(2.5) - hat.h(2.0));

  for (;;) {
    // uniform01() is in [0, 1), so u is in (H(1.5) - 1, H(n + 0.5)].
    const double u = h_integral_n + uniform01() * (h_integral_x1 - h_integral_n);
    const double x = hat.big_h_inverse(u);
    // Round to the nearest integer and clamp to [1, n] in floating point first:
    // rounding can step just outside the support, and for n near 2^64 converting
    // an out-of-range double to uint64_t would be undefined behaviour.
    const double rounded = x + 0.5;
    uint64_t k;
    if (!(rounded >= 1.0)) {
      k = 1;
    } else if (rounded >= n_d) {
      k = n;
    } else {
      k = static_cast<uint64_t>(rounded);
    }
    const double k_d = static_cast<double>(k);
    if (k_d - x <= shortcut || u >= hat.big_h(k_d + 0.5) - hat.h(k_d)) return k;
  }
}

}  // namespace streamsim
