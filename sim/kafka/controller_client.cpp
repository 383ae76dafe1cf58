// Addressing the active controller: the one helper brokers and the admin client
// use, and the broker's filter against stale metadata images.
#include "controller_client.h"

#include "broker.h"

#include <streamsim/core/assert.h>

#include <algorithm>

namespace streamsim::sim::kafka {

namespace {
constexpr Duration kMaxAttemptTimeout = Duration::seconds(1);
constexpr Duration kFirstBackoff = Duration::millis(10);
constexpr Duration kMaxBackoff = Duration::millis(200);
}  // namespace

Result<std::shared_ptr<const Payload>, NetErrc> call_active_controller(SimRuntime& rt,
                                                                      const std::vector<NodeId>& controllers,
                                                                      size_t& last_known,
                                                                      std::shared_ptr<const Payload> req,
                                                                      Duration timeout) {
  SS_ASSERT(!controllers.empty(), "a cluster has controllers");
  SS_ASSERT(last_known < controllers.size(), "last known controller out of range");
  const size_t n = controllers.size();
  const Instant deadline = rt.now() + timeout;
  // The last known controller gets half the time when there are others to try,
  // so one dead or cut-off controller cannot use up the whole budget.
  const Duration per_attempt = std::min(timeout / static_cast<int64_t>(std::min<size_t>(n, 2)), kMaxAttemptTimeout);
  size_t target = last_known;
  size_t misses = 0;
  Duration backoff = kFirstBackoff;
  for (size_t attempt = 0; attempt < 3 * n + 2 && rt.now() < deadline; ++attempt) {
    auto r = rt.net().call(rt, rt.id(), controllers[target], kControllerPort, req,
                           std::min(per_attempt, deadline - rt.now()));
    if (r.ok()) {
      const auto* c = dynamic_cast<const ControllerResp*>(r->get());
      SS_ASSERT(c != nullptr, "controller responses derive from ControllerResp");
      if (c->error != Errc::not_controller) {
        last_known = target;
        return r;
      }
      if (c->leader_hint >= 0 && static_cast<size_t>(c->leader_hint) < n &&
          static_cast<size_t>(c->leader_hint) != target) {
        target = static_cast<size_t>(c->leader_hint);
        continue;
      }
    }
    target = (target + 1) % n;
    if (++misses % n == 0 && rt.now() < deadline) {
      rt.sleep_for(std::min(backoff, deadline - rt.now()));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  return unexpected(NetErrc::timed_out);
}

Result<std::shared_ptr<const Payload>, NetErrc> Broker::call_controller(std::shared_ptr<const Payload> req,
                                                                         Duration timeout) {
  return call_active_controller(rt_, controllers_, active_controller_, std::move(req), timeout);
}

bool Broker::newer_image(const MetadataImage& m) const {
  if (!image_) return true;
  // Committed images are ordered by (controller epoch, version); anything not
  // newer comes from a controller that has since been replaced (or repeats ours).
  if (m.controller_epoch != image_->controller_epoch) return m.controller_epoch > image_->controller_epoch;
  return m.version > image_->version;
}

}  // namespace streamsim::sim::kafka
