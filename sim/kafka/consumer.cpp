// The simulated consumer: fetches from partition leaders over the simulated network.
#include "client_common.h"

#include <streamsim/core/sync.h>
#include <streamsim/kafka/partitioner.h>

#include <deque>

namespace streamsim::sim::kafka {

namespace {

class SimConsumer final : public k::Consumer {
 public:
  SimConsumer(SimRuntime& rt, k::Config cfg) : rt_(rt), cfg_(std::move(cfg)), meta_(rt, cfg_) {
    read_committed_ = cfg_.str("isolation.level") == "read_committed";
    reset_ = cfg_.str("auto.offset.reset");
    max_wait_ = Duration::millis(cfg_.num("fetch.wait.max.ms"));
  }

  Result<void, k::Error> subscribe(const std::vector<std::string>&, k::RebalanceListener*) override {
    return unexpected(err(Errc::local_state, "consumer groups are not simulated yet; use assign()"));
  }
  Result<void, k::Error> unsubscribe() override { return {}; }

  Result<void, k::Error> assign(const std::vector<k::TopicPartitionOffset>& parts) override {
    assigned_.clear();
    for (const auto& p : parts) assigned_[TopicPartition{p.tp.topic, p.tp.partition}] = State{p.offset.value, false};
    return {};
  }
  std::vector<k::TopicPartition> assignment() const override {
    std::vector<k::TopicPartition> out;
    for (const auto& [tp, s] : assigned_) out.push_back({tp.topic, tp.partition});
    return out;
  }

  Result<std::vector<k::ConsumerRecord>, k::Error> poll(Duration timeout, size_t max_records) override {
    SS_ASSERT(max_records > 0, "poll for zero records");
    const Instant deadline = rt_.now() + timeout;
    std::vector<k::ConsumerRecord> out;
    for (;;) {
      if (!meta_.image()) meta_.refresh();
      // One fetch per leader, all its assigned partitions at once.
      std::map<NodeId, std::vector<TopicPartition>> by_leader;
      for (auto& [tp, s] : assigned_) {
        if (s.paused) continue;
        if (s.position < 0) resolve(tp, s);
        if (s.position < 0) continue;
        if (auto l = meta_.leader_node(tp)) by_leader[*l].push_back(tp);
      }
      bool refresh = by_leader.empty() && !assigned_.empty();
      for (auto& [leader, tps] : by_leader) {
        auto req = std::make_shared<FetchReq>();
        req->replica = -1;
        req->read_committed = read_committed_;
        Duration left = deadline - rt_.now();
        req->max_wait = std::max(Duration::zero(), std::min(max_wait_, left));
        for (auto& tp : tps) req->partitions.push_back(FetchPartition{tp, assigned_[tp].position, meta_.leader_epoch(tp), -1});
        auto r = rt_.net().call(rt_, rt_.id(), leader, kBrokerPort, req, req->max_wait + meta_.request_timeout());
        if (!r.ok()) {
          refresh = true;
          continue;
        }
        for (const FetchPartitionResult& res : payload_as<FetchResp>(*r).results) {
          auto it = assigned_.find(res.tp);
          if (it == assigned_.end()) continue;
          State& s = it->second;
          if (res.error == Errc::offset_out_of_range) {
            s.position = -1;  // auto.offset.reset applies at the next round
            if (reset_ == "error") return unexpected(err(Errc::offset_out_of_range, "offset out of range"));
            continue;
          }
          if (res.error != Errc::no_error) {
            refresh = true;
            continue;
          }
          for (const Batch& b : res.batches) {
            for (size_t i = 0; i < b.records.size() && out.size() < max_records; ++i) {
              int64_t off = b.base_offset + static_cast<int64_t>(i);
              if (off < s.position) continue;
              k::ConsumerRecord cr;
              cr.tp = {res.tp.topic, res.tp.partition};
              cr.offset = k::KafkaOffset{off};
              cr.key = b.records[i].key;
              cr.value = b.records[i].value;
              for (auto& h : b.records[i].headers) cr.headers.push_back({h.first, h.second});
              cr.timestamp_ms = b.records[i].timestamp_ms;
              cr.leader_epoch = b.leader_epoch;
              out.push_back(std::move(cr));
              s.position = off + 1;
            }
          }
        }
        if (out.size() >= max_records) break;
      }
      if (!out.empty() || rt_.now() >= deadline) return out;
      if (refresh) {
        meta_.refresh();
        rt_.sleep_for(std::min(Duration::millis(20), deadline - rt_.now()));
      }
    }
  }

