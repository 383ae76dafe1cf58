// Network tests: FIFO delivery per connection under every latency model, the
// network faults (partition, loss, clog, slow node) and what a crash does to a
// node's inboxes, its peers' calls and its disk.
//
// Conventions (see kernel_test.cpp): state that node tasks write is declared
// before the Simulation; tasks record what they see and the assertions run after
// sim.run(), so a failure is reported by Catch2 rather than as task_failed.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <streamsim/core/sync.h>
#include <streamsim/sim/simulation.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace streamsim;
using namespace streamsim::sim;

namespace {

struct Num final : Payload {
  explicit Num(int v) : v(v) {}
  int v;
  const char* type_name() const override { return "Num"; }
};

std::shared_ptr<const Payload> num(int v) { return std::make_shared<const Num>(v); }

Instant at_ms(int64_t ms) { return Instant::epoch() + Duration::millis(ms); }
Instant at_us(int64_t us) { return Instant::epoch() + Duration::micros(us); }

// Exact latency: min = median = max.
LatencyModel constant_latency(Duration d) {
  LatencyModel m;
  m.kind = LatencyModel::Kind::constant;
  m.min = m.median = m.max = d;
  return m;
}

SimulationConfig constant_config(Duration d) {
  SimulationConfig cfg;
  cfg.latency = constant_latency(d);
  return cfg;
}

int64_t now_us(const Runtime& rt) { return (rt.now() - Instant::epoch()).ns() / 1000; }

// Receives one-way messages on port 1 until the inbox closes, recording
// (value, receipt time in us).
void sink(SimRuntime& rt, std::vector<std::pair<int, int64_t>>& out) {
  Inbox& in = rt.net().listen(rt.id(), 1);
  for (;;) {
    auto r = in.recv(rt);
    if (!r.ok()) return;
    out.emplace_back(payload_as<Num>(r->body).v, now_us(rt));
  }
}

template <class T>
rc::Gen<T> uniform_in(T lo, T hi) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi));
}

// Outcome of a call: nullopt for success, else the error.
using CallOutcome = std::optional<NetErrc>;

}  // namespace

