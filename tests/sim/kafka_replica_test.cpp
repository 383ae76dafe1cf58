// Replication model test: three replicas of one partition driven directly (no
// network), with a small controller in the test doing clean or unclean leader
// elections, ISR shrink and expand, replicas going away and coming back, and
// produce with acks=all or acks=1.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <streamsim/sim/kafka/replica.h>
#include <streamsim/sim/simulation.h>

#include <algorithm>
#include <ostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace streamsim;
using namespace streamsim::sim;
using namespace streamsim::sim::kafka;

namespace {

struct Step {
  int kind;    // 0 produce, 1 fetch, 2 isr maintenance, 3 down, 4 up, 5 time
  int target;  // replica index or acks choice
  int amount;
};

// RapidCheck prints failing programs through this.
void showValue(const Step& s, std::ostream& os) {
  static const char* kinds[] = {"produce", "fetch", "isr", "down", "up", "time"};
  os << kinds[s.kind] << "(" << s.target << "," << s.amount << ")";
}

struct Outcome {
  std::map<std::string, int64_t> acked_all;  // value -> offset, acks=all
  std::map<std::string, int64_t> acked_one;  // value -> offset, acks=1
  std::vector<std::vector<std::string>> final_logs;  // per replica, values in offset order
  int final_leader = -1;
  bool hw_invariant = true;
  std::string note;
};

std::vector<std::string> values_of(PartitionLog& log) {
  std::vector<std::string> out;
  auto r = log.read(0, UINT64_MAX);
  if (!r.ok()) return out;
  for (auto& b : *r)
    for (auto& rec : b.records) out.push_back(rec.value.value_or(""));
  return out;
}

Outcome drive(uint64_t seed, const std::vector<Step>& steps, bool unclean, int32_t min_isr) {
  Outcome out;
  Simulation sim(seed);
  sim.add_node("brokers", [&](SimRuntime& rt) {
    PartitionConfig cfg;
    cfg.min_insync_replicas = min_isr;
    cfg.replica_lag_time_max = Duration::millis(100);
    std::vector<std::unique_ptr<PartitionLog>> logs;
    std::vector<std::unique_ptr<Replica>> reps;
    for (int i = 0; i < 3; ++i) {
      logs.push_back(std::make_unique<PartitionLog>(rt.storage(), LogConfig{"r" + std::to_string(i), 4096}));
      reps.push_back(std::make_unique<Replica>(i, *logs.back(), cfg));
    }
    std::vector<bool> up = {true, true, true};
    int leader = 0, epoch = 1;
    std::vector<BrokerId> isr = {0, 1, 2};
    reps[0]->become_leader(epoch, {0, 1, 2}, isr, rt.now());
    reps[1]->become_follower(epoch, 0);
    reps[2]->become_follower(epoch, 0);
    struct Pending {
      std::string value;
      int64_t last;
      int epoch;
    };
    std::vector<Pending> pending;
    int next_value = 0;

    auto elect = [&]() {
      // The controller drops the failed leader from the ISR and elects from the
      // remaining live ISR members; unclean election takes any live replica.
      std::vector<BrokerId> live_isr;
      for (BrokerId r : isr)
        if (up[r] && r != leader) live_isr.push_back(r);
      int chosen = -1;
      if (!live_isr.empty()) {
        chosen = live_isr.front();
      } else if (unclean) {
        for (int i = 0; i < 3; ++i)
          if (up[i] && i != leader) chosen = i;
        if (chosen >= 0) live_isr = {chosen};
      }
      if (chosen < 0) return;  // offline partition until something comes back
      ++epoch;
      leader = chosen;
      isr = live_isr;
      reps[leader]->become_leader(epoch, {0, 1, 2}, isr, rt.now());
      for (int i = 0; i < 3; ++i)
        if (i != leader) reps[i]->become_follower(epoch, leader);
    };
    auto fetch = [&](int f) {
      if (!up[f] || !up[leader] || f == leader) return;
      auto resp = reps[leader]->on_follower_fetch(f, reps[f]->leader_epoch(), reps[f]->fetch_offset(),
                                                 reps[f]->last_fetched_epoch(), rt.now());
      reps[f]->on_fetch_response(resp);
    };
    auto settle_acks = [&]() {
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->epoch == epoch && reps[leader]->is_leader() && reps[leader]->high_watermark() > it->last) {
          out.acked_all[it->value] = it->last;
          it = pending.erase(it);
        } else if (it->epoch != epoch) {
          it = pending.erase(it);  // leadership moved before the ack: the client sees an error
        } else {
          ++it;
        }
      }
    };

    for (const Step& s : steps) {
      switch (s.kind) {
        case 0: {
          if (!up[leader]) break;
          Batch b;
          Record rec;
          rec.value = "v" + std::to_string(next_value++);
          b.records.push_back(rec);
          int acks = (s.target % 2 == 0) ? -1 : 1;
          ProduceOutcome o = reps[leader]->append(b, acks);
          if (o.error != Errc::no_error) break;
          if (acks == 1) out.acked_one[*rec.value] = o.last_offset;
          else pending.push_back({*rec.value, o.last_offset, epoch});
          break;
        }
        case 1: fetch(s.target % 3); break;
        case 2: {
          if (!up[leader]) break;
          auto lag = reps[leader]->lagging_followers(rt.now());
          for (BrokerId r : lag) isr.erase(std::remove(isr.begin(), isr.end(), r), isr.end());
          for (BrokerId r : reps[leader]->caught_up_followers())
            if (std::find(isr.begin(), isr.end(), r) == isr.end()) isr.push_back(r);
          std::sort(isr.begin(), isr.end());
          reps[leader]->set_isr(isr);
          break;
        }
        case 3: {
          int r = s.target % 3;
          up[r] = false;
          if (r == leader) elect();
          break;
        }
        case 4: {
          int r = s.target % 3;
          if (up[r]) break;
          up[r] = true;
          if (!up[leader]) elect();
          break;
        }
        case 5: rt.sleep_for(Duration::millis(1 + s.amount % 150)); break;
      }
      settle_acks();
      // The high watermark never exceeds the log end of any ISR member.
      if (up[leader] && reps[leader]->is_leader()) {
        for (BrokerId r : isr)
          if (reps[leader]->high_watermark() > reps[r]->log_end_offset()) out.hw_invariant = false;
      }
    }
    // Heal: everything comes back; followers catch up.
    for (int i = 0; i < 3; ++i) up[i] = true;
    if (!reps[leader]->is_leader()) elect();
    for (int round = 0; round < 50; ++round) {
      for (int f = 0; f < 3; ++f) fetch(f);
      settle_acks();
    }
    out.final_leader = leader;
    for (int i = 0; i < 3; ++i) out.final_logs.push_back(values_of(*logs[i]));
  });
  sim.run();
  return out;
}

