// Transaction APIs of the simulated Kafka protocol: AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn (client to transaction coordinator) and
// WriteTxnMarkers (coordinator to partition leaders), served by the transaction
// coordinator (sim/kafka/txn_coordinator.*) and the partition leaders.
//
// KIP-98 in brief: a transactional producer asks its coordinator (FindCoordinator
// type=transaction) for a producer id and epoch (InitProducerId, which fences
// older producers of the same transactional.id by bumping the epoch), registers
// every partition before its first write to it in a transaction
// (AddPartitionsToTxn) and the group's __consumer_offsets partition before
// TxnOffsetCommit (AddOffsetsToTxn), and ends with EndTxn. The coordinator
// persists PrepareCommit/PrepareAbort, writes a COMMIT/ABORT control batch to
// every registered partition (WriteTxnMarkers), then persists CompleteCommit/
// CompleteAbort. Consumers in read_committed mode read only below each
// partition's last stable offset and drop aborted data.
#pragma once

#include <streamsim/sim/kafka/protocol.h>

#include <string>
#include <utility>
#include <vector>

namespace streamsim::sim::kafka {

// Errors of the client-facing calls, as Kafka answers them: not_coordinator /
// coordinator_not_available / coordinator_load_in_progress (find the coordinator
// again or wait, then retry), concurrent_transactions (a state change of this
// transactional.id is still in progress: retry after a short backoff),
// producer_fenced (an older epoch: a newer producer took over),
// invalid_producer_id_mapping (unknown transactional.id or another producer id),
// invalid_txn_state (the call does not fit the transaction's state).

struct AddPartitionsToTxnReq final : Payload {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::vector<TopicPartition> partitions;
  const char* type_name() const override { return "AddPartitionsToTxn"; }
};
struct AddPartitionsToTxnResp final : Payload {
  // One result per requested partition, in request order; a request-level error
  // (not coordinator, fenced, ...) is repeated for every partition.
  std::vector<std::pair<TopicPartition, Errc>> results;
  // The first error among the results (no_error if none), for callers that do
  // not need the partition detail.
  Errc error = Errc::no_error;
  const char* type_name() const override { return "AddPartitionsToTxnResponse"; }
};

// Adds the __consumer_offsets partition of group_id to the transaction, so its
// TxnOffsetCommit becomes visible with the transaction's COMMIT marker.
struct AddOffsetsToTxnReq final : Payload {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::string group_id;
  const char* type_name() const override { return "AddOffsetsToTxn"; }
};
struct AddOffsetsToTxnResp final : Payload {
  Errc error = Errc::no_error;
  const char* type_name() const override { return "AddOffsetsToTxnResponse"; }
};

struct EndTxnReq final : Payload {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  bool committed = false;  // true: commit, false: abort
  const char* type_name() const override { return "EndTxn"; }
};
// Answered once the PrepareCommit/PrepareAbort record is replicated: the outcome
// is decided then; markers are written afterwards, and until they are the
// transactional.id answers concurrent_transactions.
struct EndTxnResp final : Payload {
  Errc error = Errc::no_error;
  const char* type_name() const override { return "EndTxnResponse"; }
};

// A transaction marker to write to each of `partitions` (led by the receiver).
// coordinator_epoch is the leader epoch of the coordinator's __transaction_state
// partition: a partition refuses markers from an older coordinator of the same
// producer (transaction_coordinator_fenced).
struct TxnMarker {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t coordinator_epoch = -1;
  bool committed = false;
  std::vector<TopicPartition> partitions;
};
struct WriteTxnMarkersReq final : Payload {
  std::vector<TxnMarker> markers;
  Duration timeout = Duration::seconds(5);
  const char* type_name() const override { return "WriteTxnMarkers"; }
};
struct WriteTxnMarkersResp final : Payload {
  // Per marker (request order), per partition (marker order).
  std::vector<std::vector<std::pair<TopicPartition, Errc>>> results;
  const char* type_name() const override { return "WriteTxnMarkersResponse"; }
};

}  // namespace streamsim::sim::kafka