TEST_CASE("each connection delivers in send order under any latency model", "[net][fifo]") {
  rc::prop("one-way messages A -> B arrive in send order without gaps", [] {
    const auto kind = *rc::gen::element(LatencyModel::Kind::lognormal, LatencyModel::Kind::uniform,
                                        LatencyModel::Kind::exponential, LatencyModel::Kind::constant);
    // Drawn at full size: RapidCheck's inRange favours small values at small sizes.
    const int median_us = *uniform_in(1, 5000);
    const int min_us = *uniform_in(1, median_us + 1);
    const int max_us = *uniform_in(min_us, 50'000);
    const int sigma_centi = *uniform_in(1, 300);
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
    const int n = *uniform_in(1, 301);
    // Gaps between sends, often zero (back-to-back sends at one instant), some
    // shorter and some longer than the latency.
    const auto gaps = *rc::gen::container<std::vector<int>>(
        static_cast<size_t>(n), rc::gen::weightedOneOf<int>({{3, rc::gen::just(0)}, {2, uniform_in(0, 3000)}}));

    SimulationConfig cfg;
    cfg.latency.kind = kind;
    cfg.latency.min = Duration::micros(min_us);
    cfg.latency.median = Duration::micros(median_us);
    cfg.latency.max = Duration::micros(max_us);
    cfg.latency.sigma = sigma_centi / 100.0;

    std::vector<int> got;
    bool closed_early = false;
    Simulation sim(seed, cfg);
    sim.add_node("a", [&](SimRuntime& rt) {
      for (int i = 0; i < n; ++i) {
        rt.net().send(rt.id(), 1, 7, num(i));
        if (gaps[static_cast<size_t>(i)] > 0) rt.sleep_for(Duration::micros(gaps[static_cast<size_t>(i)]));
      }
    });
    sim.add_node("b", [&](SimRuntime& rt) {
      Inbox& in = rt.net().listen(rt.id(), 7);
      while (got.size() < static_cast<size_t>(n)) {
        auto r = in.recv(rt);
        if (!r.ok()) {
          closed_early = true;
          return;
        }
        RC_ASSERT(r->from == 0u);
        got.push_back(payload_as<Num>(r->body).v);
      }
    });
    RC_ASSERT(sim.run() == RunStop::quiescent);
    RC_ASSERT(!closed_early);
    std::vector<int> want(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) want[static_cast<size_t>(i)] = i;
    RC_ASSERT(got == want);
    RC_ASSERT(sim.net().stats().delivered == static_cast<uint64_t>(n));
    RC_ASSERT(sim.net().stats().dropped == 0u);
  });
}

TEST_CASE("partitions block one or both directions until healed", "[net][partition]") {
  // Both nodes run the same program: a pinger that sends a numbered one-way
  // message every 10 ms (at 10k+3 ms, delivered at 10k+4 ms), a sink that
  // records them, an echo server, and calls at 10j+5.5 ms with a 20 ms timeout.
  // A controller node applies the faults at whole 100 ms marks:
  //   [100, 200)  a <-> b
  //   [300, 400)  a -> b only
  //   [500, 600)  a <-> b, ended by heal_all()
  constexpr int kPings = 70;
  const std::vector<int64_t> call_times_us = {155'500, 255'500, 355'500, 455'500, 555'500, 655'500};

  std::vector<std::vector<int>> pings(2);                 // per receiver: ping numbers
  std::vector<std::vector<CallOutcome>> calls(2);         // per caller
  std::vector<std::vector<int64_t>> call_end_us(2);
  bool blocked_ab_during_one_way = false, blocked_ba_during_one_way = true;
  Simulation sim(11, constant_config(Duration::millis(1)));
  auto boot = [&](SimRuntime& rt) {
    const NodeId me = rt.id();
    const NodeId peer = 1 - me;
    Inbox& ping_in = rt.net().listen(me, 1);
    Inbox& rpc_in = rt.net().listen(me, 2);
    rt.spawn("sink", [&rt, &ping_in, &pings, me] {
      for (;;) {
        auto r = ping_in.recv(rt);
        if (!r.ok()) return;
        pings[me].push_back(payload_as<Num>(r->body).v);
      }
    });
    rt.spawn("echo", [&rt, &rpc_in] {
      for (;;) {
        auto r = rpc_in.recv(rt);
        if (!r.ok()) return;
        rt.net().reply(*r, r->body);
      }
    });
    rt.spawn("caller", [&rt, &calls, &call_end_us, &call_times_us, me, peer] {
      for (int64_t t : call_times_us) {
        rt.sleep_until(at_us(t));
        auto r = rt.net().call(rt, me, peer, 2, num(static_cast<int>(t)), Duration::millis(20));
        calls[me].push_back(r.ok() ? CallOutcome{} : CallOutcome{r.error()});
        if (r.ok()) REQUIRE(payload_as<Num>(*r).v == static_cast<int>(t));
        call_end_us[me].push_back(now_us(rt));
      }
    });
    for (int k = 0; k < kPings; ++k) {
      rt.sleep_until(at_ms(10 * k + 3));
      rt.net().send(me, peer, 1, num(k));
    }
  };
  sim.add_node("a", boot);
  sim.add_node("b", boot);
  sim.add_node("ctl", [&](SimRuntime& rt) {
    Network& net = rt.net();
    rt.sleep_until(at_ms(100));
    net.partition(0, 1, true);
    rt.sleep_until(at_ms(200));
    net.unpartition(0, 1, true);
    rt.sleep_until(at_ms(300));
    net.partition(0, 1, false);
    blocked_ab_during_one_way = net.blocked(0, 1);
    blocked_ba_during_one_way = net.blocked(1, 0);
    rt.sleep_until(at_ms(400));
    net.unpartition(0, 1, false);
    rt.sleep_until(at_ms(500));
    net.partition(1, 0, true);
    rt.sleep_until(at_ms(600));
    net.heal_all();
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(blocked_ab_during_one_way);
  CHECK(!blocked_ba_during_one_way);

  auto expected_pings = [&](bool blocked_300_400) {
    std::vector<int> v;
    for (int k = 0; k < kPings; ++k) {
      bool blocked = (k >= 10 && k < 20) || (k >= 50 && k < 60) || (blocked_300_400 && k >= 30 && k < 40);
      if (!blocked) v.push_back(k);
    }
    return v;
  };
  CHECK(pings[1] == expected_pings(true));   // b receives a -> b
  CHECK(pings[0] == expected_pings(false));  // a receives b -> a (never blocked one way)

  const CallOutcome ok{}, to{NetErrc::timed_out};
  // a's requests are lost in both partitions and in the one-way a -> b one.
  CHECK(calls[0] == std::vector<CallOutcome>{to, ok, to, ok, to, ok});
  // b's request reaches a during the one-way partition, but the reply (a -> b) is lost.
  CHECK(calls[1] == std::vector<CallOutcome>{to, ok, to, ok, to, ok});
  // A timed-out call returns exactly at its deadline; a good one after a round trip.
  for (int node = 0; node < 2; ++node) {
    REQUIRE(call_end_us[node].size() == call_times_us.size());
    for (size_t i = 0; i < call_times_us.size(); ++i) {
      int64_t took = call_end_us[node][i] - call_times_us[i];
      CHECK(took == (calls[node][i] ? 20'000 : 2'000));
    }
  }
  CHECK(sim.net().stats().call_timeouts == 6u);
  CHECK(!sim.net().blocked(0, 1));
  CHECK(!sim.net().blocked(1, 0));
}

TEST_CASE("overlapping partitions of one pair heal independently", "[net][partition]") {
  std::vector<int64_t> received_ms;
  Simulation sim(2, constant_config(Duration::millis(1)));
  sim.add_node("a", [&](SimRuntime& rt) {
    for (int k = 0; k < 10; ++k) {
      rt.sleep_until(at_ms(10 * k + 3));
      rt.net().send(0, 1, 1, num(k));
    }
  });
  sim.add_node("b", [&](SimRuntime& rt) {
    Inbox& in = rt.net().listen(1, 1);
    for (;;) {
      auto r = in.recv(rt);
      if (!r.ok()) return;
      received_ms.push_back(payload_as<Num>(r->body).v);
    }
  });
  sim.add_node("ctl", [&](SimRuntime& rt) {
    rt.sleep_until(at_ms(20));
    rt.net().partition(0, 1, true);   // [20, 60)
    rt.sleep_until(at_ms(40));
    rt.net().partition(0, 1, false);  // [40, 80)
    rt.sleep_until(at_ms(60));
    rt.net().unpartition(0, 1, true);
    rt.sleep_until(at_ms(80));
    rt.net().unpartition(0, 1, false);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(received_ms == std::vector<int64_t>{0, 1, 8, 9});
}

TEST_CASE("a partition also loses the messages already in flight", "[net][partition]") {
  // Latency 1 ms. a sends at 0 and 0.2 ms; the partition starts at 0.5 ms (both
  // in flight) and ends at 2 ms; a sends again at 3 ms.
  std::vector<std::pair<int, int64_t>> at_b;
  Simulation sim(8, constant_config(Duration::millis(1)));
  sim.add_node("a", [&](SimRuntime& rt) {
    rt.net().send(0, 1, 1, num(1));
    rt.sleep_until(at_us(200));
    rt.net().send(0, 1, 1, num(2));
    rt.sleep_until(at_ms(3));
    rt.net().send(0, 1, 1, num(3));
  });
  sim.add_node("b", [&](SimRuntime& rt) { sink(rt, at_b); });
  sim.add_node("ctl", [&](SimRuntime& rt) {
    rt.sleep_until(at_us(500));
    rt.net().partition(0, 1, false);
    rt.sleep_until(at_ms(2));
    rt.net().unpartition(0, 1, false);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(at_b == std::vector<std::pair<int, int64_t>>{{3, 4'000}});
  CHECK(sim.net().stats().dropped == 2u);
}

TEST_CASE("loss with probability 1 resets the connection and fails calls", "[net][loss]") {
  std::optional<CallOutcome> outcome;
  int64_t call_took_ns = -1;
  int sink_got = 0;
  Simulation sim(3, constant_config(Duration::millis(1)));
  sim.add_node("a", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::millis(1));
    rt.net().set_loss(1.0);
    rt.net().send(0, 1, 1, num(1));
    Instant t0 = rt.now();
    auto r = rt.net().call(rt, 0, 1, 2, num(2), Duration::seconds(1));
    call_took_ns = (rt.now() - t0).ns();
    outcome = r.ok() ? CallOutcome{} : CallOutcome{r.error()};
  });
  sim.add_node("b", [&](SimRuntime& rt) {
    Inbox& in1 = rt.net().listen(1, 1);
    Inbox& in2 = rt.net().listen(1, 2);
    rt.spawn("echo", [&rt, &in2] {
      for (;;) {
        auto r = in2.recv(rt);
        if (!r.ok()) return;
        rt.net().reply(*r, r->body);
      }
    });
    for (;;) {
      auto r = in1.recv(rt);
      if (!r.ok()) return;
      ++sink_got;
    }
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  REQUIRE(outcome.has_value());
  REQUIRE(outcome->has_value());  // the call failed
  CHECK((**outcome == NetErrc::connection_reset || **outcome == NetErrc::timed_out));
  // Loss resets the connection at send time, so the call fails at once.
  CHECK(**outcome == NetErrc::connection_reset);
  CHECK(call_took_ns == 0);
  CHECK(sink_got == 0);
  CHECK(sim.net().stats().resets > 0);
  CHECK(sim.net().stats().dropped == 2u);
  CHECK(sim.net().stats().delivered == 0u);
}

TEST_CASE("a clogged node receives only when the clog ends, in order", "[net][clog]") {
  // a sends to b at 1, 2, 3 ms while b is clogged until 50 ms, then at 60 ms.
  // b sends to c at 10 ms (clogged sender) and c to a at 10 ms (not involved).
  std::vector<std::pair<int, int64_t>> at_b, at_c, at_a;  // (value, receipt time in us)
  Simulation sim(4, constant_config(Duration::millis(1)));
  sim.add_node("a", [&](SimRuntime& rt) {
    rt.spawn("sink", [&rt, &at_a] { sink(rt, at_a); });
    for (int k = 1; k <= 3; ++k) {
      rt.sleep_until(at_ms(k));
      rt.net().send(0, 1, 1, num(k));
    }
    rt.sleep_until(at_ms(60));
    rt.net().send(0, 1, 1, num(4));
  });
  sim.add_node("b", [&](SimRuntime& rt) {
    rt.net().clog(1, at_ms(50));
    rt.spawn("sender", [&rt] {
      rt.sleep_until(at_ms(10));
      rt.net().send(1, 2, 1, num(5));
    });
    sink(rt, at_b);
  });
  sim.add_node("c", [&](SimRuntime& rt) {
    rt.spawn("sender", [&rt] {
      rt.sleep_until(at_ms(10));
      rt.net().send(2, 0, 1, num(6));
    });
    sink(rt, at_c);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  using V = std::vector<std::pair<int, int64_t>>;
  CHECK(at_b == V{{1, 50'000}, {2, 50'000}, {3, 50'000}, {4, 61'000}});
  CHECK(at_c == V{{5, 50'000}});   // messages from a clogged node wait too
  CHECK(at_a == V{{6, 11'000}});   // unrelated traffic is not delayed
}

TEST_CASE("a slow node multiplies the latency of its messages", "[net][slow]") {
  // Constant 1 ms latency; b is 7x slow from the start until heal_all at 100 ms.
  std::vector<std::pair<std::string, int64_t>> latencies;  // (route, us)
  Simulation sim(5, constant_config(Duration::millis(1)));
  auto node = [&](SimRuntime& rt) {
    Inbox& in = rt.net().listen(rt.id(), 1);
    for (;;) {
      auto r = in.recv(rt);
      if (!r.ok()) return;
      int64_t sent_us = payload_as<Num>(r->body).v;
      latencies.emplace_back(rt.net().name(r->from) + "->" + rt.node_name(),
                             now_us(rt) - sent_us);
    }
  };
  sim.add_node("a", node);
  sim.add_node("b", node);
  sim.add_node("c", node);
  sim.add_node("ctl", [&](SimRuntime& rt) {
    Network& net = rt.net();
    net.set_slow(1, 7);
    auto send = [&](NodeId from, NodeId to) {
      net.send(from, to, 1, num(static_cast<int>(now_us(rt))));
    };
    rt.sleep_until(at_ms(10));
    send(0, 1);
    rt.sleep_until(at_ms(20));
    send(1, 0);
    rt.sleep_until(at_ms(30));
    send(0, 2);
    rt.sleep_until(at_ms(100));
    net.heal_all();
    send(0, 1);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  using V = std::vector<std::pair<std::string, int64_t>>;
  CHECK(latencies == V{{"a->b", 7'000}, {"b->a", 7'000}, {"a->c", 1'000}, {"a->b", 1'000}});
}

TEST_CASE("a latency spike adds a fixed delay while it lasts", "[net][spike]") {
  std::vector<std::pair<int, int64_t>> at_b;  // value = send time in ms
  Simulation sim(9, constant_config(Duration::millis(1)));
  sim.add_node("a", [&](SimRuntime& rt) {
    rt.net().set_latency_spike(Duration::millis(4));
    rt.net().send(0, 1, 1, num(0));
    rt.sleep_until(at_ms(10));
    rt.net().set_latency_spike(Duration::zero());
    rt.net().send(0, 1, 1, num(10));
  });
  sim.add_node("b", [&](SimRuntime& rt) { sink(rt, at_b); });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(at_b == std::vector<std::pair<int, int64_t>>{{0, 5'000}, {10, 11'000}});
}

TEST_CASE("isolating a node cuts it off from every other node until unisolated", "[net][partition]") {
  // Every node sends to every other at 1 ms (isolated) and at 11 ms (unisolated at 10 ms).
  std::vector<std::vector<std::pair<int, int64_t>>> got(3);
  Simulation sim(10, constant_config(Duration::millis(1)));
  auto boot = [&](SimRuntime& rt) {
    const NodeId me = rt.id();
    rt.spawn("sink", [&rt, &got, me] { sink(rt, got[me]); });
    for (int64_t t : {1, 11}) {
      rt.sleep_until(at_ms(t));
      for (NodeId o = 0; o < 3; ++o) {
        if (o != me) rt.net().send(me, o, 1, num(static_cast<int>(me * 100 + t)));
      }
    }
  };
  for (const char* name : {"a", "b", "c"}) sim.add_node(name, boot);
  sim.add_node("ctl", [&](SimRuntime& rt) {
    rt.net().isolate(0);
    rt.sleep_until(at_ms(10));
    rt.net().unisolate(0);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  // Messages from different senders at one instant arrive in the order the
  // scheduler ran the senders; compare as sets.
  for (auto& v : got) std::sort(v.begin(), v.end());
  using V = std::vector<std::pair<int, int64_t>>;
  CHECK(got[0] == V{{111, 12'000}, {211, 12'000}});
  CHECK(got[1] == V{{11, 12'000}, {201, 2'000}, {211, 12'000}});
  CHECK(got[2] == V{{11, 12'000}, {101, 2'000}, {111, 12'000}});
}

TEST_CASE("a full inbox drops what does not fit", "[net][inbox]") {
  SimulationConfig cfg = constant_config(Duration::millis(1));
  cfg.inbox_capacity = 3;
  std::vector<int> got;
  size_t queued = 0;
  std::optional<NetErrc> last_error;
  Simulation sim(12, cfg);
  sim.add_node("a", [&](SimRuntime& rt) {
    for (int i = 0; i < 5; ++i) rt.net().send(0, 1, 1, num(i));
  });
  sim.add_node("b", [&](SimRuntime& rt) {
    Inbox& in = rt.net().listen(1, 1);
    rt.sleep_until(at_ms(5));  // all five arrive at 1 ms, nobody reads
    queued = in.size();
    for (;;) {
      auto r = in.recv(rt, rt.now() + Duration::millis(1));
      if (!r.ok()) {
        last_error = r.error();
        return;
      }
      got.push_back(payload_as<Num>(r->body).v);
    }
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(queued == 3);
  CHECK(got == std::vector<int>{0, 1, 2});
  CHECK(last_error == NetErrc::timed_out);
  CHECK(sim.net().stats().dropped == 2u);
  CHECK(sim.net().stats().delivered == 3u);
}

TEST_CASE("a crash closes the node's inboxes and fails calls to it; restart boots again", "[net][crash]") {
  // a: the crashing node. Its first incarnation listens but does not read (so
  //    messages sit in its inbox) and never answers calls.
  // b: sends one-way messages to a and calls a.
  // ctl: crashes a at 10 ms and restarts it at 15 ms.
  int boots = 0;
  std::vector<std::pair<int, int>> a_got;  // (boot, value)
  std::optional<CallOutcome> call_outcome;
  int64_t call_end_us = -1;
  std::optional<CallOutcome> call_after_restart;
  uint64_t delivered_before_restart = 0;
  bool up_after_crash = true;
  Simulation sim(6, constant_config(Duration::millis(1)));
  auto& a = sim.add_node("a", [&](SimRuntime& rt) {
    const int boot = ++boots;
    Inbox& in = rt.net().listen(rt.id(), 1);
    Inbox& rpc = rt.net().listen(rt.id(), 2);
    if (boot == 1) {
      rt.sleep_for(Duration::seconds(3600));
      return;
    }
    rt.spawn("echo", [&rt, &rpc] {
      for (;;) {
        auto r = rpc.recv(rt);
        if (!r.ok()) return;
        rt.net().reply(*r, r->body);
      }
    });
    for (;;) {
      auto r = in.recv(rt);
      if (!r.ok()) return;
      a_got.emplace_back(boot, payload_as<Num>(r->body).v);
    }
  });
  const NodeId a_id = a.id();
  sim.add_node("b", [&](SimRuntime& rt) {
    Network& net = rt.net();
    rt.spawn("caller", [&rt, &net, &call_outcome, &call_end_us, a_id] {
      rt.sleep_until(at_ms(3));
      auto r = net.call(rt, rt.id(), a_id, 2, num(0), Duration::seconds(10));
      call_outcome = r.ok() ? CallOutcome{} : CallOutcome{r.error()};
      call_end_us = now_us(rt);
    });
    rt.sleep_until(at_ms(1));
    net.send(rt.id(), a_id, 1, num(1));  // waits in a's inbox: lost with it
    rt.sleep_until(at_us(9'500));
    net.send(rt.id(), a_id, 1, num(2));  // in flight at the crash: lost
    rt.sleep_until(at_ms(12));
    net.send(rt.id(), a_id, 1, num(3));  // a is down: lost
    rt.sleep_until(at_ms(14));
    delivered_before_restart = net.stats().delivered;
    rt.sleep_until(at_ms(20));
    net.send(rt.id(), a_id, 1, num(4));  // the new incarnation receives this
    auto r = net.call(rt, rt.id(), a_id, 2, num(5), Duration::seconds(1));
    call_after_restart = r.ok() ? CallOutcome{} : CallOutcome{r.error()};
  });
  sim.add_node("ctl", [&](SimRuntime& rt) {
    rt.sleep_until(at_ms(10));
    sim.crash(a_id);
    up_after_crash = sim.net().is_up(a_id);
    rt.sleep_until(at_ms(15));
    sim.restart(a_id);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(!up_after_crash);
  CHECK(boots == 2);
  REQUIRE(call_outcome.has_value());
  CHECK(*call_outcome == CallOutcome{NetErrc::connection_reset});
  CHECK(call_end_us == 10'000);  // failed at the crash, not at its timeout
  CHECK(a_got == std::vector<std::pair<int, int>>{{2, 4}});
  // Delivered before the restart: message 1 and the first call's request.
  CHECK(delivered_before_restart == 2u);
  // Dropped at delivery because a was down: the in-flight message 2 and message 3.
  CHECK(sim.net().stats().dropped == 2u);
  REQUIRE(call_after_restart.has_value());
  CHECK(*call_after_restart == CallOutcome{});
  CHECK(sim.node(a_id).incarnation() == 1u);
}

TEST_CASE("a crash loses exactly the writes that were not fsynced", "[net][crash][disk]") {
  rc::prop("after crash and restart a file holds its fsynced prefix", [] {
    struct Write {
      std::string data;
      bool fsync_after;
    };
    const auto writes = *rc::gen::container<std::vector<Write>>(rc::gen::construct<Write>(
        rc::gen::container<std::string>(rc::gen::inRange('a', 'z')), rc::gen::arbitrary<bool>()));
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();

    std::string expect = "header;";
    std::string all = expect;
    for (const auto& w : writes) {
      all += w.data;
      if (w.fsync_after) expect = all;
    }

    int boots = 0;
    std::optional<std::string> after;
    bool unnamed_survived = true;
    std::string before_crash;
    Simulation sim(seed);
    auto& node = sim.add_node("n", [&](SimRuntime& rt) {
      Storage& disk = rt.storage();
      if (++boots == 1) {
        RC_ASSERT(disk.append("log", "header;").ok());
        RC_ASSERT(disk.fsync("log").ok());
        RC_ASSERT(disk.sync_dir().ok());
        // Fsynced but its name never made durable: vanishes in the crash.
        RC_ASSERT(disk.append("unnamed", "x").ok());
        RC_ASSERT(disk.fsync("unnamed").ok());
        for (const auto& w : writes) {
          RC_ASSERT(disk.append("log", w.data).ok());
          if (w.fsync_after) RC_ASSERT(disk.fsync("log").ok());
        }
        before_crash = disk.read_all("log").value();
        rt.sleep_for(Duration::seconds(3600));
        return;
      }
      auto r = disk.read_all("log");
      if (r.ok()) after = *r;
      unnamed_survived = disk.exists("unnamed");
    });
    const NodeId id = node.id();
    sim.add_node("nemesis", [&](SimRuntime& rt) {
      rt.sleep_for(Duration::seconds(60));
      sim.crash(id);
      rt.sleep_for(Duration::millis(1));
      sim.restart(id);
    });
    RC_ASSERT(sim.run() == RunStop::quiescent);
    RC_ASSERT(boots == 2);
    RC_ASSERT(before_crash == all);
    RC_ASSERT(after.has_value());
    RC_ASSERT(*after == expect);
    RC_ASSERT(!unnamed_survived);
  });
}
