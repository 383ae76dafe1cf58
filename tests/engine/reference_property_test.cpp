// RapidCheck property: for generated append-mode pipelines over every window
// kind (tumbling, sliding, session) and aggregate (count, sum, min, max, avg),
// with or without dedup and select_max_per_window, any input whose disorder
// stays within the watermark delay, any batching, any partitioning and any
// snapshot/changelog restore points, the streaming output (TestStream) equals
// the batch reference evaluator (engine/reference.h) over all the events.
// Plus a few fixed examples of the reference itself, so that a wrong oracle
// cannot agree with a wrong engine unnoticed.
#include "engine_test_util.h"

#include <streamsim/engine/reference.h>

#include <rapidcheck/catch.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <string>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

namespace {

template <class T>
T uniform_in(T lo, T hi) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi));
}

struct Event {
  int32_t partition = 0;
  int64_t key = 0;  // partition * 100 + k: a key lives on one partition
  Value value;
  int64_t t = 0;
};

struct Case {
  int32_t partitions = 1;
  int64_t delay = 0;
  int64_t lateness = 0;
  WindowSpec::Kind kind = WindowSpec::Kind::tumbling;
  int64_t size = 10, slide = 10, gap = 5;
  Aggregate::Kind agg = Aggregate::Kind::count;
  bool dedup = false;
  bool select_max = false;
  std::vector<Event> events;        // arrival order
  std::vector<size_t> batch_sizes;  // sums to events.size()
  std::vector<int> restore;         // per batch: 0 none, 1 snapshot, 2 changelog
};

