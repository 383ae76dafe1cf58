// What Jepsen-style Kafka clients observed, and the checker that judges it.
//
// Producers send unique values (strings) and record each send and its outcome;
// consumers record every record a poll returned (with the member's group
// generation when it consumes through a group) and every assignment they got.
// After the run a final read_committed read of each partition gives the log as
// it ended. The checker never looks inside the system under test.
#pragma once

#include <streamsim/scenarios/kafka_history.h>
#include <streamsim/scenarios/scenario.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace streamsim::harness {

using scenarios::Assignment;
using scenarios::Commit;
using scenarios::ConsumerInfo;
using scenarios::KafkaHistory;
using scenarios::Poll;
using scenarios::Send;
using scenarios::SendOutcome;
using scenarios::TopicPartition;
using scenarios::TxnOutcome;

// Properties, in this order, each with the first offending case (partition,
// offsets, values, producer / consumer) as one-line evidence. A value is
// "committed-visible" when its send was acked and it is outside a transaction or
// its transaction committed; a transaction whose outcome is unknown (or not
// recorded) counts as committed once any of its values is in the final log.
// - lost_writes: a committed-visible value is missing from the final log, or sits
//   at an offset other than the one acknowledged, or its partition could not be
//   read;
// - no_duplicates: a value appears at more than one position of the final log,
//   or one consumer polled it at two different positions (re-reading the same
//   offset is not a duplicate);
// - no_poll_skips: (a) two consecutive polls of one consumer on one partition, in
//   seq order, in the same generation, the later one not after_seek, at offsets
//   a < b, with a committed-visible final-log value strictly between a and b
//   (offsets of aborted data and markers are gaps, not skips); (b) only when
//   commits_complete: a group member's first poll of a partition in a
//   generation is at offset b, s is the highest offset any member asked to
//   commit for that partition before it (0 if none), and a committed-visible
//   value lies in [s, b): the handoff skipped past the committed offset.
//   Starting at or below s (a re-read) is legitimate;
// - monotonic_sends: one producer's acked offsets on a partition do not strictly
//   increase in send_index order (only checked when sends_must_be_ordered);
// - monotonic_polls: a consumer's offsets on a partition do not strictly increase
//   in seq order, unless the later poll is after_seek or the generation changed
//   (a group handoff restarts from the committed offset);
// - no_aborted_reads: when read_committed, any consumer (whatever its
//   isolation.level), and always the final read_committed log, returned a value
//   of an aborted transaction (G1a), of a transaction without a known commit and
//   absent from the final log, of a failed send, or never sent; or a consumer
//   returned a value of a transaction before its producer asked to commit it
//   (seq below the transaction's commit_seq: an uncommitted read);
// - one_owner_per_generation: two consumers got one partition in assigned
//   events of one generation (assignments with a negative generation, manual
//   assign(), and revoked / lost events are not group ownership).
// Polls with equal seq keep their order in `polls`; commits act on polls with a
// greater seq. O(n log n) in the history.
// Preconditions (SS_ASSERT): send values are unique; acked sends have an offset
// >= 0; no two sends of one producer to one partition share a send_index; no
// transaction has two different outcomes; poll and commit offsets are >= 0.
std::vector<scenarios::PropertyResult> check_kafka(const KafkaHistory& h, bool sends_must_be_ordered);

}  // namespace streamsim::harness
