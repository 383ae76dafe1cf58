// Consumer group APIs of the simulated Kafka protocol: JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch and TxnOffsetCommit, served
// by the group coordinator (sim/kafka/group_coordinator.*).
#pragma once

#include <streamsim/sim/kafka/protocol.h>

#include <optional>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

// Kafka's classic ("eager") rebalance protocol, as the group coordinator and
// librdkafka speak it:
//   1. JoinGroup: every member (re)joins; the coordinator waits until all known
//      members have joined or the rebalance timeout passes, bumps the
//      generation, picks a protocol (assignor) all members support and a leader,
//      and answers each member; only the leader receives the members and their
//      subscriptions.
//   2. SyncGroup: the leader computes the assignment client-side and sends it;
//      every member's SyncGroup answer carries its own partitions.
//   3. Heartbeat keeps the session alive; it answers rebalance_in_progress when
//      the group must rejoin.
// A first JoinGroup without a member id gets member_id_required and a fresh id
// (KIP-394), and must join again with it.

// The "consumer" protocol's subscription metadata (ConsumerProtocolSubscription).
// The coordinator treats it as opaque; only the leader's assignor reads it.
struct ConsumerSubscription {
  std::vector<std::string> topics;
  std::vector<TopicPartition> owned_partitions;  // cooperative protocols only; empty for eager
  std::string user_data;
  bool operator==(const ConsumerSubscription&) const = default;
};

struct JoinGroupProtocol {
  std::string name;  // assignor: "range", "roundrobin", ...
  ConsumerSubscription metadata;
  bool operator==(const JoinGroupProtocol&) const = default;
};

struct JoinGroupReq final : Payload {
  std::string group_id;
  Duration session_timeout = Duration::seconds(45);
  Duration rebalance_timeout = Duration::seconds(300);  // librdkafka sends max.poll.interval.ms
  std::string member_id;  // empty on the first join
  std::optional<std::string> group_instance_id;  // static membership (KIP-345)
  std::string client_id;
  std::string protocol_type = "consumer";
  std::vector<JoinGroupProtocol> protocols;  // in the member's order of preference
  const char* type_name() const override { return "JoinGroup"; }
};
struct JoinGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  ConsumerSubscription metadata;  // for the selected protocol
};
struct JoinGroupResp final : Payload {
  Errc error = Errc::no_error;
  int32_t generation = -1;
  std::string protocol_type;
  std::string protocol_name;
  std::string leader;
  std::string member_id;  // also set with member_id_required
  std::vector<JoinGroupMember> members;  // the leader's response only
  const char* type_name() const override { return "JoinGroupResponse"; }
};

struct SyncGroupAssignment {
  std::string member_id;
  std::vector<TopicPartition> partitions;  // ConsumerProtocolAssignment
};
struct SyncGroupReq final : Payload {
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string protocol_type = "consumer";
  std::string protocol_name;
  std::vector<SyncGroupAssignment> assignments;  // the leader's request only
  const char* type_name() const override { return "SyncGroup"; }
};
struct SyncGroupResp final : Payload {
  Errc error = Errc::no_error;
  std::string protocol_type;
  std::string protocol_name;
  std::vector<TopicPartition> assignment;
  const char* type_name() const override { return "SyncGroupResponse"; }
};

struct HeartbeatReq final : Payload {
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  const char* type_name() const override { return "Heartbeat"; }
};
struct HeartbeatResp final : Payload {
  Errc error = Errc::no_error;
  const char* type_name() const override { return "HeartbeatResponse"; }
};

struct LeaveGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
};
struct LeaveGroupReq final : Payload {
  std::string group_id;
  std::vector<LeaveGroupMember> members;  // KIP-345 batch form; consumers send themselves
  const char* type_name() const override { return "LeaveGroup"; }
};
struct LeaveGroupResp final : Payload {
  Errc error = Errc::no_error;                 // group-level (coordinator errors)
  std::vector<std::pair<std::string, Errc>> members;  // per member id
  const char* type_name() const override { return "LeaveGroupResponse"; }
};

struct OffsetCommitPartition {
  TopicPartition tp;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
};
// Generation-fenced: a member of a managed group sends its generation and
// member id; a consumer that only uses assign() sends generation -1 and an
// empty member id, which the coordinator accepts only while the group has no
// members ("simple" commits).
struct OffsetCommitReq final : Payload {
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::vector<OffsetCommitPartition> offsets;
  const char* type_name() const override { return "OffsetCommit"; }
};
struct OffsetCommitResp final : Payload {
  std::vector<std::pair<TopicPartition, Errc>> results;  // per partition, in request order
  const char* type_name() const override { return "OffsetCommitResponse"; }
};

// require_stable (KIP-447): a partition with a pending transactional offset
// commit answers unstable_offset_commit instead of its older committed offset,
// and the client retries until the transaction completes.
struct OffsetFetchReq final : Payload {
  std::string group_id;
  std::vector<TopicPartition> partitions;
  bool require_stable = false;
  const char* type_name() const override { return "OffsetFetch"; }
};
struct OffsetFetchPartition {
  TopicPartition tp;
  int64_t offset = -1;  // -1: nothing committed
  int32_t leader_epoch = -1;
  std::string metadata;
  Errc error = Errc::no_error;
};
struct OffsetFetchResp final : Payload {
  Errc error = Errc::no_error;  // group-level (coordinator errors)
  std::vector<OffsetFetchPartition> partitions;  // in request order
  const char* type_name() const override { return "OffsetFetchResponse"; }
};

// Offsets committed inside a transaction (send_offsets_to_transaction). The
// group coordinator holds them pending, keyed by producer id, until the
// transaction's COMMIT marker reaches its __consumer_offsets partition (then
// they become the group's committed offsets) or its ABORT marker (then they
// are dropped). Fenced by producer epoch, and by group generation and member
// id when the client gives them (KIP-447).
struct TxnOffsetCommitReq final : Payload {
  std::string transactional_id;
  std::string group_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t generation = -1;  // -1: not fenced by generation
  std::string member_id;
  std::vector<std::pair<TopicPartition, int64_t>> offsets;
  const char* type_name() const override { return "TxnOffsetCommit"; }
};
struct TxnOffsetCommitResp final : Payload {
  Errc error = Errc::no_error;  // one error for all partitions
  const char* type_name() const override { return "TxnOffsetCommitResponse"; }
};

}  // namespace streamsim::sim::kafka