const char* kind_name(WindowSpec::Kind k) {
  return k == WindowSpec::Kind::tumbling ? "tumbling" : k == WindowSpec::Kind::sliding ? "sliding" : "session";
}
const char* agg_name(Aggregate::Kind k) {
  switch (k) {
    case Aggregate::Kind::count: return "count";
    case Aggregate::Kind::sum: return "sum";
    case Aggregate::Kind::min: return "min";
    case Aggregate::Kind::max: return "max";
    case Aggregate::Kind::avg: return "avg";
    case Aggregate::Kind::fold: return "fold";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const Case& c) {
  os << "Case{" << kind_name(c.kind) << " size=" << c.size << " slide=" << c.slide << " gap=" << c.gap << " "
     << agg_name(c.agg) << (c.dedup ? " dedup" : "") << (c.select_max ? " select_max" : "")
     << " partitions=" << c.partitions << " delay=" << c.delay << " lateness=" << c.lateness << " events=[";
  for (const auto& e : c.events) os << "(p" << e.partition << " k" << e.key << " v" << e.value << " t" << e.t << ") ";
  os << "] batches=[";
  for (auto b : c.batch_sizes) os << b << " ";
  os << "] restore=[";
  for (auto r : c.restore) os << r << " ";
  return os << "]}";
}

Value draw_value(bool unique, int64_t i) {
  if (unique) return Value(i);  // dedup takes (key, value) as the event's identity
  switch (uniform_in(0, 8)) {
    case 0: return Value();                                            // skipped by sum/min/max/avg
    case 1: return Value(static_cast<double>(uniform_in(-10, 20)) + 0.5);  // exact: sums stay order-independent
    default: return Value(static_cast<int64_t>(uniform_in(-10, 20)));
  }
}

// A pipeline, then an input where every event is at least (max event time seen
// earlier on its partition) - delay: nothing is late for any window.
Case draw_case() {
  Case c;
  c.partitions = uniform_in(1, 4);
  c.delay = uniform_in(0, 21);
  c.lateness = uniform_in(0, 6);
  c.kind = *rc::gen::element(WindowSpec::Kind::tumbling, WindowSpec::Kind::sliding, WindowSpec::Kind::session);
  c.agg = *rc::gen::element(Aggregate::Kind::count, Aggregate::Kind::sum, Aggregate::Kind::min, Aggregate::Kind::max,
                            Aggregate::Kind::avg);
  c.size = *rc::gen::element<int64_t>(1, 5, 10, 30);
  c.slide = c.kind == WindowSpec::Kind::sliding ? *rc::gen::element<int64_t>(1, 2, 3, 5, 10) : c.size;
  if (c.slide > c.size) c.slide = c.size;
  c.gap = uniform_in<int64_t>(1, 16);
  c.dedup = uniform_in(0, 4) == 0;
  // The selection is per task: one partition makes it the global maximum.
  c.select_max = c.kind != WindowSpec::Kind::session && c.partitions == 1 && uniform_in(0, 3) == 0;
  const int n = uniform_in(0, 80);
  std::map<int32_t, int64_t> max_t;
  for (int i = 0; i < n; ++i) {
    // With dedup, sometimes repeat an earlier event of the same partition
    // whose time is still within the delay (a duplicate send).
    if (c.dedup && !c.events.empty() && uniform_in(0, 4) == 0) {
      const Event& prev = c.events[static_cast<size_t>(uniform_in<size_t>(0, c.events.size()))];
      if (prev.t >= max_t[prev.partition] - c.delay) {
        c.events.push_back(prev);
        continue;
      }
    }
    Event e;
    e.partition = uniform_in(0, c.partitions);
    e.key = e.partition * 100 + uniform_in(0, 3);
    e.value = draw_value(c.dedup, i);
    auto it = max_t.find(e.partition);
    if (it == max_t.end()) e.t = uniform_in(0, 50);
    else e.t = std::max<int64_t>(0, it->second + uniform_in(-static_cast<int>(c.delay), 16));
    max_t[e.partition] = std::max(it == max_t.end() ? e.t : it->second, e.t);
    c.events.push_back(e);
  }
  size_t left = c.events.size();
  int empty = 0;
  while (left > 0) {
    size_t b = std::min<size_t>(left, static_cast<size_t>(uniform_in(0, 12)));
    if (b == 0 && ++empty > 3) b = 1;
    c.batch_sizes.push_back(b);
    left -= b;
  }
  c.batch_sizes.push_back(0);
  for (size_t b = 0; b < c.batch_sizes.size(); ++b) c.restore.push_back(uniform_in(0, 5) < 3 ? 0 : uniform_in(1, 3));
  return c;
}

// dedup on (key, value): the pair packed into a string key, deduplicated, and
// the original key restored from it (as the windowed-aggregate pipeline does).
Value pack(const Row& r) { return Value(std::to_string(r.key.as_int()) + "|" + r.value.to_string()); }
Row unpack(const Row& r) {
  Row out = r;
  const std::string& s = r.key.as_string();
  out.key = Value(static_cast<int64_t>(std::stoll(s.substr(0, s.find('|')))));
  return out;
}

Pipeline pipeline_for(const Case& c) {
  auto b = source("events").with_watermark(Duration::millis(c.delay));
  if (c.dedup) b.key_by(pack).dedup().map(unpack);
  switch (c.kind) {
    case WindowSpec::Kind::tumbling: b.window(WindowSpec::tumbling(Duration::millis(c.size))); break;
    case WindowSpec::Kind::sliding: b.window(WindowSpec::sliding(Duration::millis(c.size), Duration::millis(c.slide))); break;
    case WindowSpec::Kind::session: b.window(WindowSpec::session(Duration::millis(c.gap))); break;
  }
  b.aggregate(Aggregate{c.agg, {}, {}, {}}).output(OutputMode::append).late_events(LatePolicy::route);
  if (c.select_max) b.select_max_per_window();
  if (c.lateness > 0) b.allowed_lateness(Duration::millis(c.lateness));
  return built(b.build());
}

std::string text(const ReferenceResult& r) {
  std::string s;
  for (const auto& [w, v] : r)
    s += "key=" + w.key.to_string() + " window=[" + std::to_string(w.start_ms) + "," + std::to_string(w.end_ms) +
         ") value=" + v.to_string() + "\n";
  return s;
}

}  // namespace

