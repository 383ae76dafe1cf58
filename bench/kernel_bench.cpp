// `streamsim bench kernel`: the kernel's costs and speed, measured on this
// machine, medians of several repetitions in one run. Numbers, not pass/fail:
// the targets (issue 2) are compared in the closing note and docs, never in tests.
#include <streamsim/harness/bench.h>

#include "proc_status.h"

#include <streamsim/core/sync.h>
#include <streamsim/harness/runner.h>
#include <streamsim/scenarios/scenario.h>
#include <streamsim/sim/simulation.h>

#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace streamsim::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}


sim::SimulationConfig quiet() {
  sim::SimulationConfig cfg;
  cfg.log_level = "off";
  cfg.log_sink = std::make_shared<spdlog::sinks::null_sink_st>();
  return cfg;
}

// Two tasks yield to each other; every yield is one switch.
double switch_ns() {
  sim::Simulation sim(1, quiet());
  const int n = 500'000;
  sim.add_node("n", [&](sim::SimRuntime& rt) {
    auto a = rt.spawn("a", [&] { for (int i = 0; i < n; ++i) rt.yield(); });
    auto b = rt.spawn("b", [&] { for (int i = 0; i < n; ++i) rt.yield(); });
    a.join();
    b.join();
  });
  uint64_t before = sim.kernel().stats().switches;
  auto t0 = Clock::now();
  sim.run();
  double s = seconds_since(t0);
  return s * 1e9 / static_cast<double>(sim.kernel().stats().switches - before);
}

double spawn_join_ns() {
  sim::Simulation sim(1, quiet());
  const int n = 100'000;
  sim.add_node("n", [&](sim::SimRuntime& rt) {
    for (int i = 0; i < n; ++i) rt.spawn("t", [] {}).join();
  });
  auto t0 = Clock::now();
  sim.run();
  return seconds_since(t0) * 1e9 / n;
}

// A timer target that re-arms itself at a random future time until `left` runs
// out, keeping about `pending` timers in the heap: the steady state of a busy
// simulation, rather than one enormous heap.
struct RearmTarget final : sim::TimerTarget {
  sim::Kernel* k = nullptr;
  Rng rng{7};
  uint64_t left = 0;
  uint64_t fired = 0;
  void on_timer(uint64_t) override {
    ++fired;
    if (left > 0) {
      --left;
      k->schedule_timer(k->now() + Duration::nanos(1 + static_cast<int64_t>(rng.uniform(1'000'000))), this, 0);
    }
  }
};

double timer_ns() {
  sim::Simulation sim(1, quiet());
  RearmTarget target;
  target.k = &sim.kernel();
  const uint64_t pending = 1024, total = 2'000'000;
  target.left = total - pending;
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < pending; ++i) {
    sim.kernel().schedule_timer(Instant::from_ns(static_cast<int64_t>(target.rng.uniform(1'000'000))), &target, 0);
  }
  sim.run();
  double s = seconds_since(t0);
  return target.fired == total ? s * 1e9 / static_cast<double>(total) : -1;
}

struct Ping final : sim::Payload {
  const char* type_name() const override { return "Ping"; }
};

double net_msg_ns() {
  sim::Simulation sim(1, quiet());
  const int n = 500'000, batch = 500;
  auto& rx = sim.add_node("rx", [&](sim::SimRuntime& rt) {
    sim::Inbox& in = rt.net().listen(rt.id(), 1);
    for (int i = 0; i < n; ++i) {
      auto r = in.recv(rt);
      if (!r.ok()) return;
    }
  });
  sim.add_node("tx", [&, to = rx.id()](sim::SimRuntime& rt) {
    auto body = std::make_shared<Ping>();
    for (int i = 0; i < n; i += batch) {
      for (int k = 0; k < batch; ++k) rt.net().send(rt.id(), to, 1, body);
      rt.sleep_for(Duration::millis(1));
    }
  });
  auto t0 = Clock::now();
  sim.run();
  return seconds_since(t0) * 1e9 / n;
}

// `fibers` tasks each sleep a random 1..1000 us in a loop. Returns kernel steps
// (timer firings + scheduling decisions) per wall second, and wakeups per second.
std::pair<double, double> timer_workload(int fibers, Duration sim_time) {
  sim::Simulation sim(3, quiet());
  uint64_t wakeups = 0;
  sim.add_node("n", [&](sim::SimRuntime& rt) {
    for (int f = 0; f < fibers; ++f) {
      rt.spawn("sleeper", [&] {
        for (;;) {
          rt.sleep_for(Duration::micros(1 + static_cast<int64_t>(rt.random().uniform(1000))));
          ++wakeups;
        }
      });
    }
  });
  sim.run_for(Duration::millis(1));  // start everything
  uint64_t steps0 = sim.kernel().stats().steps, w0 = wakeups;
  auto t0 = Clock::now();
  sim.run_for(sim_time);
  double s = seconds_since(t0);
  return {static_cast<double>(sim.kernel().stats().steps - steps0) / s, static_cast<double>(wakeups - w0) / s};
}