rc::Gen<std::vector<Step>> steps_gen() {
  return rc::gen::container<std::vector<Step>>(rc::gen::construct<Step>(
      rc::gen::weightedElement<int>({{6, 0}, {8, 1}, {2, 2}, {1, 3}, {1, 4}, {2, 5}}), rc::gen::inRange(0, 6),
      rc::gen::inRange(0, 1000)));
}

}  // namespace

TEST_CASE("replication: with clean elections no acks=all write is lost and replicas converge", "[kafka_replica]") {
  rc::prop("clean elections keep every acknowledged write", [](uint64_t seed) {
    auto steps = *steps_gen();
    Outcome o = drive(seed, steps, /*unclean=*/false, /*min_isr=*/2);
    RC_ASSERT(o.hw_invariant);
    const auto& leader_log = o.final_logs[o.final_leader];
    for (const auto& [value, offset] : o.acked_all) {
      RC_ASSERT(offset < static_cast<int64_t>(leader_log.size()));
      RC_ASSERT(leader_log[offset] == value);
    }
    // After healing, every replica holds exactly the leader's log.
    for (const auto& log : o.final_logs) RC_ASSERT(log == leader_log);
  });
}

TEST_CASE("replication: unclean elections with acks=1 can lose acknowledged writes", "[kafka_replica]") {
  // The failure the unclean-election canary relies on must be reachable in the
  // model: search fixed seeds for a program that loses an acks=1 write.
  int losses = 0;
  for (uint64_t seed = 1; seed <= 300 && losses == 0; ++seed) {
    Rng rng(seed);
    std::vector<Step> steps;
    for (int i = 0; i < 60; ++i) {
      int k = static_cast<int>(rng.uniform(10));
      int kind = k < 4 ? 0 : k < 6 ? 1 : k < 7 ? 2 : k < 8 ? 3 : k < 9 ? 4 : 5;
      steps.push_back({kind, static_cast<int>(rng.uniform(6)), static_cast<int>(rng.uniform(1000))});
    }
    Outcome o = drive(seed, steps, /*unclean=*/true, /*min_isr=*/1);
    const auto& leader_log = o.final_logs[o.final_leader];
    for (const auto& [value, offset] : o.acked_one) {
      if (offset >= static_cast<int64_t>(leader_log.size()) || leader_log[offset] != value) ++losses;
    }
  }
  REQUIRE(losses > 0);
}