  Result<void, k::Error> commit_sync(const std::vector<k::TopicPartitionOffset>&, Duration) override {
    return unexpected(err(Errc::local_state, "offset commits need consumer groups, not simulated yet"));
  }
  Result<void, k::Error> commit_async(const std::vector<k::TopicPartitionOffset>&) override {
    return unexpected(err(Errc::local_state, "offset commits need consumer groups, not simulated yet"));
  }
  Result<std::vector<k::TopicPartitionOffset>, k::Error> committed(const std::vector<k::TopicPartition>&,
                                                                   Duration) override {
    return unexpected(err(Errc::local_state, "offset commits need consumer groups, not simulated yet"));
  }
  Result<k::KafkaOffset, k::Error> position(const k::TopicPartition& tp) const override {
    auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
    if (it == assigned_.end()) return unexpected(err(Errc::local_state, "partition not assigned"));
    return k::KafkaOffset{it->second.position < 0 ? -1001 : it->second.position};
  }
  Result<void, k::Error> seek(const k::TopicPartition& tp, k::KafkaOffset off, Duration) override {
    auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
    if (it == assigned_.end()) return unexpected(err(Errc::local_state, "partition not assigned"));
    it->second.position = off.value;
    return {};
  }
  Result<void, k::Error> pause(const std::vector<k::TopicPartition>& tps) override { return set_paused(tps, true); }
  Result<void, k::Error> resume(const std::vector<k::TopicPartition>& tps) override { return set_paused(tps, false); }
  k::GroupMetadata group_metadata() const override { return k::GroupMetadata{cfg_.str("group.id"), -1, "", std::nullopt}; }
  Result<void, k::Error> close(Duration) override {
    assigned_.clear();
    return {};
  }

 private:
  struct State {
    int64_t position = -1;  // < 0: a logical offset still to resolve
    bool paused = false;
  };

  Result<void, k::Error> set_paused(const std::vector<k::TopicPartition>& tps, bool paused) {
    for (auto& tp : tps) {
      auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
      if (it != assigned_.end()) it->second.paused = paused;
    }
    return {};
  }

  // Turns BEGINNING / END / stored / invalid into an offset, using ListOffsets
  // and auto.offset.reset for the last two.
  void resolve(const TopicPartition& tp, State& s) {
    bool latest = s.position == -1;
    if (s.position != -2 && s.position != -1) latest = (reset_ == "largest" || reset_ == "latest" || reset_ == "end");
    auto leader = meta_.leader_node(tp);
    if (!leader) return;
    auto req = std::make_shared<ListOffsetsReq>();
    req->partitions.push_back(tp);
    req->latest = latest;
    auto r = rt_.net().call(rt_, rt_.id(), *leader, kBrokerPort, req, meta_.request_timeout());
    if (!r.ok()) return;
    const auto& res = payload_as<ListOffsetsResp>(*r).results;
    if (res.size() == 1 && res[0].first == Errc::no_error) s.position = res[0].second;
  }

  SimRuntime& rt_;
  k::Config cfg_;
  MetadataCache meta_;
  bool read_committed_ = true;
  std::string reset_;
  Duration max_wait_;
  std::map<TopicPartition, State> assigned_;
};

}  // namespace

std::unique_ptr<k::Consumer> make_sim_consumer(SimRuntime& rt, k::Config cfg) {
  return std::make_unique<SimConsumer>(rt, std::move(cfg));
}

}  // namespace streamsim::sim::kafka