uint64_t rss_with_fibers(int fibers) {
  sim::Simulation sim(5, quiet());
  sim.add_node("n", [&](sim::SimRuntime& rt) {
    for (int f = 0; f < fibers; ++f) rt.spawn("parked", [&] { rt.sleep_for(Duration::seconds(3600)); });
  });
  sim.run_for(Duration::millis(1));
  return proc_status_bytes("VmRSS:");
}

}  // namespace

int kernel(bool json, const std::string& scenario_path) {
  // Memory first, before other measurements raise the high-water mark.
  uint64_t rss_base = proc_status_bytes("VmRSS:");
  uint64_t rss_10k = rss_with_fibers(10'000);
  uint64_t peak_10k = proc_status_bytes("VmHWM:");

  std::string text;
  {
    std::ifstream in(scenario_path);
    if (!in) {
      std::fprintf(stderr, "%s: error: cannot read scenario for the bench\n", scenario_path.c_str());
      return 2;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto sc = scenarios::parse_scenario(text, scenario_path);
  if (!sc.ok()) {
    std::fprintf(stderr, "%s\n", sc.error().format().c_str());
    return 2;
  }

  const int reps = 5;
  std::vector<double> sw, sj, tm, nm, ev, comp, t100, w100, t10k, w10k;
  for (int r = 0; r < reps; ++r) {
    sw.push_back(switch_ns());
    sj.push_back(spawn_join_ns());
    tm.push_back(timer_ns());
    nm.push_back(net_msg_ns());
    harness::RunOptions opt;
    opt.seed = 1000 + static_cast<uint64_t>(r);
    opt.log_level = "off";
    auto t0 = Clock::now();
    harness::RunReport rep = harness::run_scenario(*sc, opt);
    double s = seconds_since(t0);
    ev.push_back(static_cast<double>(rep.steps) / s);
    comp.push_back(static_cast<double>(rep.sim_time_ns) / 1e9 / s);
    auto [a, b] = timer_workload(100, Duration::seconds(2));
    t100.push_back(a);
    w100.push_back(b);
  }
  for (int r = 0; r < 3; ++r) {
    auto [a, b] = timer_workload(10'000, Duration::millis(200));
    t10k.push_back(a);
    w10k.push_back(b);
  }
  uint64_t peak = proc_status_bytes("VmHWM:");
  if (json) {
    std::printf(
        "{\"switch_ns\":%.1f,\"spawn_join_ns\":%.1f,\"timer_arm_fire_ns\":%.1f,\"net_message_ns\":%.1f,"
        "\"selftest_sim_events_per_s\":%.0f,\"selftest_time_compression\":%.1f,"
        "\"timer_100_fibers_sim_events_per_s\":%.0f,\"timer_100_fibers_wakeups_per_s\":%.0f,"
        "\"timer_10000_fibers_sim_events_per_s\":%.0f,\"timer_10000_fibers_wakeups_per_s\":%.0f,"
        "\"rss_baseline_bytes\":%llu,\"rss_10000_fibers_bytes\":%llu,\"peak_rss_10000_fibers_bytes\":%llu,"
        "\"peak_rss_bytes\":%llu,\"repetitions\":%d}\n",
        median(sw), median(sj), median(tm), median(nm), median(ev), median(comp), median(t100), median(w100),
        median(t10k), median(w10k), static_cast<unsigned long long>(rss_base), static_cast<unsigned long long>(rss_10k),
        static_cast<unsigned long long>(peak_10k), static_cast<unsigned long long>(peak), reps);
  } else {
    std::printf("kernel benchmark (medians of %d runs; events = kernel steps: scheduling decisions + timers)\n", reps);
    std::printf("  fiber switch             %10.1f ns\n", median(sw));
    std::printf("  spawn + join             %10.1f ns\n", median(sj));
    std::printf("  timer arm + fire         %10.1f ns\n", median(tm));
    std::printf("  network message          %10.1f ns\n", median(nm));
    std::printf("  self-test scenario       %10.0f events/s, time compression %.1fx\n", median(ev), median(comp));
    std::printf("  100-fiber timer loop     %10.0f events/s (%.0f wakeups/s)\n", median(t100), median(w100));
    std::printf("  10,000-fiber timer loop  %10.0f events/s (%.0f wakeups/s)\n", median(t10k), median(w10k));
    std::printf("  RSS with 10,000 fibers   %10.1f MiB (baseline %.1f MiB)\n", static_cast<double>(rss_10k) / 1048576.0,
                static_cast<double>(rss_base) / 1048576.0);
    std::printf("  peak RSS                 %10.1f MiB\n", static_cast<double>(peak) / 1048576.0);
  }
  return 0;
}

}  // namespace streamsim::bench
