// One partition replica on one broker: Kafka's replication logic as a state
// machine over a PartitionLog, with no networking. The broker's request handlers
// (produce, fetch, leader-and-ISR) call it; tests drive several replicas directly.
//
// Leader side: validates and appends produce batches (leader epoch, acks=all with
// min.insync.replicas, idempotent producer sequences with the last five batches
// cached per producer), serves follower fetches (tracking each follower's log end
// offset and when it was last caught up), advances the high watermark to the
// minimum log end offset over the ISR (never backwards), and reports followers to
// drop from or add to the ISR (replica.lag.time.max.ms).
//
// Follower side: applies fetched batches and the leader's high watermark, and
// truncates on divergence using leader epochs (KIP-101: the leader answers a
// fetch whose last fetched epoch does not match its own history with the end
// offset of that epoch, and the follower truncates there).
//
// Transactions (KIP-98), on leaders and followers alike: every transactional
// data batch opens (or continues) its producer's transaction at that offset; a
// COMMIT or ABORT control batch (a marker, written by WriteTxnMarkers) closes
// it, and an ABORT adds (producer id, first offset, marker offset) to the
// aborted-transaction index. The last stable offset is the smallest of the high
// watermark, the first offset of every open transaction, and the first offset of
// every transaction whose marker is not yet below the high watermark, so a
// read_committed consumer never reads data whose outcome it cannot know. All of
// it is rebuilt from the log by load() (after recovery and after truncation).
//
// Calls that touch the log suspend the calling task (simulated disk latency).
#pragma once

#include <streamsim/core/time.h>
#include <streamsim/kafka.h>
#include <streamsim/sim/kafka/log.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

namespace streamsim::sim::kafka {

using BrokerId = int32_t;
using streamsim::kafka::Errc;

struct PartitionConfig {
  int32_t min_insync_replicas = 1;
  Duration replica_lag_time_max = Duration::seconds(30);
  uint64_t max_fetch_bytes = 1 << 20;
};

// A leader's answer to a follower fetch.
struct ReplicaFetchResponse {
  Errc error = Errc::no_error;
  int32_t leader_epoch = -1;
  std::vector<BatchPtr> batches;  // shared with the leader's log
  int64_t high_watermark = 0;
  // Set when the follower's log diverged (KIP-101/279): the largest epoch the
  // leader has at or below the follower's last fetched epoch, and its end offset
  // on the leader. The follower truncates to the smaller of that offset and its
  // own end offset for that epoch, then fetches again.
  std::optional<int64_t> truncate_to;
  int32_t diverging_epoch = -1;
};

// One aborted transaction of a partition: its producer's data from first_offset
// up to the ABORT marker at last_offset is not visible to read_committed readers.
struct AbortedTxnEntry {
  int64_t producer_id = -1;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  bool operator==(const AbortedTxnEntry&) const = default;
};

// The control batch WriteTxnMarkers appends: a transactional batch with one
// marker record ("COMMIT" or "ABORT" as key, the coordinator epoch as value).
Batch make_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                  int64_t timestamp_ms);
// The coordinator epoch a marker batch carries, or -1 if it names none.
int32_t marker_coordinator_epoch(const Batch& marker);

struct ProduceOutcome {
  Errc error = Errc::no_error;
  int64_t base_offset = -1;
  int64_t last_offset = -1;
  bool duplicate = false;  // an idempotent retry of a batch already in the log
};

class Replica {
 public:
  Replica(BrokerId self, PartitionLog& log, PartitionConfig cfg);

  // Rebuilds producer state from the (recovered) log. Call once after recover().
  void load();

  // Controller decisions. The leader epoch only grows; a stale decision is ignored
  // (returns false).
  bool become_leader(int32_t leader_epoch, std::vector<BrokerId> replicas, std::vector<BrokerId> isr, Instant now);
  bool become_follower(int32_t leader_epoch, BrokerId leader);
  void set_isr(std::vector<BrokerId> isr);

  bool is_leader() const { return leader_ == self_; }
  BrokerId leader() const { return leader_; }
  int32_t leader_epoch() const { return leader_epoch_; }
  const std::vector<BrokerId>& isr() const { return isr_; }
  int64_t high_watermark() const { return hw_; }
  int64_t log_end_offset() const { return log_.end_offset(); }

