#include <streamsim/sim/kafka/replica.h>

#include <streamsim/core/assert.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace streamsim::sim::kafka {

Replica::Replica(BrokerId self, PartitionLog& log, PartitionConfig cfg) : self_(self), log_(log), cfg_(cfg) {
  SS_ASSERT(self >= 0, "broker ids are non-negative");
  SS_ASSERT(cfg.min_insync_replicas >= 1, "min.insync.replicas must be at least 1");
}

Batch make_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                  int64_t timestamp_ms) {
  SS_ASSERT(producer_id >= 0 && producer_epoch >= 0, "a transaction marker names a producer id and epoch");
  Batch b;
  b.producer_id = producer_id;
  b.producer_epoch = producer_epoch;
  b.transactional = true;
  b.control = commit ? ControlType::commit : ControlType::abort;
  Record r;
  r.key = commit ? "COMMIT" : "ABORT";
  r.value = std::to_string(coordinator_epoch);
  r.timestamp_ms = timestamp_ms;
  b.records.push_back(std::move(r));
  return b;
}

int32_t marker_coordinator_epoch(const Batch& marker) {
  if (marker.control == ControlType::none || marker.records.size() != 1 || !marker.records[0].value) return -1;
  const std::string& v = *marker.records[0].value;
  int32_t epoch = -1;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), epoch);
  if (ec != std::errc() || ptr != v.data() + v.size()) return -1;
  return epoch;
}

void Replica::load() {
  producers_.clear();
  open_txns_.clear();
  unreplicated_.clear();
  aborted_.clear();
  auto batches = log_.read_shared(log_.start_offset(), UINT64_MAX);
  SS_ASSERT(batches.ok(), "reading a recovered log from its start failed");
  for (const BatchPtr& b : *batches) remember(b->batch);
  forget_replicated();
}

void Replica::remember(const Batch& b) {
  if (b.producer_id < 0) return;
  if (b.control != ControlType::none) {
    // A marker closes the producer's open transaction (a repeated marker, e.g.
    // a retried WriteTxnMarkers, finds none and only updates the epochs).
    ProducerState& p = producers_[b.producer_id];
    if (b.producer_epoch > p.epoch) {
      p.epoch = b.producer_epoch;  // the coordinator bumped the epoch: older producers are fenced
      p.last.clear();
    }
    p.coordinator_epoch = std::max(p.coordinator_epoch, marker_coordinator_epoch(b));
    if (p.txn_first) {
      const int64_t first = *p.txn_first;
      SS_ASSERT(first < b.base_offset, "a transaction's marker precedes its first batch");
      open_txns_.erase(first);
      p.txn_first.reset();
      if (b.control == ControlType::abort) aborted_.push_back(AbortedTxnEntry{b.producer_id, first, b.base_offset});
      unreplicated_.push_back(Unreplicated{first, b.base_offset});
    }
    return;
  }
  // Transactional batches without sequences (as Kafka's group coordinator
  // writes transactional offset commits) still open a transaction.
  if (b.base_sequence < 0 && !b.transactional) return;
  ProducerState& p = producers_[b.producer_id];
  if (b.producer_epoch > p.epoch) {
    p.epoch = b.producer_epoch;
    p.last.clear();
  }
  if (b.base_sequence >= 0) {
    int32_t last = b.base_sequence + static_cast<int32_t>(b.records.size()) - 1;
    p.last.push_back(CachedBatch{b.base_sequence, last, b.base_offset});
    while (p.last.size() > 5) p.last.pop_front();
  }
  if (b.transactional && !p.txn_first) {
    p.txn_first = b.base_offset;
    auto [it, fresh] = open_txns_.emplace(b.base_offset, b.producer_id);
    SS_ASSERT(fresh, "two open transactions start at the same offset");
  }
}

void Replica::forget_replicated() {
  // Markers are remembered in offset order and the high watermark only grows
  // (a truncation rebuilds everything through load()), so the front goes first.
  while (!unreplicated_.empty() && unreplicated_.front().marker_offset < hw_) unreplicated_.pop_front();
}

int64_t Replica::last_stable_offset() const {
  int64_t lso = hw_;
  if (!open_txns_.empty()) lso = std::min(lso, open_txns_.begin()->first);
  for (const Unreplicated& u : unreplicated_) {
    if (u.marker_offset >= hw_) lso = std::min(lso, u.first_offset);
  }
  SS_ASSERT(lso >= 0 && lso <= hw_, "last stable offset outside [0, high watermark]");
  return lso;
}

