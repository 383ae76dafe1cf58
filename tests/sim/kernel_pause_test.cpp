// Pause and resume of a node's process (SIGSTOP / SIGCONT): none of its tasks
// runs while it is paused, its timers wake nobody until the resume, messages
// sent to it wait in its inbox, time goes on for everyone else, and a paused
// node can still crash and restart. The fsync stall of the fault catalog is
// here too: it is a per-node disk latency of the simulation.
#include <catch2/catch.hpp>

#include <streamsim/core/sync.h>
#include <streamsim/sim/simulation.h>

#include <string>
#include <vector>

using namespace streamsim;
using namespace streamsim::sim;

namespace {

struct Ping final : Payload {
  int n = 0;
  const char* type_name() const override { return "Ping"; }
};

constexpr uint32_t kPort = 7;

Instant at_ms(int64_t ms) { return Instant::epoch() + Duration::millis(ms); }

}  // namespace

TEST_CASE("a sleeping task on a paused node wakes only after the resume", "[kernel][pause]") {
  Simulation sim(11);
  std::vector<int64_t> woke;     // ms at which the sleeper woke
  std::vector<int64_t> ticks;    // ms of the other node's ticks
  SimRuntime& sleeper = sim.add_node("sleeper", [&](SimRuntime& rt) {
    rt.sleep_until(at_ms(100));
    woke.push_back((rt.now() - Instant::epoch()).ns() / 1'000'000);
  });
  sim.add_node("ticker", [&](SimRuntime& rt) {
    for (int i = 0; i < 10; ++i) {
      rt.sleep_for(Duration::millis(50));
      ticks.push_back((rt.now() - Instant::epoch()).ns() / 1'000'000);
    }
  });
  REQUIRE(sim.run_until(at_ms(50)) == RunStop::reached);
  sim.pause(sleeper.id());
  REQUIRE(sleeper.paused());
  REQUIRE(sim.run_until(at_ms(300)) == RunStop::reached);
  // Its deadline (100 ms) passed while it was stopped; the other node ran on.
  REQUIRE(woke.empty());
  REQUIRE(ticks.size() == 6);
  sim.resume(sleeper.id());
  REQUIRE(!sleeper.paused());
  REQUIRE(sim.run() == RunStop::quiescent);
  REQUIRE(woke == std::vector<int64_t>{300});
  REQUIRE(ticks.size() == 10);
}

TEST_CASE("a message delivered during the pause is handled after the resume", "[kernel][pause]") {
  Simulation sim(12);
  std::vector<std::pair<int, int64_t>> handled;  // (n, ms)
  int replies = 0;
  int timeouts = 0;
  SimRuntime& server = sim.add_node("server", [&](SimRuntime& rt) {
    Inbox& in = rt.net().listen(rt.id(), kPort);
    for (;;) {
      auto r = in.recv(rt);
      if (!r.ok()) return;
      handled.push_back({payload_as<Ping>(r->body).n, (rt.now() - Instant::epoch()).ns() / 1'000'000});
      rt.net().reply(*r, r->body);
    }
  });
  sim.add_node("client", [&](SimRuntime& rt) {
    rt.sleep_until(at_ms(100));
    // Sent while the server is stopped: the peer sees silence (a timeout), not
    // a reset, and the request is still handled once the server resumes.
    auto p = std::make_shared<Ping>();
    p->n = 1;
    auto r = rt.net().call(rt, rt.id(), sim.find("server")->id(), kPort, p, Duration::millis(200));
    if (r.ok()) ++replies;
    else if (r.error() == NetErrc::timed_out) ++timeouts;
    rt.sleep_until(at_ms(600));
    auto q = std::make_shared<Ping>();
    q->n = 2;
    auto r2 = rt.net().call(rt, rt.id(), sim.find("server")->id(), kPort, q, Duration::millis(200));
    if (r2.ok()) ++replies;
  });
  REQUIRE(sim.run_until(at_ms(50)) == RunStop::reached);
  sim.pause(server.id());
  REQUIRE(sim.run_until(at_ms(500)) == RunStop::reached);
  REQUIRE(handled.empty());
  REQUIRE(timeouts == 1);
  REQUIRE(sim.net().stats().resets == 0);
  sim.resume(server.id());
  REQUIRE(sim.run_until(at_ms(1000)) == RunStop::reached);
  REQUIRE(handled.size() == 2);
  REQUIRE(handled[0].first == 1);
  REQUIRE(handled[0].second == 500);  // handled at the resume, not before
  REQUIRE(handled[1].first == 2);
  REQUIRE(replies == 1);
}

