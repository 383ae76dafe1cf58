// The catalog of coverage marks (Runtime::probe): every mark the code can reach,
// with a one-line meaning. A scenario's expect.targets may only name marks of
// this catalog (the loader refuses others at their file:line:column), so a typo
// cannot make a sweep wait for a path that does not exist.
//
// Keep three things in step: the probe("...") calls in sim/ and engine/, this
// list, and the "Coverage marks" section of docs/scenarios.md. The test
// tests/harness/coverage_marks_test.cpp scans the sources and fails when they
// drift apart.
//
// BUGGIFY points (Runtime::buggify) add a mark "buggify.<point>" each time they
// fire; those names follow the points and are accepted without a catalog entry.
#pragma once

#include <string_view>

namespace streamsim {

struct CoverageMark {
  std::string_view name;
  std::string_view meaning;
};

inline constexpr CoverageMark kCoverageMarks[] = {
    // Simulated Kafka cluster (sim/kafka).
    {"kafka.leader_epoch_change", "the controller elected a new partition leader and bumped the leader epoch"},
    {"kafka.unclean_election", "a replica outside the ISR became leader (unclean.leader.election.enable)"},
    {"kafka.partition_offline", "a partition lost its leader and no eligible replica could take over"},
    {"kafka.isr_shrink", "a replica left a partition's ISR (lagging, or its broker was fenced)"},
    {"kafka.isr_expand", "a caught-up replica rejoined a partition's ISR"},
    {"kafka.not_enough_replicas", "an acks=all produce was refused because the ISR was below min.insync.replicas (NOT_ENOUGH_REPLICAS, before or after the append)"},
    {"kafka.log_truncated", "a follower truncated its log to the new leader's epoch boundary (KIP-279)"},
    {"kafka.duplicate_batch", "a partition leader recognised a retried idempotent batch and did not append it again"},
    {"kafka.out_of_order_sequence", "a partition leader refused a batch with a sequence gap (OUT_OF_ORDER_SEQUENCE_NUMBER)"},
    {"kafka.stale_producer_epoch_rejected", "a partition leader refused a batch from an older producer epoch"},
    {"kafka.producer_epoch_bump", "InitProducerId bumped the epoch of an existing transactional.id, fencing its predecessor"},
    {"kafka.txn_fence_abort", "the transaction coordinator fenced a producer and aborted its open transaction"},
    {"kafka.txn_timeout_abort", "the transaction coordinator aborted a transaction that exceeded its timeout"},
    {"kafka.producer_fenced", "a transactional producer client learned it was fenced (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH)"},
    {"kafka.txn_coordinator_moved", "a broker stopped coordinating a __transaction_state partition (leadership moved)"},
    {"kafka.group_rebalance", "a consumer group with members started a rebalance (a new generation follows)"},
    {"kafka.group_session_expired", "the group coordinator removed a member whose session timed out"},
    {"kafka.group_coordinator_moved", "a broker unloaded the groups of a __consumer_offsets partition (leadership moved)"},
    {"kafka.commit_fenced_generation", "an offset commit (plain or transactional) was refused for a stale group generation"},
    // Streaming engine (engine/).
    {"engine.group_offset_ignored_without_state", "an at-least-once task with no changelog state re-read its partition from the beginning instead of trusting a group offset whose state was never written"},
    {"engine.state_restored", "a task restored non-empty state from its changelog (restart or takeover)"},
    {"engine.partial_batch_dropped", "a restore found changelog entries of a batch cut short by a crash and dropped them"},
    {"engine.revoked_mid_batch", "a rebalance revoked a partition while records for the batch in progress were buffered"},
    {"engine.late_event_routed", "a batch routed events that arrived after their window closed to the late-events topic"},
    {"engine.dead_letter_routed", "a batch routed undecodable input to the dead-letter topic"},
    {"engine.batch_aborted", "an exactly-once batch's transaction was aborted and the task rewound to its last commit"},
    {"engine.zombie_fenced", "an engine task's producer was fenced by a newer owner of its partition (zombie)"},
};

// True when `name` is a catalog mark or a BUGGIFY mark ("buggify.<point>").
constexpr bool is_known_coverage_mark(std::string_view name) {
  if (name.size() > 8 && name.substr(0, 8) == "buggify.") return true;
  for (const auto& m : kCoverageMarks) {
    if (m.name == name) return true;
  }
  return false;
}

}  // namespace streamsim