std::vector<AbortedTxnEntry> Replica::aborted_between(int64_t from, int64_t upto) const {
  std::vector<AbortedTxnEntry> out;
  auto it = std::lower_bound(aborted_.begin(), aborted_.end(), from,
                             [](const AbortedTxnEntry& a, int64_t off) { return a.last_offset < off; });
  for (; it != aborted_.end(); ++it) {
    if (it->first_offset < upto) out.push_back(*it);
  }
  return out;
}

bool Replica::become_leader(int32_t epoch, std::vector<BrokerId> replicas, std::vector<BrokerId> isr, Instant now) {
  if (epoch <= leader_epoch_) return false;
  SS_ASSERT(std::find(isr.begin(), isr.end(), self_) != isr.end(), "a new leader must be in the ISR it is given");
  leader_epoch_ = epoch;
  leader_ = self_;
  replicas_ = std::move(replicas);
  isr_ = std::move(isr);
  followers_.clear();
  for (BrokerId r : replicas_) {
    if (r == self_) continue;
    // A follower's log end is unknown until it fetches (-1), so it cannot hold
    // the high watermark up to a value it never confirmed nor rejoin the ISR; it
    // starts "caught up now" and gets replica.lag.time.max.ms to fetch.
    followers_[r] = FollowerState{-1, now, now, log_.end_offset()};
  }
  epoch_start_offset_ = log_.end_offset();
  // The high watermark carries over and only advances from here, as in Kafka.
  hw_ = std::min(hw_, log_.end_offset());
  advance_hw();
  return true;
}

bool Replica::become_follower(int32_t epoch, BrokerId leader) {
  if (epoch <= leader_epoch_ && leader_ == leader) return false;
  if (epoch < leader_epoch_) return false;
  SS_ASSERT(leader != self_, "become_follower of itself");
  leader_epoch_ = epoch;
  leader_ = leader;
  followers_.clear();
  return true;
}

void Replica::set_isr(std::vector<BrokerId> isr) {
  SS_ASSERT(!is_leader() || std::find(isr.begin(), isr.end(), self_) != isr.end(), "the leader left its own ISR");
  isr_ = std::move(isr);
  if (is_leader()) advance_hw();
}

void Replica::advance_hw() {
  SS_ASSERT(is_leader(), "only the leader computes the high watermark");
  int64_t min_leo = log_.end_offset();
  for (BrokerId r : isr_) {
    if (r == self_) continue;
    auto it = followers_.find(r);
    min_leo = std::min(min_leo, it == followers_.end() ? int64_t{-1} : it->second.leo);
  }
  if (min_leo > hw_) hw_ = min_leo;
  SS_ASSERT(hw_ <= log_.end_offset(), "high watermark above the leader's log end");
  forget_replicated();
}

