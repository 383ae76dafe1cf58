// Transaction APIs of the simulated Kafka protocol: AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn (client to transaction coordinator) and
// WriteTxnMarkers (coordinator to partition leaders), served by the transaction
// coordinator (sim/kafka/txn_coordinator.*) and the partition leaders.
#pragma once

#include <streamsim/sim/kafka/protocol.h>

namespace streamsim::sim::kafka {}  // namespace streamsim::sim::kafka
