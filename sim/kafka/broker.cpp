#include "broker.h"

#include <streamsim/core/assert.h>

#include <spdlog/logger.h>

#include <algorithm>

namespace streamsim::sim::kafka {

namespace {
constexpr size_t kMaxHandlers = 1024;  // concurrent request handlers per broker
}

Broker::Broker(SimRuntime& rt, BrokerId id, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
               const std::vector<NodeId>& brokers)
    : rt_(rt), id_(id), cfg_(cfg), controllers_(controllers), brokers_(brokers),
      groups_(std::make_unique<GroupCoordinator>(*this)), txns_(std::make_unique<TxnCoordinator>(*this)) {
  SS_ASSERT(id >= 0 && static_cast<size_t>(id) < brokers.size(), "broker id out of range");
  SS_ASSERT(brokers[static_cast<size_t>(id)] == rt.id(), "broker runs on the wrong node");
}

PartitionHost* Broker::host(const TopicPartition& tp) {
  auto it = hosts_.find(tp);
  return it == hosts_.end() ? nullptr : it->second.get();
}

PartitionHost& Broker::ensure_host(const PartitionState& p, const TopicState& t) {
  auto& slot = hosts_[p.tp];
  if (!slot) {
    PartitionConfig pc;
    pc.min_insync_replicas = t.min_insync_replicas;
    pc.replica_lag_time_max = cfg_.replica_lag_time_max;
    LogConfig lc{"kafka/" + p.tp.topic + "-" + std::to_string(p.tp.partition), cfg_.segment_bytes};
    auto h = std::make_unique<PartitionHost>(rt_.storage(), lc, id_, pc, t);
    auto rec = h->log.recover();
    SS_ASSERT(rec.ok(), "partition log recovery failed");
    if (rec->truncated_corrupt_tail) rt_.trace("kafka/log_tail_cut", rec->bytes_cut, 0);
    h->replica.load();
    slot = std::move(h);
  }
  return *slot;
}

void Broker::apply_image(std::shared_ptr<const MetadataImage> image) {
  image_ = image;
  for (const auto& [tp, p] : image->partitions) {
    if (std::find(p.replicas.begin(), p.replicas.end(), id_) == p.replicas.end()) continue;
    PartitionHost& h = ensure_host(p, image->topics.at(tp.topic));
    if (p.leader == id_) {
      if (h.replica.leader_epoch() < p.leader_epoch) {
        h.replica.become_leader(p.leader_epoch, p.replicas, p.isr, rt_.now());
        rt_.log().info("{}-{}: leader at epoch {}", tp.topic, tp.partition, p.leader_epoch);
      } else if (h.replica.is_leader() && h.replica.leader_epoch() == p.leader_epoch) {
        h.replica.set_isr(p.isr);
      }
    } else if (p.leader >= 0 && h.replica.leader_epoch() <= p.leader_epoch &&
               (h.replica.leader() != p.leader || h.replica.leader_epoch() < p.leader_epoch)) {
      h.replica.become_follower(p.leader_epoch, p.leader);
    }
    if (!h.replica.is_leader() && p.leader >= 0 && !h.fetcher_running) {
      h.fetcher_running = true;
      TopicPartition t = tp;
      rt_.spawn("fetcher-" + tp.topic + "-" + std::to_string(tp.partition), [this, t] { follower_loop(t); });
    }
    h.changed.notify_all();
  }
}

void Broker::heartbeat_loop() {
  for (;;) {
    auto req = std::make_shared<BrokerHeartbeatReq>();
    req->broker = id_;
    req->incarnation = rt_.incarnation();
    req->known_version = image_ ? image_->version : -1;
    auto r = call_controller(req, cfg_.heartbeat_interval * 5);
    if (r.ok()) {
      const auto& resp = payload_as<BrokerHeartbeatResp>(*r);
      // The controller answers only with an image that holds this incarnation's
      // registration: an older one describes the previous incarnation's roles.
      SS_ASSERT(!resp.image || (resp.image->broker_epochs.count(id_) != 0 &&
                                resp.image->broker_epochs.at(id_) == rt_.incarnation()),
                "a heartbeat answered with an image from before this broker's registration");
      if (resp.image && newer_image(*resp.image)) apply_image(resp.image);
    }
    rt_.sleep_for(cfg_.heartbeat_interval);
  }
}

// Fetches from the partition's leader while this replica is a follower.
void Broker::follower_loop(TopicPartition tp) {
  for (;;) {
    PartitionHost* h = host(tp);
    SS_ASSERT(h != nullptr, "fetcher for a partition that is not hosted");
    if (h->replica.is_leader() || h->replica.leader() < 0) {
      h->fetcher_running = false;
      return;
    }
    // BUGGIFY: a follower's next fetch is late (a slow replica thread, a GC
    // pause): the high watermark lags and acks=all waits longer.
    if (rt_.buggify("kafka.replica.fetch_delay")) {
      rt_.sleep_for(Duration::millis(50 + static_cast<int64_t>(rt_.random().uniform(250))));
      continue;  // leadership may have changed meanwhile: look again
    }
    const BrokerId leader = h->replica.leader();
    auto req = std::make_shared<FetchReq>();
    req->replica = id_;
    req->max_wait = cfg_.replica_fetch_max_wait;
    req->partitions.push_back(
        FetchPartition{tp, h->replica.fetch_offset(), h->replica.leader_epoch(), h->replica.last_fetched_epoch()});
    auto r = rt_.net().call(rt_, rt_.id(), brokers_.at(static_cast<size_t>(leader)), kBrokerPort, req,
                            cfg_.replica_fetch_max_wait + Duration::millis(500));
    h = host(tp);
    if (!r.ok()) {
      rt_.sleep_for(Duration::millis(20));
      continue;
    }
    const auto& resp = payload_as<FetchResp>(*r);
    if (resp.results.empty()) continue;
    const FetchPartitionResult& res = resp.results.front();
    if (h->replica.is_leader() || h->replica.leader() != leader) continue;  // leadership moved meanwhile
    ReplicaFetchResponse rf;
    rf.error = res.error;
    rf.leader_epoch = res.leader_epoch;
    rf.batches = res.batches;
    rf.high_watermark = res.high_watermark;
    rf.truncate_to = res.truncate_to;
    rf.diverging_epoch = res.diverging_epoch;
    Errc e;
    {
      UniqueLock lk(rt_, h->write);
      if (h->replica.is_leader() || h->replica.leader() != leader) continue;  // changed while waiting for the lock
      e = h->replica.on_fetch_response(rf);
      if (e == Errc::no_error && rf.truncate_to) rt_.probe("kafka.log_truncated");
      if (e == Errc::no_error) flush_if_configured(*h, static_cast<int64_t>(rf.batches.size()));
    }
    if (e == Errc::no_error) {
      h->changed.notify_all();
    } else {
      rt_.sleep_for(Duration::millis(20));
    }
  }
}

void Broker::flush_if_configured(PartitionHost& h, int64_t records) {
  if (h.topic.flush_messages <= 0 || records == 0) return;
  h.appended_since_flush += records;
  if (h.appended_since_flush >= h.topic.flush_messages) {
    auto f = h.log.flush();
    SS_ASSERT(f.ok(), "partition log flush failed");
    h.appended_since_flush = 0;
  }
}

// Leaders shrink the ISR of lagging followers and add caught-up ones, through
// the controller (AlterPartition).
void Broker::isr_loop() {
  for (;;) {
    rt_.sleep_for(cfg_.isr_check_interval);
    std::vector<TopicPartition> led;
    for (auto& [tp, h] : hosts_) {
      if (h->replica.is_leader()) led.push_back(tp);
    }
    for (const TopicPartition& tp : led) {
      PartitionHost* h = host(tp);
      if (h == nullptr || !h->replica.is_leader() || !image_) continue;
      auto lag = h->replica.lagging_followers(rt_.now());
      auto back = h->replica.caught_up_followers();
      if (lag.empty() && back.empty()) continue;
      std::vector<BrokerId> isr;
      for (BrokerId b : h->replica.isr()) {
        if (std::find(lag.begin(), lag.end(), b) == lag.end()) isr.push_back(b);
      }
      for (BrokerId b : back) isr.push_back(b);
      std::sort(isr.begin(), isr.end());
      auto it = image_->partitions.find(tp);
      if (it == image_->partitions.end()) continue;
      auto req = std::make_shared<AlterPartitionReq>();
      req->leader = id_;
      req->tp = tp;
      req->leader_epoch = h->replica.leader_epoch();
      req->partition_epoch = it->second.partition_epoch;
      req->new_isr = isr;
      auto r = call_controller(req, Duration::millis(500));
      if (!r.ok()) continue;
      const auto& resp = payload_as<AlterPartitionResp>(*r);
      h = host(tp);
      if (resp.error == Errc::no_error && h && h->replica.is_leader() &&
          h->replica.leader_epoch() == resp.state.leader_epoch) {
        h->replica.set_isr(resp.state.isr);
        h->changed.notify_all();
        // Keep the cached image's partition epoch current for the next request.
        auto copy = std::make_shared<MetadataImage>(*image_);
        copy->partitions[tp] = resp.state;
        image_ = copy;
      }
    }
  }
}

void Broker::main() {
  Inbox& in = rt_.net().listen(rt_.id(), kBrokerPort);
  rt_.spawn("heartbeat", [this] { heartbeat_loop(); });
  rt_.spawn("isr", [this] { isr_loop(); });
  // --- coordinator tasks ---
  // The group coordinator's loads, session expiry and rebalance deadlines.
  rt_.spawn("group-coordinator", [this] { groups_->run(); });
  rt_.spawn("txn-coordinator", [this] { txns_->run(); });
  // --- end coordinator tasks ---
  for (;;) {
    auto r = in.recv(rt_);
    if (!r.ok()) return;
    if (handlers_ >= kMaxHandlers) continue;  // shed load: the client times out and retries
    ++handlers_;
    rt_.spawn("request", [this, req = std::move(*r)] {
      struct Count {
        size_t& n;
        ~Count() { --n; }
      } count{handlers_};
      std::shared_ptr<const Payload> resp;
      const Payload* body = req.body.get();
      if (auto* p = dynamic_cast<const ProduceReq*>(body)) {
        resp = handle_produce(*p);
        if (p->acks == 0) return;  // acks=0 gets no response, as in Kafka
      } else if (auto* f = dynamic_cast<const FetchReq*>(body)) {
        resp = handle_fetch(*f);
      } else if (auto* m = dynamic_cast<const MetadataReq*>(body)) {
        resp = handle_metadata(*m);
      } else if (auto* i = dynamic_cast<const InitProducerIdReq*>(body)) {
        resp = handle_init_producer_id(*i);
      } else if (auto* l = dynamic_cast<const ListOffsetsReq*>(body)) {
        resp = handle_list_offsets(*l);
      } else if (auto* fc = dynamic_cast<const FindCoordinatorReq*>(body)) {
        resp = handle_find_coordinator(*fc);
      // --- group API dispatch ---
      } else if (auto* jg = dynamic_cast<const JoinGroupReq*>(body)) {
        resp = handle_join_group(*jg);
      } else if (auto* sg = dynamic_cast<const SyncGroupReq*>(body)) {
        resp = handle_sync_group(*sg);
      } else if (auto* hb = dynamic_cast<const HeartbeatReq*>(body)) {
        resp = handle_heartbeat(*hb);
      } else if (auto* lg = dynamic_cast<const LeaveGroupReq*>(body)) {
        resp = handle_leave_group(*lg);
      } else if (auto* oc = dynamic_cast<const OffsetCommitReq*>(body)) {
        resp = handle_offset_commit(*oc);
      } else if (auto* of = dynamic_cast<const OffsetFetchReq*>(body)) {
        resp = handle_offset_fetch(*of);
      } else if (auto* toc = dynamic_cast<const TxnOffsetCommitReq*>(body)) {
        resp = handle_txn_offset_commit(*toc);
      // --- end group API dispatch ---
      // --- transaction API dispatch ---
      } else if (auto* apt = dynamic_cast<const AddPartitionsToTxnReq*>(body)) {
        resp = handle_add_partitions_to_txn(*apt);
      } else if (auto* aot = dynamic_cast<const AddOffsetsToTxnReq*>(body)) {
        resp = handle_add_offsets_to_txn(*aot);
      } else if (auto* et = dynamic_cast<const EndTxnReq*>(body)) {
        resp = handle_end_txn(*et);
      } else if (auto* wtm = dynamic_cast<const WriteTxnMarkersReq*>(body)) {
        resp = handle_write_txn_markers(*wtm);
      // --- end transaction API dispatch ---
      }
      if (resp) rt_.net().reply(req, resp);
    });
  }
}

void run_broker(SimRuntime& rt, BrokerId id, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
                const std::vector<NodeId>& brokers) {
  Broker b(rt, id, cfg, controllers, brokers);
  b.main();
}

}  // namespace streamsim::sim::kafka