ProduceOutcome Replica::append(Batch b, int acks) {
  ProduceOutcome out;
  SS_ASSERT(!b.records.empty(), "empty produce batch");
  if (!is_leader()) {
    out.error = Errc::not_leader_or_follower;
    return out;
  }
  if (acks == -1 && static_cast<int32_t>(isr_.size()) < cfg_.min_insync_replicas) {
    out.error = Errc::not_enough_replicas;
    return out;
  }
  if (b.control != ControlType::none) {
    SS_ASSERT(b.transactional && b.producer_id >= 0 && b.records.size() == 1, "a marker is one transactional record");
    auto it = producers_.find(b.producer_id);
    if (it != producers_.end()) {
      if (b.producer_epoch < it->second.epoch) {
        out.error = Errc::producer_fenced;  // Kafka's ProducerFencedException for an old marker
        return out;
      }
      if (marker_coordinator_epoch(b) < it->second.coordinator_epoch) {
        out.error = Errc::transaction_coordinator_fenced;
        return out;
      }
    }
  } else if (b.producer_id >= 0 && b.base_sequence < 0 && b.transactional) {
    auto it = producers_.find(b.producer_id);
    if (it != producers_.end() && b.producer_epoch < it->second.epoch) {
      out.error = Errc::invalid_producer_epoch;
      return out;
    }
  } else if (b.producer_id >= 0 && b.base_sequence >= 0) {
    auto it = producers_.find(b.producer_id);
    const int32_t last_seq = b.base_sequence + static_cast<int32_t>(b.records.size()) - 1;
    if (it != producers_.end()) {
      ProducerState& p = it->second;
      if (b.producer_epoch < p.epoch) {
        out.error = Errc::invalid_producer_epoch;
        return out;
      }
      if (b.producer_epoch == p.epoch) {
        for (const CachedBatch& c : p.last) {
          if (c.first_seq == b.base_sequence && c.last_seq == last_seq) {
            out.duplicate = true;
            out.base_offset = c.base_offset;
            out.last_offset = c.base_offset + (last_seq - b.base_sequence);
            return out;
          }
        }
        if (!p.last.empty() && b.base_sequence != p.last.back().last_seq + 1) {
          out.error = Errc::out_of_order_sequence_number;
          return out;
        }
      } else if (b.base_sequence != 0) {
        out.error = Errc::out_of_order_sequence_number;  // a new epoch starts at sequence 0
        return out;
      }
    } else if (b.base_sequence != 0) {
      // Unknown producer (e.g. its state was lost with an unclean leader).
      out.error = Errc::unknown_producer_id;
      return out;
    }
  }
  b.leader_epoch = leader_epoch_;
  auto r = log_.append(std::move(b));
  if (!r.ok()) {
    out.error = Errc::local_fatal;
    return out;
  }
  out.base_offset = *r;
  out.last_offset = log_.end_offset() - 1;
  auto appended = log_.read_shared(out.base_offset, 1);
  SS_ASSERT(appended.ok() && !appended->empty(), "the batch just appended cannot be read back");
  SS_ASSERT(appended->front()->batch.base_offset == out.base_offset, "read back a different batch");
  remember(appended->front()->batch);
  // The disk write suspended this task, and leadership may have moved away
  // meanwhile (Kafka's leader lock makes a become-follower wait for appends in
  // progress; here it runs in between). The batch stays in this log, as it would
  // in Kafka's, for the new leader's epoch to keep or truncate, but this replica
  // can no longer commit it: the producer retries against the new leader.
  if (!is_leader()) {
    out.error = Errc::not_leader_or_follower;
    return out;
  }
  advance_hw();  // a single-replica ISR commits at once
  return out;
}

ReplicaFetchResponse Replica::on_follower_fetch(BrokerId follower, int32_t follower_leader_epoch, int64_t fetch_offset,
                                                int32_t last_fetched_epoch, Instant now) {
  ReplicaFetchResponse resp;
  resp.leader_epoch = leader_epoch_;
  if (!is_leader()) {
    resp.error = Errc::not_leader_or_follower;
    return resp;
  }
  if (follower_leader_epoch < leader_epoch_) {
    resp.error = Errc::fenced_leader_epoch;
    return resp;
  }
  if (follower_leader_epoch > leader_epoch_) {
    resp.error = Errc::unknown_leader_epoch;
    return resp;
  }
  auto fit = followers_.find(follower);
  if (fit == followers_.end()) {
    resp.error = Errc::not_leader_or_follower;  // not a replica of this partition
    return resp;
  }
  // Divergence: the follower's last epoch ends earlier (or does not exist) here.
  if (last_fetched_epoch >= 0) {
    auto end = log_.end_offset_for_epoch(last_fetched_epoch);
    int64_t epoch_end = end ? end->second : 0;
    if (!end || end->first != last_fetched_epoch || fetch_offset > epoch_end) {
      resp.truncate_to = std::min(epoch_end, fetch_offset);
      resp.diverging_epoch = end ? end->first : -1;
      resp.high_watermark = hw_;
      return resp;
    }
  }
  if (fetch_offset > log_.end_offset()) {
    resp.truncate_to = log_.end_offset();
    resp.high_watermark = hw_;
    return resp;
  }
  FollowerState& f = fit->second;
  const int64_t leo = log_.end_offset();
  // Kafka's rule for "caught up": the fetch reached the leader's end now, or the
  // end as it was at the follower's previous fetch.
  if (fetch_offset >= leo) {
    f.last_caught_up = now;
  } else if (fetch_offset >= f.leader_leo_at_last_fetch) {
    f.last_caught_up = std::max(f.last_caught_up, f.last_fetch);
  }
  f.leo = fetch_offset;
  f.last_fetch = now;
  f.leader_leo_at_last_fetch = leo;
  advance_hw();
  if (fetch_offset < leo) {
    auto batches = log_.read_shared(fetch_offset, cfg_.max_fetch_bytes);
    if (!batches.ok()) {
      resp.error = Errc::offset_out_of_range;
      return resp;
    }
    resp.batches = std::move(*batches);
  }
  resp.high_watermark = hw_;
  return resp;
}

