// The range and roundrobin assignors (see include/streamsim/sim/kafka/assignor.h).
#include <streamsim/core/assert.h>
#include <streamsim/sim/kafka/assignor.h>

#include <algorithm>
#include <set>

namespace streamsim::sim::kafka {

using streamsim::kafka::TopicPartition;

std::optional<AssignorKind> parse_assignor(std::string_view name) {
  if (name == "range") return AssignorKind::range;
  if (name == "roundrobin") return AssignorKind::roundrobin;
  return std::nullopt;
}

const char* assignor_name(AssignorKind k) { return k == AssignorKind::range ? "range" : "roundrobin"; }

namespace {

bool subscribes(const AssignorMember& m, const std::string& topic) {
  return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
}

// Topics that some member subscribes to and whose partition count is known, in
// name order (librdkafka's eligible topics, sorted).
std::vector<std::pair<std::string, int32_t>> eligible_topics(const std::vector<AssignorMember>& members,
                                                             const std::map<std::string, int32_t>& counts) {
  std::set<std::string> wanted;
  for (const auto& m : members) wanted.insert(m.topics.begin(), m.topics.end());
  std::vector<std::pair<std::string, int32_t>> out;
  for (const auto& t : wanted) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) out.emplace_back(t, it->second);
  }
  return out;
}

}  // namespace

GroupAssignment assign_partitions(AssignorKind kind, const std::vector<AssignorMember>& members,
                                  const std::map<std::string, int32_t>& partitions_per_topic) {
  GroupAssignment out;
  std::vector<const AssignorMember*> sorted;
  for (const auto& m : members) {
    SS_ASSERT(out.count(m.member_id) == 0, "assignor given the same member twice");
    out[m.member_id];
    sorted.push_back(&m);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->member_id < b->member_id; });
  const auto topics = eligible_topics(members, partitions_per_topic);
  if (kind == AssignorKind::range) {
    for (const auto& [topic, count] : topics) {
      std::vector<const AssignorMember*> subs;
      for (auto* m : sorted) {
        if (subscribes(*m, topic)) subs.push_back(m);
      }
      SS_ASSERT(!subs.empty(), "an eligible topic has a subscriber");
      const int32_t n = static_cast<int32_t>(subs.size());
      const int32_t per = count / n;
      const int32_t extra = count % n;
      for (int32_t i = 0; i < n; ++i) {
        const int32_t start = per * i + std::min(i, extra);
        const int32_t length = per + (i + 1 > extra ? 0 : 1);
        for (int32_t p = start; p < start + length; ++p) out[subs[static_cast<size_t>(i)]->member_id].push_back({topic, p});
      }
    }
  } else {
    size_t next = sorted.size() - 1;  // librdkafka starts at -1 and pre-increments
    for (const auto& [topic, count] : topics) {
      for (int32_t p = 0; p < count; ++p) {
        // Bounded: some member subscribes to an eligible topic, so one lap finds it.
        size_t steps = 0;
        do {
          next = (next + 1) % sorted.size();
          SS_ASSERT(++steps <= sorted.size(), "roundrobin found no subscriber");
        } while (!subscribes(*sorted[next], topic));
        out[sorted[next]->member_id].push_back({topic, p});
      }
    }
  }
  return out;
}

}  // namespace streamsim::sim::kafka
