// Checkers: judges of a run that stand outside the system under test. They read
// only what clients observed (the history) and what the final reads returned.
#pragma once

#include <streamsim/scenarios/counter.h>
#include <streamsim/scenarios/scenario.h>

#include <vector>

namespace streamsim::harness {

// Checks the counter workload's history:
// - acked_durable: every acknowledged increment is in the primary's final log;
// - no_duplicates: no (client, request) appears twice in any final log;
// - replicas_agree: every backup's final log is a prefix of the primary's;
// - values_consistent: each acknowledged value is the entry's 1-based position in
//   the primary's final log;
// - liveness: every invoked increment was acknowledged and every replica was
//   read after the faults healed.
std::vector<scenarios::PropertyResult> check_counter(const scenarios::CounterHistory& h, uint32_t replicas);

}  // namespace streamsim::harness