TEST_CASE("a task spawned or unparked on a paused node waits for the resume", "[kernel][pause]") {
  Simulation sim(13);
  std::vector<std::string> events;
  CondVar* cv_ptr = nullptr;
  SimRuntime& a = sim.add_node("a", [&](SimRuntime& rt) {
    CondVar cv;
    cv_ptr = &cv;
    rt.spawn("waiter", [&] {
      cv.wait(rt);
      events.push_back("woken at " + std::to_string((rt.now() - Instant::epoch()).ns() / 1'000'000));
    });
    rt.sleep_until(at_ms(10'000));
    cv_ptr = nullptr;
  });
  REQUIRE(sim.run_until(at_ms(10)) == RunStop::reached);
  sim.pause(a.id());
  REQUIRE(cv_ptr != nullptr);
  cv_ptr->notify_all();  // from outside the node, like a delivery
  REQUIRE(sim.run_until(at_ms(40)) == RunStop::reached);
  REQUIRE(events.empty());
  sim.resume(a.id());
  REQUIRE(sim.run_until(at_ms(50)) == RunStop::reached);
  REQUIRE(events == std::vector<std::string>{"woken at 40"});
}

TEST_CASE("a paused node can crash and restart", "[kernel][pause]") {
  Simulation sim(14);
  int boots = 0;
  int progress = 0;
  SimRuntime& n = sim.add_node("n", [&](SimRuntime& rt) {
    ++boots;
    for (;;) {
      rt.sleep_for(Duration::millis(10));
      ++progress;
    }
  });
  REQUIRE(sim.run_until(at_ms(55)) == RunStop::reached);
  REQUIRE(progress == 5);
  sim.pause(n.id());
  REQUIRE(sim.run_until(at_ms(200)) == RunStop::reached);
  REQUIRE(progress == 5);
  sim.crash(n.id());
  REQUIRE(!n.paused());
  REQUIRE(sim.run_until(at_ms(210)) == RunStop::reached);
  REQUIRE(sim.kernel().live_tasks(0) == 0);  // group 0 is the first incarnation of n
  sim.restart(n.id());
  REQUIRE(sim.run_until(at_ms(255)) == RunStop::reached);
  REQUIRE(boots == 2);
  REQUIRE(progress == 9);
  sim.resume(n.id());  // a stale resume after the crash is harmless
  REQUIRE(sim.run_until(at_ms(265)) == RunStop::reached);
  REQUIRE(progress == 10);
}

TEST_CASE("pause and resume keep runs deterministic", "[kernel][pause]") {
  auto run = [](uint64_t seed) {
    Simulation sim(seed);
    for (int i = 0; i < 4; ++i) {
      sim.add_node("n" + std::to_string(i), [i](SimRuntime& rt) {
        for (int k = 0; k < 3; ++k) {
          rt.spawn("w" + std::to_string(k), [&rt, k] {
            for (int j = 0; j < 20; ++j) rt.sleep_for(Duration::micros(100 + 37 * k + rt.random().uniform(50)));
          });
        }
        rt.sleep_for(Duration::millis(100 + i));
      });
    }
    sim.run_until(at_ms(1));
    sim.pause(1);
    sim.pause(2);
    sim.run_until(at_ms(2));
    sim.resume(2);
    sim.run_until(at_ms(3));
    sim.resume(1);
    sim.run();
    return sim.tracer().hash();
  };
  REQUIRE(run(5) == run(5));
  REQUIRE(run(6) == run(6));
}

TEST_CASE("an fsync stall slows the node's fsyncs for its duration", "[disk][fsync_stall]") {
  Simulation sim(15);
  std::vector<int64_t> took_us;
  SimRuntime& n = sim.add_node("n", [&](SimRuntime& rt) {
    for (int i = 0; i < 3; ++i) {
      REQUIRE(rt.storage().append("log", "x").ok());
      Instant t0 = rt.now();
      REQUIRE(rt.storage().fsync("log").ok());
      took_us.push_back((rt.now() - t0).ns() / 1000);
      rt.sleep_until(at_ms(100 * (i + 1)));
    }
  });
  REQUIRE(sim.run_until(at_ms(50)) == RunStop::reached);
  sim.set_fsync_stall(n.id(), Duration::millis(40));
  REQUIRE(sim.run_until(at_ms(150)) == RunStop::reached);
  sim.set_fsync_stall(n.id(), Duration::zero());
  REQUIRE(sim.run() == RunStop::quiescent);
  const int64_t base = sim.config().disk_latency.fsync.ns() / 1000;
  REQUIRE(took_us == std::vector<int64_t>{base, base + 40'000, base});
}