TEST_CASE("property: streaming output equals the batch reference for every window kind and aggregate",
          "[engine][property][reference]") {
  rc::prop("append output over bounded-disorder input, any batching, partitioning and restores", [] {
    const Case c = draw_case();
    RC_LOG() << c << "\n";
    const Pipeline p = pipeline_for(c);
    std::vector<ReferenceEvent> all;
    for (const auto& e : c.events) all.push_back({Value(e.key), e.value, e.t});
    auto expected = evaluate_reference(p.plan(), all);
    RC_ASSERT(expected.ok());

    TestStreamOptions opts;
    opts.partitions = c.partitions;
    TestStream ts(p, opts);
    ReferenceResult got;
    size_t late = 0;
    auto record = [&](const BatchOutput& out) {
      for (const auto& row : out.rows()) {
        RC_ASSERT(row.window.has_value());
        const bool fresh =
            got.emplace(ReferenceWindow{row.window->start.ms(), row.window->end.ms(), row.key}, row.value).second;
        RC_ASSERT(fresh);  // append: each window once
      }
      late += out.late().size();
    };
    size_t i = 0;
    for (size_t b = 0; b < c.batch_sizes.size(); ++b) {
      for (size_t j = 0; j < c.batch_sizes[b]; ++j, ++i)
        ts.add(Value(c.events[i].key), c.events[i].value, EventTime::from_ms(c.events[i].t), c.events[i].partition);
      auto out = ts.run_batch();
      RC_ASSERT(out.ok());
      record(*out);
      if (c.restore[b] == 1) RC_ASSERT(ts.restore(ts.snapshot()).ok());
      if (c.restore[b] == 2) RC_ASSERT(ts.restore(ts.changelog()).ok());
    }
    ts.advance_watermark_to(Watermark::max());
    auto last = ts.run_batch();
    RC_ASSERT(last.ok());
    record(*last);
    RC_ASSERT(late == 0u);
    RC_TAG(kind_name(c.kind), agg_name(c.agg), got.empty() ? "no windows" : "windows");
    RC_ASSERT(text(got) == text(*expected));
    RC_ASSERT(got == *expected);  // also the value types (1 vs 1.0)
  });
}

TEST_CASE("the batch reference on fixed examples", "[engine][reference]") {
  auto plan_of = [](WindowSpec w, Aggregate a) {
    return built(source("e").with_watermark(Duration::millis(0)).window(w).aggregate(a).build());
  };
  const std::vector<ReferenceEvent> ev = {{"a", 1, 0}, {"a", 2, 4}, {"a", Value(), 9}, {"b", 5, 3}, {"a", 7, 20}};
  SECTION("sliding sum: an event is in every window covering it") {
    auto r = evaluate_reference(plan_of(WindowSpec::sliding(Duration::millis(10), Duration::millis(5)), Aggregate::sum()).plan(), ev);
    REQUIRE(r.ok());
    CHECK(text(*r) ==
          "key=\"a\" window=[-5,5) value=3\n"
          "key=\"b\" window=[-5,5) value=5\n"
          "key=\"a\" window=[0,10) value=3\n"
          "key=\"b\" window=[0,10) value=5\n"
          "key=\"a\" window=[5,15) value=null\n"
          "key=\"a\" window=[15,25) value=7\n"
          "key=\"a\" window=[20,30) value=7\n");
  }
  SECTION("session max: overlapping [t, t+gap) merge, a gap apart does not") {
    auto r = evaluate_reference(plan_of(WindowSpec::session(Duration::millis(5)), Aggregate::max()).plan(), ev);
    REQUIRE(r.ok());
    CHECK(text(*r) ==
          "key=\"a\" window=[0,9) value=2\n"
          "key=\"b\" window=[3,8) value=5\n"
          "key=\"a\" window=[9,14) value=null\n"
          "key=\"a\" window=[20,25) value=7\n");
  }
  SECTION("tumbling count and avg") {
    auto c = evaluate_reference(plan_of(WindowSpec::tumbling(Duration::millis(10)), Aggregate::count()).plan(), ev);
    auto a = evaluate_reference(plan_of(WindowSpec::tumbling(Duration::millis(10)), Aggregate::avg()).plan(), ev);
    REQUIRE(c.ok());
    REQUIRE(a.ok());
    CHECK(c->at({0, 10, "a"}) == Value(3));
    CHECK(a->at({0, 10, "a"}) == Value(1.5));
  }
  SECTION("refusals name the setting") {
    auto upd = built(source("e").with_watermark(Duration::millis(0)).window(WindowSpec::tumbling(Duration::millis(10)))
                         .aggregate(Aggregate::count()).output(OutputMode::update).build());
    auto r = evaluate_reference(upd.plan(), ev);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "output_mode");
    auto dd = built(source("e").with_watermark(Duration::millis(3)).dedup().window(WindowSpec::tumbling(Duration::millis(10)))
                        .aggregate(Aggregate::count()).build());
    auto d = evaluate_reference(dd.plan(), {{"a", 1, 0}, {"a", 1, 2}});
    REQUIRE(d.ok());
    CHECK(d->at({0, 10, "a"}) == Value(1));
    auto far = evaluate_reference(dd.plan(), {{"a", 1, 0}, {"a", 1, 4}});
    REQUIRE_FALSE(far.ok());
    CHECK(far.error().field == "dedup");
  }
}
