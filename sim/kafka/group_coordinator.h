// The group coordinator hosted by a broker (internal to sim/kafka): consumer
// group membership and committed offsets for the groups whose
// __consumer_offsets partition this broker leads. Its state is written to that
// partition and rebuilt from it when the broker becomes the partition's leader.
//
// Kafka's GroupCoordinator, classic protocol (protocol_group.h explains the
// exchange). A group moves Empty -> PreparingRebalance (a member joined, left,
// expired or changed its subscription) -> CompletingRebalance (every member
// rejoined, or the rebalance timeout passed: the generation is bumped and the
// leader chosen) -> Stable (the leader's SyncGroup assignment is persisted) ->
// PreparingRebalance ... ; Dead when the partition is unloaded (leadership
// moved), which answers parked requests not_coordinator.
//
// Persistence, as Kafka's GroupMetadataManager: group metadata (generation,
// protocol, leader, members with subscriptions and assignments) is appended
// when a generation's assignment is stored (SyncGroup) and when the group
// becomes Empty; each offset commit appends one record per partition. Appends
// go through Broker::append_and_wait with acks=all, so an answered commit is on
// min.insync.replicas brokers. Transactional offset commits (TxnOffsetCommit)
// append a transactional batch and stay pending per producer id until the
// transaction's COMMIT marker (visible) or ABORT marker (dropped) reaches the
// partition; OffsetFetch with require_stable answers unstable_offset_commit for
// a partition with a pending transactional commit, and the client retries (as
// Kafka does; it never returns the older offset meanwhile).
//
// Loading: when this broker leads a __consumer_offsets partition at a leader
// epoch it has not loaded, a load task reads the partition's whole log (up to
// its end, as Kafka does) and rebuilds the groups; requests for those groups
// answer coordinator_load_in_progress meanwhile, and not_coordinator on a broker
// that does not lead the partition. Loaded members keep their generation and
// must heartbeat within their session timeout, or they are expelled.
//
// Threading: all calls run on the broker's tasks; the handlers suspend (parked
// JoinGroup/SyncGroup requests, appends) and re-check the group after every
// suspension. Groups are shared_ptr so a parked request outlives an unload.
#pragma once

#include <streamsim/core/sync.h>
#include <streamsim/sim/kafka/protocol.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

class Broker;

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };
const char* to_string(GroupState s);

class GroupCoordinator {
 public:
  explicit GroupCoordinator(Broker& broker);
  ~GroupCoordinator();

  // Request handlers (one file each: join_group.cpp, sync_group.cpp, ...). Each
  // may suspend; each answers not_coordinator / coordinator_load_in_progress /
  // coordinator_not_available as Kafka does when this broker cannot serve the group.
  std::shared_ptr<const Payload> join_group(const JoinGroupReq& r);
  std::shared_ptr<const Payload> sync_group(const SyncGroupReq& r);
  std::shared_ptr<const Payload> heartbeat(const HeartbeatReq& r);
  std::shared_ptr<const Payload> leave_group(const LeaveGroupReq& r);
  std::shared_ptr<const Payload> offset_commit(const OffsetCommitReq& r);
  std::shared_ptr<const Payload> offset_fetch(const OffsetFetchReq& r);
  std::shared_ptr<const Payload> txn_offset_commit(const TxnOffsetCommitReq& r);

  // Called by the WriteTxnMarkers handler after the marker of producer_id's
  // transaction is in the log of `offsets_partition` (a __consumer_offsets
  // partition): a commit makes that producer's pending transactional offset
  // commits the group's committed offsets, an abort drops them. May suspend.
  void on_txn_marker(const TopicPartition& offsets_partition, int64_t producer_id, bool commit);

  // The coordinator's background task (spawned by Broker::main): loads and
  // unloads __consumer_offsets partitions as leadership moves, expires member
  // sessions, and completes rebalances at their deadlines. Runs until the
  // broker's process ends. Suspends.
  void run();

