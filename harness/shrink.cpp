// Shrinking a failing seed into an explicit, small scenario (see shrink.h).
//
// The search is greedy delta debugging over three dimensions in turn: the
// fault list (halves, then smaller chunks down to single faults), each
// remaining fault's duration, and the workload's size knobs. A step is kept
// only when the run still violates the property the original seed violated:
// another violation would be a different bug, and a smaller reproduction of
// the wrong bug misleads whoever debugs it.
#include <streamsim/harness/shrink.h>

#include <streamsim/core/assert.h>

#include <google/protobuf/text_format.h>

#include <algorithm>

namespace streamsim::harness {

namespace {

// One size knob of a workload: a value the search may move towards `target`
// (down for counts and rates, up for pauses between sends).
struct Knob {
  std::string name;
  std::function<uint64_t(const proto::Scenario&)> get;
  std::function<void(proto::Scenario&, uint64_t)> set;
  uint64_t target;
};

template <class T>
uint64_t or_default(T v, uint64_t d) {
  return v ? static_cast<uint64_t>(v) : d;
}

std::vector<Knob> workload_knobs(const proto::Scenario& s) {
  std::vector<Knob> k;
  k.push_back({"run.safety_ms", [](const proto::Scenario& x) { return or_default(x.run().safety_ms(), 20'000); },
               [](proto::Scenario& x, uint64_t v) { x.mutable_run()->set_safety_ms(v); }, 1'000});
  if (s.has_pipeline()) {
    k.push_back({"pipeline.input.rate",
                 [](const proto::Scenario& x) { return or_default(static_cast<uint64_t>(x.pipeline().input().rate()), 200); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_pipeline()->mutable_input()->set_rate(static_cast<double>(v)); },
                 1});
    k.push_back({"pipeline.input.duration_ms",
                 [](const proto::Scenario& x) {
                   const uint64_t safety = or_default(x.run().safety_ms(), 20'000);
                   const uint64_t start = or_default(x.pipeline().input().start_ms(), 1'000);
                   return or_default(x.pipeline().input().duration_ms(), safety > start ? safety - start : 1'000);
                 },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_pipeline()->mutable_input()->set_duration_ms(v); }, 500});
    k.push_back({"pipeline.input.keys", [](const proto::Scenario& x) { return or_default(x.pipeline().input().keys(), 50); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_pipeline()->mutable_input()->set_keys(static_cast<uint32_t>(v)); },
                 1});
    k.push_back({"pipeline.input.producers",
                 [](const proto::Scenario& x) { return or_default(x.pipeline().input().producers(), 1); },
                 [](proto::Scenario& x, uint64_t v) {
                   x.mutable_pipeline()->mutable_input()->set_producers(static_cast<uint32_t>(v));
                 },
                 1});
    k.push_back({"pipeline.instances", [](const proto::Scenario& x) { return or_default(x.pipeline().instances(), 1); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_pipeline()->set_instances(static_cast<uint32_t>(v)); }, 1});
  }
  if (s.has_kafka()) {
    k.push_back({"kafka.producers", [](const proto::Scenario& x) { return or_default(x.kafka().producers(), 2); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_kafka()->set_producers(static_cast<uint32_t>(v)); }, 1});
    k.push_back({"kafka.consumers", [](const proto::Scenario& x) { return static_cast<uint64_t>(x.kafka().consumers()); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_kafka()->set_consumers(static_cast<uint32_t>(v)); }, 0});
    k.push_back({"kafka.send_interval_ms", [](const proto::Scenario& x) { return or_default(x.kafka().send_interval_ms(), 10); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_kafka()->set_send_interval_ms(v); }, 1'000});
  }
  if (s.has_counter()) {
    k.push_back({"counter.clients", [](const proto::Scenario& x) { return or_default(x.counter().clients(), 3); },
                 [](proto::Scenario& x, uint64_t v) { x.mutable_counter()->set_clients(static_cast<uint32_t>(v)); }, 1});
  }
  return k;
}

const scenarios::PropertyResult* violation_of(const RunReport& r, const std::string& property) {
  for (const auto& p : r.properties) {
    if (p.name == property && !p.held) return &p;
  }
  return nullptr;
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > 300) s = s.substr(0, 297) + "...";
  return s;
}

class Shrinker {
 public:
  Shrinker(const ShrinkOptions& opt, const ScenarioRunner& run, const ScenarioValidator& valid,
           const ShrinkProgress& progress, ShrinkResult& out)
      : opt_(opt), run_(run), valid_(valid), progress_(progress), out_(out) {}

  bool budget_left() const { return out_.runs < opt_.max_runs; }

  // Runs `c` at `seed`; true when it is valid and still violates the property.
  // A kept candidate's evidence becomes the result's.
  bool fails(const proto::Scenario& c, uint64_t seed, const std::string& what) {
    if (!budget_left()) {
      out_.run_limit_hit = true;
      return false;
    }
    if (!valid_(c)) {
      progress_("shrink: skip " + what + ": the scenario would not load");
      return false;
    }
    ++out_.runs;
    RunReport r = run_(c, seed);
    const auto* v = violation_of(r, out_.property);
    progress_("shrink [" + std::to_string(out_.runs) + "/" + std::to_string(opt_.max_runs) + "] " + what + " (" +
              std::to_string(c.faults().scripted_size()) + " faults): " +
              (v ? "still violates " + out_.property : "no longer violates " + out_.property));
    if (v) out_.evidence = one_line(v->evidence);
    return v != nullptr;
  }

  // Removes chunks of faults, from halves down to single faults (ddmin's
  // complement steps). Each kept removal retries the same chunk position.
  void shrink_faults(proto::Scenario& cur) {
    size_t chunk = std::max<size_t>(1, static_cast<size_t>(cur.faults().scripted_size()) / 2);
    for (;;) {
      for (size_t i = 0; budget_left() && i < static_cast<size_t>(cur.faults().scripted_size());) {
        const size_t n = static_cast<size_t>(cur.faults().scripted_size());
        const size_t end = std::min(n, i + chunk);
        proto::Scenario c = cur;
        auto* sc = c.mutable_faults()->mutable_scripted();
        sc->DeleteSubrange(static_cast<int>(i), static_cast<int>(end - i));
        const std::string what = end - i == 1 ? "remove fault " + std::to_string(i)
                                              : "remove faults " + std::to_string(i) + ".." + std::to_string(end - 1);
        if (fails(c, out_.seed, what)) {
          cur = std::move(c);
          out_.steps.push_back(what);
        } else {
          i = end;
        }
      }
      if (chunk == 1 || !budget_left()) break;
      chunk = std::max<size_t>(1, chunk / 2);
    }
  }

  // Shortens each fault: straight to 1 ms, else halving while it still fails.
  void shrink_durations(proto::Scenario& cur) {
    for (int i = 0; budget_left() && i < cur.faults().scripted_size(); ++i) {
      uint64_t d = cur.faults().scripted(i).duration_ms();
      bool first = true;
      while (budget_left() && d > 1) {
        const bool direct = first;
        const uint64_t next = direct ? 1 : d / 2;
        first = false;
        if (!direct && next == 1) break;  // tried already
        proto::Scenario c = cur;
        c.mutable_faults()->mutable_scripted(i)->set_duration_ms(next);
        const std::string what = "fault " + std::to_string(i) + " duration " + std::to_string(d) + " -> " +
                                 std::to_string(next) + " ms";
        if (fails(c, out_.seed, what)) {
          cur = std::move(c);
          out_.steps.push_back(what);
          d = next;
        } else if (direct) {
          continue;  // 1 ms was too short: halve from the original instead
        } else {
          break;
        }
      }
    }
  }

  // Moves each workload knob towards its target: straight there first, else
  // halfway (doubling for knobs that grow) while it still fails.
  void shrink_workload(proto::Scenario& cur) {
    for (const Knob& k : workload_knobs(cur)) {
      uint64_t v = k.get(cur);
      bool first = true;
      while (budget_left() && v != k.target) {
        const bool direct = first;
        uint64_t next = direct ? k.target : (k.target < v ? std::max(k.target, v / 2) : std::min(k.target, v * 2));
        first = false;
        if (next == v || (!direct && next == k.target)) break;  // nothing new to try
        proto::Scenario c = cur;
        k.set(c, next);
        const std::string what = k.name + " " + std::to_string(v) + " -> " + std::to_string(next);
        if (fails(c, out_.seed, what)) {
          cur = std::move(c);
          out_.steps.push_back(what);
          v = next;
        } else if (direct) {
          continue;  // the target itself was too far: approach it in halves
        } else {
          break;
        }
      }
    }
  }

 private:
  const ShrinkOptions& opt_;
  const ScenarioRunner& run_;
  const ScenarioValidator& valid_;
  const ShrinkProgress& progress_;
  ShrinkResult& out_;
};

}  // namespace

ShrinkResult shrink(const proto::Scenario& s, const ShrinkOptions& opt, const ScenarioRunner& run,
                    const ScenarioValidator& valid, const ShrinkProgress& progress) {
  SS_ASSERT(opt.max_runs >= 2, "shrink needs at least the original run and one candidate");
  ShrinkResult out;
  out.seed = opt.seed;
  Shrinker sh(opt, run, valid, progress, out);

  // 1. The original run: which property fails, and which faults it injected.
  RunReport first = run(s, opt.seed);
  out.runs = 1;
  const scenarios::PropertyResult* v = nullptr;
  if (!first.expect_violation.empty()) v = violation_of(first, first.expect_violation);
  if (v == nullptr) v = first.first_violation();
  if (v == nullptr) {
    out.status = ShrinkStatus::does_not_fail;
    return out;
  }
  out.property = v->name;
  out.evidence = one_line(v->evidence);
  out.original_faults = first.fault_schedule.size();
  progress("shrink [1/" + std::to_string(opt.max_runs) + "] original run at seed " + std::to_string(opt.seed) +
           ": violates " + out.property + ", " + std::to_string(out.original_faults) + " faults injected");

  // 2. The same faults, explicit: random faults replaced by what they drew.
  proto::Scenario cur = s;
  cur.mutable_faults()->clear_random();
  auto* scripted = cur.mutable_faults()->mutable_scripted();
  scripted->Clear();
  for (const auto& f : first.fault_schedule) *scripted->Add() = f;
  // A reproduction is judged by its property alone; coverage targets would make
  // a sweep of the shrunk file fail for reasons unrelated to the bug.
  cur.mutable_expect()->clear_targets();
  cur.set_name(s.name() + "/shrunk-seed-" + std::to_string(opt.seed));
  cur.set_description("Shrunk from " + opt.scenario_path + " seed " + std::to_string(opt.seed) + ": violates " +
                      out.property + " with explicit faults at fixed times.");
  bool explicit_fails = false;
  for (uint64_t k = 0; k <= opt.extra_seeds && sh.budget_left(); ++k) {
    out.seed = opt.seed + k;
    if (sh.fails(cur, out.seed, "explicit schedule at seed " + std::to_string(out.seed))) {
      explicit_fails = true;
      break;
    }
  }
  if (!explicit_fails) {
    out.status = ShrinkStatus::not_reproducible;
    out.seed = opt.seed;
    return out;
  }
  if (out.seed != opt.seed) out.steps.push_back("the explicit schedule fails at seed " + std::to_string(out.seed));

  // 3. Fewer faults, shorter faults, a smaller workload; then faults again,
  // since a smaller workload can make more of them unnecessary.
  sh.shrink_faults(cur);
  sh.shrink_durations(cur);
  sh.shrink_workload(cur);
  if (cur.faults().scripted_size() > 1) sh.shrink_faults(cur);

  SS_ASSERT(cur.faults().random().kinds_size() == 0, "the shrunk scenario has no random faults");
  SS_ASSERT(static_cast<size_t>(cur.faults().scripted_size()) <= out.original_faults,
            "shrinking never adds faults");
  out.scenario = std::move(cur);
  out.final_faults = static_cast<size_t>(out.scenario.faults().scripted_size());
  out.status = ShrinkStatus::shrunk;
  return out;
}

std::string shrunk_scenario_text(const ShrinkResult& r, const ShrinkOptions& opt, const std::string& replay_command) {
  SS_ASSERT(r.status == ShrinkStatus::shrunk, "only a shrunk result has a scenario");
  std::string body;
  google::protobuf::TextFormat::Printer printer;
  printer.SetUseShortRepeatedPrimitives(true);
  const bool ok = printer.PrintToString(r.scenario, &body);
  SS_ASSERT(ok, "a valid scenario prints as text");
  std::string h;
  h += "# Shrunk by `streamsim shrink` from " + opt.scenario_path + " at seed " + std::to_string(opt.seed) + ".\n";
  h += "# Property violated: " + r.property + "\n";
  h += "# Evidence: " + one_line(r.evidence) + "\n";
  h += "# Made by: " + one_line(opt.command) + "\n";
  h += "# Faults: " + std::to_string(r.original_faults) + " injected by the original run, " +
       std::to_string(r.final_faults) + " scripted here (no random faults); " + std::to_string(r.runs) + " runs" +
       (r.run_limit_hit ? " (stopped at --max-runs)" : "") + ".\n";
  if (r.seed != opt.seed) {
    h += "# The explicit schedule no longer failed at seed " + std::to_string(opt.seed) + "; it fails at seed " +
         std::to_string(r.seed) + ".\n";
  }
  h += "# Replay: " + replay_command + "\n\n";
  return h + body;
}

}  // namespace streamsim::harness