TEST_CASE("replication: idempotent producer deduplicates retries and rejects gaps", "[kafka_replica]") {
  std::vector<ProduceOutcome> outs;
  Simulation sim(3);
  sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {"p", 4096});
    Replica r(0, log, PartitionConfig{});
    r.become_leader(1, {0}, {0}, rt.now());
    auto batch = [](int64_t pid, int16_t epoch, int32_t seq, int n) {
      Batch b;
      b.producer_id = pid;
      b.producer_epoch = epoch;
      b.base_sequence = seq;
      for (int i = 0; i < n; ++i) b.records.push_back(Record{std::nullopt, "x" + std::to_string(seq + i), {}, 0});
      return b;
    };
    outs.push_back(r.append(batch(7, 0, 0, 2), -1));  // offsets 0-1
    outs.push_back(r.append(batch(7, 0, 2, 3), -1));  // offsets 2-4
    outs.push_back(r.append(batch(7, 0, 0, 2), -1));  // retry of the first: duplicate at 0
    outs.push_back(r.append(batch(7, 0, 9, 1), -1));  // gap: out of order
    outs.push_back(r.append(batch(7, 1, 0, 1), -1));  // new epoch from 0: fine, offset 5
    outs.push_back(r.append(batch(7, 0, 5, 1), -1));  // old epoch: fenced
    outs.push_back(r.append(batch(8, 0, 3, 1), -1));  // unknown producer not at 0
  });
  sim.run();
  REQUIRE(outs.size() == 7);
  CHECK(outs[0].error == Errc::no_error);
  CHECK(outs[0].base_offset == 0);
  CHECK(outs[1].base_offset == 2);
  CHECK(outs[2].duplicate);
  CHECK(outs[2].base_offset == 0);
  CHECK(outs[3].error == Errc::out_of_order_sequence_number);
  CHECK(outs[4].error == Errc::no_error);
  CHECK(outs[4].base_offset == 5);
  CHECK(outs[5].error == Errc::invalid_producer_epoch);
  CHECK(outs[6].error == Errc::unknown_producer_id);
}

TEST_CASE("replication: acks=all needs min.insync.replicas in the ISR", "[kafka_replica]") {
  ProduceOutcome all, one;
  Simulation sim(4);
  sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {"p", 4096});
    PartitionConfig cfg;
    cfg.min_insync_replicas = 2;
    Replica r(0, log, cfg);
    r.become_leader(1, {0, 1, 2}, {0}, rt.now());
    Batch b;
    b.records.push_back(Record{std::nullopt, "v", {}, 0});
    all = r.append(b, -1);
    one = r.append(b, 1);
  });
  sim.run();
  CHECK(all.error == Errc::not_enough_replicas);
  CHECK(one.error == Errc::no_error);
}

// Caught by a BUGGIFY sweep of kafka/safe-acks-all (seed 298): a produce's disk
// write suspends its task, a metadata update made the replica a follower
// meanwhile, and the append went on to compute the high watermark as if it still
// led ("only the leader computes the high watermark" killed the run). The append
// must answer NOT_LEADER_OR_FOLLOWER instead, keeping the batch in its log.
TEST_CASE("replication: regression: leadership moving during a produce's disk write answers not-leader instead of tripping an assertion",
          "[kafka_replica]") {
  ProduceOutcome out;
  bool appended = false, moved = false;
  int64_t log_end = -1, hw = -1;
  SimulationConfig cfg;
  cfg.disk_latency.write = Duration::millis(5);  // long enough for the other task to run
  Simulation sim(5, cfg);
  sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {"p", 4096});
    REQUIRE(log.recover().ok());
    Replica r(0, log, PartitionConfig{});
    r.become_leader(1, {0, 1}, {0, 1}, rt.now());
    auto mover = rt.spawn("metadata", [&] {
      rt.sleep_for(Duration::millis(1));  // while the append's write is suspended
      moved = r.become_follower(2, 1);
    });
    Batch b;
    b.records.push_back(Record{std::nullopt, "v", {}, 0});
    out = r.append(b, -1);
    appended = true;
    mover.join();
    log_end = log.end_offset();
    hw = r.high_watermark();
  });
  sim.run();
  REQUIRE(appended);
  REQUIRE(moved);
  CHECK(out.error == Errc::not_leader_or_follower);
  CHECK(log_end == 1);  // the batch was written before leadership moved
  CHECK(hw == 0);       // and never committed by this replica
}