 private:
  struct CommittedOffset {
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::string metadata;
    int64_t log_offset = -1;  // where its record is: a later record wins
  };
  struct Member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    Duration session_timeout;
    Duration rebalance_timeout;
    std::vector<JoinGroupProtocol> protocols;
    std::vector<TopicPartition> assignment;
    Instant last_heartbeat;
    uint64_t join_order = 0;  // the oldest member becomes leader when one is needed
    // A JoinGroup request parked until the join phase completes, and its answer.
    bool awaiting_join = false;
    uint64_t join_ticket = 0;
    std::shared_ptr<JoinGroupResp> join_result;
    // A SyncGroup request parked until the leader's assignment is stored.
    bool awaiting_sync = false;
    uint64_t sync_ticket = 0;
    std::shared_ptr<SyncGroupResp> sync_result;
  };
  struct Group {
    std::string id;
    int32_t offsets_partition = 0;
    GroupState state = GroupState::empty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol_name;
    std::string leader;
    std::map<std::string, Member> members;
    std::map<std::string, Instant> pending_members;  // KIP-394 ids handed out -> expiry
    Instant join_deadline = Instant::never();        // PreparingRebalance ends at the latest here
    Instant rebalance_started;
    bool initial_delay = false;  // the rebalance of an Empty group waits out the initial delay
    Instant sync_deadline = Instant::never();  // CompletingRebalance: the leader's SyncGroup by then
    uint64_t next_join_order = 0;
    CondVar changed;  // parked JoinGroup/SyncGroup requests wait here
    std::map<TopicPartition, CommittedOffset> offsets;
    std::map<int64_t, std::map<TopicPartition, CommittedOffset>> pending_txn;  // producer id -> offsets
  };
  using GroupPtr = std::shared_ptr<Group>;
  struct PartitionLoad {
    int32_t loaded_epoch = -1;   // leader epoch whose state is in memory; -1: none
    int32_t loading_epoch = -1;  // a load task runs for this epoch; -1: none
  };

  // The group's __consumer_offsets partition if this broker may serve it now,
  // else the error to answer. Starts a load if this broker leads the partition
  // at an epoch it has not loaded.
  Result<TopicPartition, Errc> check_coordinator(const std::string& group_id);
  // The partition's leader epoch if it is still loaded at `epoch`.
  bool still_loaded(const TopicPartition& tp, int32_t epoch);
  int32_t loaded_epoch(const TopicPartition& tp);
  GroupPtr find(const std::string& group_id);
  GroupPtr get_or_create(const std::string& group_id, int32_t partition);

  // State machine (group_coordinator.cpp). None suspends.
  void prepare_rebalance(Group& g, const char* reason);
  void maybe_complete_join(Group& g);
  void complete_join(Group& g);
  void remove_member(Group& g, const std::string& member_id, const char* reason);
  void expire(Group& g);
  std::optional<std::string> select_protocol(const Group& g) const;
  bool supports_protocols(const Group& g, const std::vector<JoinGroupProtocol>& protocols) const;
  std::string new_member_id(const std::string& client_id);
  Duration max_rebalance_timeout(const Group& g) const;
  void set_sync_results(Group& g, Errc error);
  void wake() { wake_.notify_all(); }

  // Persistence (group_coordinator.cpp). Suspend.
  // Appends the group's metadata record; the error as the coordinator answers it.
  Errc store_group(Group& g, const TopicPartition& tp);
  // Appends offset records; the batch's base offset or the error to answer.
  Result<int64_t, Errc> store_offsets(const Group& g, const TopicPartition& tp,
                                      const std::vector<OffsetCommitPartition>& offsets, int64_t producer_id,
                                      int16_t producer_epoch);
  static Errc map_append_error(Errc e);

  // Loading (group_coordinator.cpp).
  void check_partitions();
  void load(TopicPartition tp, int32_t epoch);
  void unload(int32_t partition);
  void apply_batch(const Batch& b, int32_t partition, std::map<std::string, GroupPtr>& groups);

  Broker& broker_;
  std::map<std::string, GroupPtr> groups_;
  std::map<int32_t, PartitionLoad> partitions_;
  CondVar wake_;  // the background task: a deadline moved
  uint64_t next_ticket_ = 0;
};

}  // namespace streamsim::sim::kafka
