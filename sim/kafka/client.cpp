#include <streamsim/sim/kafka/client.h>

#include "client_common.h"

namespace streamsim::sim::kafka {

namespace {

Result<void, k::Error> check_bootstrap(SimRuntime& rt, const k::Config& cfg) {
  MetadataCache m(rt, cfg);
  if (!m.has_bootstrap())
    return unexpected(err(Errc::local_invalid_arg, "bootstrap.servers names no simulated broker: '" +
                                                       cfg.str("bootstrap.servers") + "'"));
  return {};
}

}  // namespace

Result<std::unique_ptr<k::Producer>, k::Error> SimKafka::producer(const k::Config& cfg) {
  if (cfg.role() != k::Role::producer) return unexpected(err(Errc::local_invalid_arg, "not a producer configuration"));
  if (auto b = check_bootstrap(rt_, cfg); !b.ok()) return unexpected(b.error());
  return std::unique_ptr<k::Producer>(make_sim_producer(rt_, cfg));
}

Result<std::unique_ptr<k::Consumer>, k::Error> SimKafka::consumer(const k::Config& cfg) {
  if (cfg.role() != k::Role::consumer) return unexpected(err(Errc::local_invalid_arg, "not a consumer configuration"));
  if (auto b = check_bootstrap(rt_, cfg); !b.ok()) return unexpected(b.error());
  return std::unique_ptr<k::Consumer>(make_sim_consumer(rt_, cfg));
}

Result<std::unique_ptr<k::Admin>, k::Error> SimKafka::admin(const k::Config& cfg) {
  if (auto b = check_bootstrap(rt_, cfg); !b.ok()) return unexpected(b.error());
  return std::unique_ptr<k::Admin>(make_sim_admin(rt_, cfg));
}

}  // namespace streamsim::sim::kafka
