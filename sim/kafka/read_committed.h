// What a consumer sees of a fetched partition (internal to sim/kafka): a pure
// function over the batches of a FetchPartitionResult, so it is tested on its own.
//
// Like librdkafka and the Java consumer (KIP-98):
// - Control batches (COMMIT/ABORT markers) are never returned, at any isolation level.
// - read_committed: the fetch lists the aborted transactions overlapping it
//   (producer id, first offset). Walking the batches in offset order, a
//   producer becomes "aborted" at its first offset; its transactional data
//   batches are dropped until its ABORT marker, which ends that. Non-
//   transactional batches and other producers' batches are kept.
// - The consumer's next position is past every batch examined (dropped and
//   control batches included), so it does not fetch them again.
#pragma once

#include <streamsim/sim/kafka/protocol.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace streamsim::sim::kafka {

// A record as the consumer may return it. `record` refers into one of the
// batches passed to visible_records() (not a copy: the consumer copies each
// record once, straight into what it returns), so it is valid while they live.
struct VisibleRecord {
  int64_t offset = 0;
  int32_t leader_epoch = -1;
  const Record& record;
};

struct VisibleRecords {
  std::vector<VisibleRecord> records;
  // The position after this fetch: past the last record returned when
  // max_records cut a batch, else past the last batch examined (`from` if none).
  int64_t next_offset = 0;
};

// Records at offsets >= from, at most max_records (> 0). `aborted` is the
// fetch's list (any order). Does not suspend. The result refers into `batches`.
VisibleRecords visible_records(const std::vector<BatchPtr>& batches, const std::vector<AbortedTxn>& aborted,
                               bool read_committed, int64_t from, size_t max_records);

}  // namespace streamsim::sim::kafka