Result<std::vector<BatchPtr>, Errc> Replica::read(int64_t offset, uint64_t max_bytes, bool read_committed) const {
  if (!is_leader()) return unexpected(Errc::not_leader_or_follower);
  if (offset < log_.start_offset() || offset > log_.end_offset()) return unexpected(Errc::offset_out_of_range);
  // read_committed stops at the last stable offset: the outcome of anything at
  // or above it is not known yet.
  const int64_t upto = read_committed ? last_stable_offset() : hw_;
  SS_ASSERT(upto <= hw_, "reading above the high watermark");
  if (offset >= upto) return std::vector<BatchPtr>{};
  auto r = log_.read_shared(offset, max_bytes);
  if (!r.ok()) return unexpected(Errc::offset_out_of_range);
  std::vector<BatchPtr> out;
  for (BatchPtr& b : *r) {
    if (b->batch.base_offset >= upto) break;
    if (b->batch.next_offset() > upto) {
      // Only records below the bound are visible to consumers: a cut copy (rare,
      // as the high watermark and the last stable offset sit on batch bounds
      // except while a leader's own append is not yet replicated).
      auto cut = std::make_shared<SealedBatch>(*b);
      cut->batch.records.resize(static_cast<size_t>(upto - b->batch.base_offset));
      cut->encoded_bytes = 0;  // fewer records: the cached size and frame no longer hold
      cut->frame = {};
      out.push_back(std::move(cut));
      break;
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BrokerId> Replica::lagging_followers(Instant now) const {
  std::vector<BrokerId> out;
  if (!is_leader()) return out;
  for (BrokerId r : isr_) {
    if (r == self_) continue;
    auto it = followers_.find(r);
    if (it == followers_.end() || now - it->second.last_caught_up > cfg_.replica_lag_time_max) out.push_back(r);
  }
  return out;
}

std::vector<BrokerId> Replica::caught_up_followers() const {
  std::vector<BrokerId> out;
  if (!is_leader()) return out;
  for (const auto& [r, f] : followers_) {
    bool in_isr = std::find(isr_.begin(), isr_.end(), r) != isr_.end();
    // Kafka adds a follower back once it reached the high watermark (and the
    // start of the leader's epoch; the high watermark is past that here).
    if (!in_isr && f.leo >= 0 && f.leo >= std::max(hw_, epoch_start_offset_)) {
      out.push_back(r);
    }
  }
  return out;
}

Errc Replica::on_fetch_response(const ReplicaFetchResponse& r) {
  SS_ASSERT(!is_leader(), "a leader applied a fetch response");
  if (r.error != Errc::no_error) return r.error;
  if (r.leader_epoch != leader_epoch_) return Errc::fenced_leader_epoch;  // stale answer
  if (r.truncate_to) {
    // KIP-279: never keep more than this replica itself wrote in that epoch.
    int64_t mine = 0;
    if (r.diverging_epoch >= 0) {
      if (auto e = log_.end_offset_for_epoch(r.diverging_epoch)) mine = e->second;
    }
    int64_t to = std::min({*r.truncate_to, mine, log_.end_offset()});
    auto t = log_.truncate_to(to);
    if (!t.ok()) return Errc::local_fatal;
    hw_ = std::min(hw_, log_.end_offset());
    load();  // producer state must match the shortened log
    return Errc::no_error;
  }
  for (const BatchPtr& p : r.batches) {
    const Batch& b = p->batch;
    if (b.next_offset() <= log_.end_offset()) continue;  // already have it
    if (b.base_offset != log_.end_offset()) return Errc::offset_out_of_range;
    auto a = log_.append_replica(p);
    if (!a.ok()) return Errc::local_fatal;
    remember(b);
  }
  hw_ = std::max(hw_, std::min(r.high_watermark, log_.end_offset()));
  forget_replicated();
  return Errc::no_error;
}

}  // namespace streamsim::sim::kafka
