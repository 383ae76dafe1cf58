// Key-to-partition mapping, computed exactly as librdkafka does, so that a key
// lands on the same partition in simulation and against a real cluster.
//
// Names are librdkafka's `partitioner` property values. The default is
// consistent_random: CRC-32 of the key modulo the partition count, and a random
// partition for an empty or absent key. murmur2 matches the Java client's default
// partitioner; fnv1a matches Sarama's.
#pragma once

#include <streamsim/core/random.h>
#include <streamsim/core/result.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace streamsim::kafka {

enum class Partitioner { random, consistent, consistent_random, murmur2, murmur2_random, fnv1a, fnv1a_random };

// Parses a `partitioner` property value; nullopt if unknown.
std::optional<Partitioner> parse_partitioner(std::string_view name);
const char* to_string(Partitioner p);

// The hash functions, as librdkafka defines them.
uint32_t crc32_ieee(std::string_view data);
uint32_t murmur2(std::string_view data);
uint32_t fnv1a32(std::string_view data);

// Partition for `key` (nullopt = no key) among `partitions` (> 0). Draws from
// rng only when the partitioner chooses at random.
int32_t partition_for(Partitioner p, const std::optional<std::string_view>& key, int32_t partitions, Rng& rng);

}  // namespace streamsim::kafka
