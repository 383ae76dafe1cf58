// Consumer group APIs of the simulated Kafka protocol: JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch and TxnOffsetCommit, served
// by the group coordinator (sim/kafka/group_coordinator.*).
#pragma once

#include <streamsim/sim/kafka/protocol.h>

namespace streamsim::sim::kafka {}  // namespace streamsim::sim::kafka
