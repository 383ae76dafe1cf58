// Shared by the simulated client's producer, consumer and admin (internal to
// sim/kafka): error construction, librdkafka's retriable classification, and
// the metadata cache that finds partition leaders and coordinators.
#pragma once

#include <streamsim/core/assert.h>
#include <streamsim/kafka.h>
#include <streamsim/sim/kafka/protocol.h>
#include <streamsim/sim/simulation.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

namespace streamsim::sim::kafka {

namespace k = streamsim::kafka;

inline k::Error err(Errc code, std::string msg, bool retriable = false) {
  k::Error e;
  e.code = code;
  e.message = std::move(msg);
  e.retriable = retriable;
  return e;
}

inline bool retriable(Errc e) {
  switch (e) {
    case Errc::not_leader_or_follower:
    case Errc::leader_not_available:
    case Errc::unknown_topic_or_partition:
    case Errc::request_timed_out:
    case Errc::not_enough_replicas:
    case Errc::not_enough_replicas_after_append:
    case Errc::fenced_leader_epoch:
    case Errc::unknown_leader_epoch:
    case Errc::local_transport:
    case Errc::local_timed_out:
      return true;
    default:
      return false;
  }
}

// Metadata shared by the clients of one node: which broker leads what.
class MetadataCache {
 public:
  MetadataCache(SimRuntime& rt, const k::Config& cfg) : rt_(rt) {
    std::stringstream ss(cfg.str("bootstrap.servers"));
    std::string name;
    while (std::getline(ss, name, ',')) {
      auto colon = name.find(':');
      if (colon != std::string::npos) name = name.substr(0, colon);
      if (SimRuntime* n = rt.sim().find(name)) bootstrap_.push_back(n->id());
    }
    request_timeout_ = Duration::millis(std::min<int64_t>(cfg.num("socket.timeout.ms"), 5000));
  }
  bool has_bootstrap() const { return !bootstrap_.empty(); }
  const MetadataImage* image() const { return image_.get(); }
  // Asks the bootstrap brokers in turn; keeps the newest image. Suspends.
  bool refresh() {
    for (size_t i = 0; i < bootstrap_.size(); ++i) {
      NodeId b = bootstrap_[(next_ + i) % bootstrap_.size()];
      auto r = rt_.net().call(rt_, rt_.id(), b, kBrokerPort, std::make_shared<MetadataReq>(), request_timeout_);
      if (!r.ok()) continue;
      auto img = payload_as<MetadataResp>(*r).image;
      if (!img) continue;
      next_ = (next_ + i + 1) % bootstrap_.size();
      if (!image_ || img->version >= image_->version) image_ = img;
      return true;
    }
    return false;
  }
  std::optional<NodeId> node_of(BrokerId b) const {
    if (b < 0) return std::nullopt;
    SimRuntime* n = rt_.sim().find("broker-" + std::to_string(b));
    if (n == nullptr) return std::nullopt;
    return n->id();
  }
  std::optional<NodeId> leader_node(const TopicPartition& tp) const {
    if (!image_) return std::nullopt;
    auto it = image_->partitions.find(tp);
    if (it == image_->partitions.end()) return std::nullopt;
    return node_of(it->second.leader);
  }
  int32_t leader_epoch(const TopicPartition& tp) const {
    if (!image_) return -1;
    auto it = image_->partitions.find(tp);
    return it == image_->partitions.end() ? -1 : it->second.leader_epoch;
  }
  int32_t partitions(const std::string& topic) const {
    if (!image_) return 0;
    auto it = image_->topics.find(topic);
    return it == image_->topics.end() ? 0 : it->second.partitions;
  }
  // Asks a broker which broker coordinates `key` (FindCoordinator), trying each
  // bootstrap broker once. Errors: the broker's (coordinator_not_available while
  // the internal topic is created or has no leader: retry after a backoff) or
  // local_transport if none answered. Suspends.
  Result<NodeId, Errc> find_coordinator(CoordinatorType type, const std::string& key) {
    Errc last = Errc::local_transport;
    for (size_t i = 0; i < bootstrap_.size(); ++i) {
      NodeId b = bootstrap_[(next_ + i) % bootstrap_.size()];
      auto req = std::make_shared<FindCoordinatorReq>();
      req->type = type;
      req->key = key;
      auto r = rt_.net().call(rt_, rt_.id(), b, kBrokerPort, req, request_timeout_);
      if (!r.ok()) continue;
      const auto& resp = payload_as<FindCoordinatorResp>(*r);
      if (resp.error != Errc::no_error) {
        last = resp.error;
        continue;
      }
      auto node = node_of(resp.coordinator);
      SS_ASSERT(node.has_value(), "FindCoordinator named a broker that does not exist");
      return *node;
    }
    return unexpected(last);
  }
  NodeId any_broker() const { return bootstrap_.at(next_ % bootstrap_.size()); }
  Duration request_timeout() const { return request_timeout_; }

 private:
  SimRuntime& rt_;
  std::vector<NodeId> bootstrap_;
  size_t next_ = 0;
  Duration request_timeout_;
  std::shared_ptr<const MetadataImage> image_;
};

// Factories for the three client kinds (producer.cpp, consumer.cpp, admin.cpp).
std::unique_ptr<k::Producer> make_sim_producer(SimRuntime& rt, k::Config cfg);
std::unique_ptr<k::Consumer> make_sim_consumer(SimRuntime& rt, k::Config cfg);
std::unique_ptr<k::Admin> make_sim_admin(SimRuntime& rt, k::Config cfg);

}  // namespace streamsim::sim::kafka
