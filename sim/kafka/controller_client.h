// Finding and calling the active controller of the quorum (internal to
// sim/kafka), shared by brokers (Broker::call_controller) and the admin client.
#pragma once

#include <streamsim/sim/kafka/protocol.h>
#include <streamsim/sim/simulation.h>

#include <memory>
#include <vector>

namespace streamsim::sim::kafka {

// Sends req (a controller request whose response derives from ControllerResp) to
// the active controller and returns its response, whatever its error, unless the
// error is not_controller. Tries controllers[last_known] first, follows a
// not_controller answer's leader hint at once, and otherwise moves on to the next
// controller in order, pausing (10 ms, doubling up to 200 ms) after each full
// round without an answer. At most 3 * controllers.size() + 2 attempts, all
// within `timeout`; timed_out when none found the active controller. On success
// last_known is the index that answered. Preconditions: controllers is not
// empty, last_known < controllers.size(), called from a task of rt. Suspends.
Result<std::shared_ptr<const Payload>, NetErrc> call_active_controller(SimRuntime& rt,
                                                                      const std::vector<NodeId>& controllers,
                                                                      size_t& last_known,
                                                                      std::shared_ptr<const Payload> req,
                                                                      Duration timeout);

}  // namespace streamsim::sim::kafka