  // --- Leader ---
  // acks: -1 (all), 0 or 1. For acks=all the caller waits until
  // high_watermark() > last_offset, or the ISR falls below min.insync.replicas
  // (NOT_ENOUGH_REPLICAS_AFTER_APPEND), or leadership is lost.
  // Data batches of a producer with an older epoch than the partition knows are
  // refused with invalid_producer_epoch (the producer was fenced). A control
  // batch (a transaction marker: transactional, one record whose value is the
  // coordinator epoch, see make_marker) is refused with invalid_producer_epoch
  // for an older producer epoch and transaction_coordinator_fenced for an older
  // coordinator epoch; a newer epoch becomes the producer's epoch (fencing).
  ProduceOutcome append(Batch b, int acks);
  ReplicaFetchResponse on_follower_fetch(BrokerId follower, int32_t follower_leader_epoch, int64_t fetch_offset,
                                         int32_t last_fetched_epoch, Instant now);
  // Consumer read: batches from `offset` below the high watermark, or below the
  // last stable offset for read_committed. An offset at or above that bound but
  // not past the log end reads nothing yet (as Kafka's LocalLog.read: a new
  // leader's high watermark can lag the offsets its predecessor served); only
  // one past the log end, or below its start, is out of range.
  Result<std::vector<BatchPtr>, Errc> read(int64_t offset, uint64_t max_bytes, bool read_committed = false) const;
  // min(high watermark, first offset of every transaction not yet decided below it).
  int64_t last_stable_offset() const;
  // Aborted transactions a read_committed fetch of [from, upto) must know about:
  // those whose marker is at or after `from` and whose first offset is below
  // `upto`, in marker order.
  std::vector<AbortedTxnEntry> aborted_between(int64_t from, int64_t upto) const;
  // ISR members (other than the leader) that have not caught up within
  // replica.lag.time.max.ms, and non-members that have caught up.
  std::vector<BrokerId> lagging_followers(Instant now) const;
  std::vector<BrokerId> caught_up_followers() const;

  // --- Follower ---
  int64_t fetch_offset() const { return log_.end_offset(); }
  int32_t last_fetched_epoch() const { return log_.latest_epoch(); }
  // Applies a leader's response; returns the error of the response or of the log.
  Errc on_fetch_response(const ReplicaFetchResponse& r);

 private:
  struct CachedBatch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
  };
  struct ProducerState {
    int16_t epoch = -1;
    std::deque<CachedBatch> last;  // at most five, oldest first
    int32_t coordinator_epoch = -1;      // of the last marker written for this producer
    std::optional<int64_t> txn_first;    // first offset of the open transaction, if any
  };
  // A decided transaction whose marker is not yet below the high watermark.
  struct Unreplicated {
    int64_t first_offset;
    int64_t marker_offset;
  };
  struct FollowerState {
    int64_t leo = -1;  // unknown until the first fetch
    Instant last_caught_up;
    Instant last_fetch;
    int64_t leader_leo_at_last_fetch = 0;
  };
  void remember(const Batch& b);
  void advance_hw();
  void forget_replicated();  // drops unreplicated_ entries the high watermark passed

  BrokerId self_;
  PartitionLog& log_;
  PartitionConfig cfg_;
  BrokerId leader_ = -1;
  int32_t leader_epoch_ = -1;
  std::vector<BrokerId> replicas_;
  std::vector<BrokerId> isr_;
  int64_t hw_ = 0;
  int64_t epoch_start_offset_ = 0;  // log end when this replica became leader
  std::map<BrokerId, FollowerState> followers_;
  std::map<int64_t, ProducerState> producers_;
  // First offsets of open transactions (first offset -> producer id), for the LSO.
  std::map<int64_t, int64_t> open_txns_;
  std::deque<Unreplicated> unreplicated_;  // in marker order
  std::vector<AbortedTxnEntry> aborted_;   // in marker order (ascending last_offset)
};

}  // namespace streamsim::sim::kafka
