// Client-side partition assignors of the classic consumer group protocol, as
// librdkafka computes them (rdkafka_range_assignor.c, rdkafka_roundrobin_assignor.c,
// which follow Kafka's RangeAssignor and RoundRobinAssignor). The group leader
// runs one of these on the members' subscriptions and sends the result in its
// SyncGroup request.
//
// - range: per topic (topics in name order), the subscribing members in member
//   id order; each gets partitions/members consecutive partitions, the first
//   partitions%members one more.
// - roundrobin: every partition of every subscribed topic (topic name order,
//   then partition order) goes to the next member (member id order, cyclic)
//   that subscribes to its topic.
//
// Member ids compare as byte strings (librdkafka's rd_kafkap_str_cmp: memcmp,
// then the shorter first), which is std::string's order. Topics no member
// subscribes to, or that are missing from the partition counts, get no
// assignment. Pure functions: no suspension, no randomness.
#pragma once

#include <streamsim/kafka.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamsim::sim::kafka {

enum class AssignorKind { range, roundrobin };

// "range" or "roundrobin"; nullopt for anything else (cooperative-sticky is not
// simulated: the client refuses it when subscribing).
std::optional<AssignorKind> parse_assignor(std::string_view name);
const char* assignor_name(AssignorKind k);

struct AssignorMember {
  std::string member_id;
  std::vector<std::string> topics;  // its subscription
};

// member id -> its partitions (topic order, then partition order). Every member
// appears, possibly with no partitions. Precondition: member ids are unique.
using GroupAssignment = std::map<std::string, std::vector<streamsim::kafka::TopicPartition>>;
GroupAssignment assign_partitions(AssignorKind kind, const std::vector<AssignorMember>& members,
                                  const std::map<std::string, int32_t>& partitions_per_topic);

}  // namespace streamsim::sim::kafka