// Caught by a BUGGIFY sweep of kafka/safe-acks-all (seed 420): a follower
// learns the high watermark one fetch late, so when it becomes leader its high
// watermark can sit below offsets its predecessor already served. A consumer
// fetching there got OFFSET_OUT_OF_RANGE, reset to the new leader's end and
// polled offsets it had read before. Kafka's log read answers an offset between
// the high watermark and the log end with no records (the consumer waits); only
// an offset past the log end is out of range.
TEST_CASE("replication: regression: a new leader's lagging high watermark reads as nothing yet, not out of range",
          "[kafka_replica]") {
  bool checked = false;
  int64_t new_hw = -1, new_leo = -1, hw_after_fetch = -1;
  bool old_leader_served = false, between_empty = false, past_end_out_of_range = false, committed_readable = false;
  Simulation sim(6);
  sim.add_node("b", [&](SimRuntime& rt) {
    std::vector<std::unique_ptr<PartitionLog>> logs;
    std::vector<std::unique_ptr<Replica>> reps;
    for (int i = 0; i < 3; ++i) {
      logs.push_back(std::make_unique<PartitionLog>(rt.storage(), LogConfig{"r" + std::to_string(i), 4096}));
      REQUIRE(logs.back()->recover().ok());
      reps.push_back(std::make_unique<Replica>(i, *logs.back(), PartitionConfig{}));
    }
    reps[0]->become_leader(1, {0, 1, 2}, {0, 1, 2}, rt.now());
    reps[1]->become_follower(1, 0);
    reps[2]->become_follower(1, 0);
    auto fetch = [&](int leader, int f) {
      Replica& l = *reps[static_cast<size_t>(leader)];
      Replica& r = *reps[static_cast<size_t>(f)];
      r.on_fetch_response(l.on_follower_fetch(f, r.leader_epoch(), r.fetch_offset(), r.last_fetched_epoch(), rt.now()));
    };
    Batch b;
    for (int i = 0; i < 5; ++i) b.records.push_back(Record{std::nullopt, "v" + std::to_string(i), {}, 0});
    REQUIRE(reps[0]->append(b, -1).error == Errc::no_error);
    fetch(0, 1);
    fetch(0, 2);  // both followers hold offsets 0-4
    fetch(0, 1);  // replica 1 confirms them, but replica 2 has not yet: it learns high watermark 0
    fetch(0, 2);  // now the leader commits 0-4 (high watermark 5)
    REQUIRE(reps[0]->high_watermark() == 5);
    auto served = reps[0]->read(0, 1 << 20);
    old_leader_served = served.ok() && served->size() == 1;  // a consumer read 0-4; its position is 5
    // Replica 0 fails; replica 1 (in the ISR, holding 0-4) takes over, its high watermark behind.
    reps[2]->become_follower(2, 1);
    REQUIRE(reps[1]->become_leader(2, {0, 1, 2}, {1, 2}, rt.now()));
    new_hw = reps[1]->high_watermark();
    new_leo = logs[1]->end_offset();
    auto at_position = reps[1]->read(5, 1 << 20);
    between_empty = at_position.ok() && at_position->empty();
    auto past = reps[1]->read(6, 1 << 20);
    past_end_out_of_range = !past.ok() && past.error() == Errc::offset_out_of_range;
    fetch(1, 2);  // the other ISR member confirms: the new leader's high watermark catches up
    hw_after_fetch = reps[1]->high_watermark();
    auto again = reps[1]->read(0, 1 << 20);
    committed_readable = again.ok() && again->size() == 1;
    checked = true;
  });
  sim.run();
  REQUIRE(checked);
  CHECK(old_leader_served);
  CHECK(new_leo == 5);
  CHECK(new_hw < 5);  // the situation of the bug: the consumer's position is above it
  CHECK(between_empty);
  CHECK(past_end_out_of_range);
  CHECK(hw_after_fetch == 5);
  CHECK(committed_readable);
}
