// Consumer group APIs of the simulated Kafka protocol: JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch and TxnOffsetCommit, served
// by the group coordinator (sim/kafka/group_coordinator.*).
#pragma once

#include <streamsim/sim/kafka/protocol.h>

#include <optional>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

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
