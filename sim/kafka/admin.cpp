// The simulated admin client: topics through the active controller, metadata and offsets through brokers.
#include "client_common.h"
#include "controller_client.h"

#include <streamsim/core/sync.h>
#include <streamsim/kafka/partitioner.h>

#include <deque>

namespace streamsim::sim::kafka {

namespace {

class SimAdmin final : public k::Admin {
 public:
  SimAdmin(SimRuntime& rt, k::Config cfg) : rt_(rt), cfg_(std::move(cfg)), meta_(rt, cfg_) {}

  Result<std::vector<std::optional<k::Error>>, k::Error> create_topics(const std::vector<k::TopicSpec>& topics,
                                                                       Duration timeout) override {
    auto req = std::make_shared<CreateTopicsReq>();
    for (const auto& t : topics) {
      TopicState s;
      s.name = t.name;
      s.partitions = t.partitions;
      s.replication = t.replication;
      if (auto it = t.config.find("min.insync.replicas"); it != t.config.end()) s.min_insync_replicas = std::stoi(it->second);
      if (auto it = t.config.find("unclean.leader.election.enable"); it != t.config.end())
        s.unclean_leader_election = it->second == "true";
      if (auto it = t.config.find("flush.messages"); it != t.config.end()) s.flush_messages = std::stoll(it->second);
      req->topics.push_back(s);
    }
    if (controllers_.empty()) {
      // The quorum's nodes are "controller-0", "controller-1", ... (at most 9).
      for (int i = 0; i < 9; ++i) {
        SimRuntime* c = rt_.sim().find("controller-" + std::to_string(i));
        if (c == nullptr) break;
        controllers_.push_back(c->id());
      }
    }
    if (controllers_.empty()) return unexpected(err(Errc::local_state, "no controller node"));
    auto r = call_active_controller(rt_, controllers_, active_controller_, req, timeout);
    if (!r.ok()) return unexpected(err(Errc::local_timed_out, "no active controller answered", true));
    const auto& resp = payload_as<CreateTopicsResp>(*r);
    if (resp.error != Errc::no_error) return unexpected(err(resp.error, k::to_string(resp.error), true));
    std::vector<std::optional<k::Error>> out;
    for (Errc e : resp.errors) {
      out.push_back(e == Errc::no_error ? std::nullopt : std::optional<k::Error>(err(e, k::to_string(e))));
    }
    return out;
  }
  Result<std::vector<std::optional<k::Error>>, k::Error> delete_topics(const std::vector<std::string>&,
                                                                       Duration) override {
    return unexpected(err(Errc::local_state, "delete_topics is not simulated yet"));
  }
  Result<k::ClusterInfo, k::Error> describe_cluster(Duration) override {
    if (!meta_.refresh()) return unexpected(err(Errc::local_all_brokers_down, "no broker answered", true));
    k::ClusterInfo c;
    c.cluster_id = "streamsim";
    for (BrokerId b : meta_.image()->live_brokers) c.brokers.push_back({b, "broker-" + std::to_string(b), 9092});
    return c;
  }
  Result<std::vector<k::TopicInfo>, k::Error> describe_topics(const std::vector<std::string>& topics,
                                                              Duration) override {
    if (!meta_.refresh()) return unexpected(err(Errc::local_all_brokers_down, "no broker answered", true));
    std::vector<k::TopicInfo> out;
    for (const auto& name : topics) {
      k::TopicInfo t;
      t.name = name;
      for (const auto& [tp, p] : meta_.image()->partitions) {
        if (tp.topic != name) continue;
        t.partitions.push_back({tp.partition, p.leader, p.leader_epoch, p.replicas, p.isr});
      }
      out.push_back(std::move(t));
    }
    return out;
  }
  Result<std::vector<k::TopicPartitionOffset>, k::Error> list_offsets(const std::vector<k::TopicPartition>& tps,
                                                                      k::OffsetSpec spec, bool read_committed,
                                                                      Duration) override {
    meta_.refresh();
    std::vector<k::TopicPartitionOffset> out;
    for (const auto& tp : tps) {
      k::TopicPartitionOffset o;
      o.tp = tp;
      TopicPartition t{tp.topic, tp.partition};
      auto leader = meta_.leader_node(t);
      if (!leader) {
        o.error = err(Errc::leader_not_available, "no leader");
        out.push_back(o);
        continue;
      }
      auto req = std::make_shared<ListOffsetsReq>();
      req->partitions.push_back(t);
      req->latest = spec == k::OffsetSpec::latest;
      req->read_committed = read_committed;
      auto r = rt_.net().call(rt_, rt_.id(), *leader, kBrokerPort, req, meta_.request_timeout());
      if (!r.ok()) {
        o.error = err(Errc::local_timed_out, "leader did not answer", true);
      } else {
        auto res = payload_as<ListOffsetsResp>(*r).results.at(0);
        if (res.first == Errc::no_error) o.offset = k::KafkaOffset{res.second};
        else o.error = err(res.first, k::to_string(res.first));
      }
      out.push_back(o);
    }
    return out;
  }

 private:
  SimRuntime& rt_;
  k::Config cfg_;
  MetadataCache meta_;
  std::vector<NodeId> controllers_;  // found by name on first use
  size_t active_controller_ = 0;     // index of the last controller found active
};

}  // namespace

std::unique_ptr<k::Admin> make_sim_admin(SimRuntime& rt, k::Config cfg) {
  return std::make_unique<SimAdmin>(rt, std::move(cfg));
}

}  // namespace streamsim::sim::kafka
