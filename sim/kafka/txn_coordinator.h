// The transaction coordinator hosted by a broker (internal to sim/kafka): the
// state of the transactional.ids whose __transaction_state partition this
// broker leads. Its state is written to that partition and rebuilt from it when
// the broker becomes the partition's leader.
//
// Kafka's TransactionCoordinator (KIP-98), reduced to what changes behaviour
// under faults:
// - Per transactional.id: producer id and epoch, transaction timeout, state
//   (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort),
//   the partitions in the transaction and when it started. Every change is
//   written first as a record (key: the transactional.id, value: the whole new
//   state) to the id's __transaction_state partition with acks=all and installed
//   in memory only once replicated; the last record of an id wins on load.
// - A "shard" is one __transaction_state partition this broker leads, at one
//   leader epoch (the coordinator epoch). A new leader epoch means a new shard:
//   requests get coordinator_load_in_progress until it is rebuilt from the log,
//   and not_coordinator when this broker does not lead the id's partition.
// - One state change per transactional.id at a time; a request meeting one in
//   progress (or a transaction whose markers are still being written) gets
//   concurrent_transactions, which clients retry.
// - InitProducerId bumps the epoch (fencing older producers with the id); with a
//   transaction Ongoing it first aborts it under a bumped epoch, answering
//   concurrent_transactions until the abort completes. EndTxn writes PrepareX,
//   answers, then WriteTxnMarkers goes to every partition's leader (retried until
//   all succeed, following leader moves), then CompleteX is written.
// - A background task (run()) loads newly led partitions, forgets lost ones,
//   aborts transactions older than their timeout with a bumped epoch (so the
//   zombie producer is fenced), and restarts marker writing for PrepareX
//   transactions (after a failover, or after a round of retries ran out).
//
// Everything runs on the broker's tasks; the calls marked "suspends" wait on
// the broker's Runtime. Owned by Broker; destroyed with it on a crash.
#pragma once

#include <streamsim/core/sync.h>
#include <streamsim/sim/kafka/protocol.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

class Broker;

enum class TxnState : uint8_t {
  empty = 0,
  ongoing = 1,
  prepare_commit = 2,
  prepare_abort = 3,
  complete_commit = 4,
  complete_abort = 5,
};
const char* to_string(TxnState s);

// The persisted state of one transactional.id.
struct TxnMetadata {
  int64_t producer_id = -1;
  int16_t producer_epoch = 0;
  Duration timeout = Duration::seconds(60);
  TxnState state = TxnState::empty;
  std::set<TopicPartition> partitions;
  Instant start;  // when the current transaction became Ongoing
  bool operator==(const TxnMetadata&) const = default;
};
// The value of a __transaction_state record (and back; nullopt if malformed).
std::string encode_txn_metadata(const TxnMetadata& m);
std::optional<TxnMetadata> decode_txn_metadata(std::string_view s);

class TxnCoordinator {
 public:
  // Kafka's transaction.max.timeout.ms (15 minutes).
  static constexpr Duration kMaxTimeout = Duration::seconds(900);

  explicit TxnCoordinator(Broker& broker);
  ~TxnCoordinator();

  struct InitResult {
    Errc error = Errc::no_error;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
  };
  // InitProducerId for a transactional.id (see the class comment). Suspends.
  InitResult init_producer_id(const InitProducerIdReq& r);
  // AddPartitionsToTxn / AddOffsetsToTxn (which adds the group's offsets
  // partition). Suspends.
  Errc add_partitions(const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
                      const std::vector<TopicPartition>& partitions);
  // EndTxn: answers once PrepareCommit/PrepareAbort is replicated. Suspends.
  Errc end_txn(const EndTxnReq& r);

  // The background task (spawned once in Broker::main; never returns). Suspends.
  void run();

  // The state of a transactional.id as this broker's loaded shard knows it, for tests.
  std::optional<TxnMetadata> describe(const std::string& transactional_id) const;

 private:
  struct Shard {
    int32_t leader_epoch = -1;  // the coordinator epoch
    bool loaded = false;
    std::map<std::string, TxnMetadata> txns;
    std::set<std::string> pending;     // a state change is being written
    std::set<std::string> completing;  // a marker task is running
  };

  // The loaded shard coordinating `id`, or the error to answer. Starts a load
  // when this broker leads the partition at an epoch it has not loaded. Does not suspend.
  Result<int32_t, Errc> shard_for(const std::string& id);
  // The shard of partition p if it is still loaded at `epoch`, else null.
  Shard* shard_at(int32_t p, int32_t epoch);
  void start_load(int32_t p, int32_t epoch);
  void load(int32_t p, int32_t epoch);
  void sync_shards();
  // Writes `next` as id's state and installs it once replicated. Precondition:
  // the shard is loaded and no change of id is pending. Suspends.
  Errc transition(int32_t p, int32_t epoch, const std::string& id, const TxnMetadata& next);
  // Writes the markers of id's PrepareX transaction, then CompleteX. Suspends.
  void complete(int32_t p, int32_t epoch, std::string id);
  // Aborts id's Ongoing transaction under a bumped epoch (timeout or fencing). Suspends.
  Errc fence_and_abort(int32_t p, int32_t epoch, const std::string& id);
  Errc write_markers(const TopicPartition& tp, BrokerId leader, const TxnMetadata& m, int32_t coordinator_epoch);
  int32_t partitions() const;  // of __transaction_state, 0 if it does not exist yet

  Broker& broker_;
  std::map<int32_t, Shard> shards_;
  // Coordinator writes in flight per partition: a load waits until they are
  // done, so its read of the log sees every record an older epoch appended.
  std::map<int32_t, int> writes_in_flight_;
  CondVar writes_done_;
};

}  // namespace streamsim::sim::kafka
