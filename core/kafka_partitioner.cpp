#include <streamsim/kafka/partitioner.h>

#include <streamsim/core/assert.h>

#include <boost/crc.hpp>

#include <cstring>

namespace streamsim::kafka {

std::optional<Partitioner> parse_partitioner(std::string_view n) {
  if (n == "random") return Partitioner::random;
  if (n == "consistent") return Partitioner::consistent;
  if (n == "consistent_random") return Partitioner::consistent_random;
  if (n == "murmur2") return Partitioner::murmur2;
  if (n == "murmur2_random") return Partitioner::murmur2_random;
  if (n == "fnv1a") return Partitioner::fnv1a;
  if (n == "fnv1a_random") return Partitioner::fnv1a_random;
  return std::nullopt;
}

const char* to_string(Partitioner p) {
  switch (p) {
    case Partitioner::random: return "random";
    case Partitioner::consistent: return "consistent";
    case Partitioner::consistent_random: return "consistent_random";
    case Partitioner::murmur2: return "murmur2";
    case Partitioner::murmur2_random: return "murmur2_random";
    case Partitioner::fnv1a: return "fnv1a";
    case Partitioner::fnv1a_random: return "fnv1a_random";
  }
  return "unknown";
}

uint32_t crc32_ieee(std::string_view data) {
  boost::crc_32_type c;
  c.process_bytes(data.data(), data.size());
  return c.checksum();
}

// Kafka's murmur2 (seed 0x9747b28c), little-endian words, as in librdkafka's
// rd_murmur2 and the Java client's Utils.murmur2.
uint32_t murmur2(std::string_view data) {
  const uint32_t seed = 0x9747b28c, m = 0x5bd1e995;
  const int r = 24;
  size_t len = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(len);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  while (len >= 4) {
    uint32_t k = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
                 static_cast<uint32_t>(p[3]) << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
    p += 4;
    len -= 4;
  }
  switch (len) {
    case 3: h ^= static_cast<uint32_t>(p[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(p[1]) << 8; [[fallthrough]];
    case 1:
      h ^= p[0];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

// FNV-1a 32-bit, then the absolute value of it as a signed int (librdkafka
// rd_fnv1a, matching Sarama).
uint32_t fnv1a32(std::string_view data) {
  uint32_t h = 0x811C9DC5u;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x01000193u;
  }
  int32_t s;
  std::memcpy(&s, &h, sizeof s);
  if (s < 0) s = static_cast<int32_t>(0u - h);  // -s without signed overflow on INT32_MIN
  uint32_t out;
  std::memcpy(&out, &s, sizeof out);
  return out;
}

int32_t partition_for(Partitioner p, const std::optional<std::string_view>& key, int32_t partitions, Rng& rng) {
  SS_ASSERT(partitions > 0, "partitioning over zero partitions");
  const auto n = static_cast<uint32_t>(partitions);
  auto random_partition = [&] { return static_cast<int32_t>(rng.uniform(n)); };
  switch (p) {
    case Partitioner::random: return random_partition();
    // librdkafka hashes an absent key as empty for `consistent`.
    case Partitioner::consistent: return static_cast<int32_t>(crc32_ieee(key.value_or("")) % n);
    // An empty key counts as no key for consistent_random (keylen == 0 test).
    case Partitioner::consistent_random:
      if (!key || key->empty()) return random_partition();
      return static_cast<int32_t>(crc32_ieee(*key) % n);
    case Partitioner::murmur2: return static_cast<int32_t>((murmur2(key.value_or("")) & 0x7fffffff) % n);
    // murmur2_random and fnv1a_random test for an absent key only.
    case Partitioner::murmur2_random:
      if (!key) return random_partition();
      return static_cast<int32_t>((murmur2(*key) & 0x7fffffff) % n);
    case Partitioner::fnv1a: return static_cast<int32_t>(fnv1a32(key.value_or("")) % n);
    case Partitioner::fnv1a_random:
      if (!key) return random_partition();
      return static_cast<int32_t>(fnv1a32(*key) % n);
  }
  SS_PANIC("unknown partitioner");
}

}  // namespace streamsim::kafka
