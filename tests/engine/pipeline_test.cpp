// Pipeline building rules (Spark's output-mode restrictions), the registry's
// errors, stateless operators, dedup, dead letters, limits and the changelog.
#include "engine_test_util.h"

#include <streamsim/engine/registry.h>

#include <cmath>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

namespace {

// The error of a build that must fail.
EngineError refused(const Result<Pipeline, EngineError>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error();
}

// A raw input record; TestStream::add_raw fills in its provenance.
InputRecord raw(std::optional<std::string> key, std::optional<std::string> value, int64_t timestamp_ms) {
  InputRecord r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.timestamp_ms = timestamp_ms;
  return r;
}

}  // namespace

// --- output-mode and builder rules --------------------------------------------

TEST_CASE("append on an aggregation needs a watermark", "[engine][pipeline][modes]") {
  auto e = refused(source("clicks").window(WindowSpec::tumbling(Duration::seconds(1))).aggregate(Aggregate::count())
                       .output(OutputMode::append).build());
  CHECK(e.code == EngineErrc::invalid_pipeline);
  CHECK(e.field == "output_mode");
  CHECK_THAT(e.message, Catch::Contains("needs a watermark"));
}

TEST_CASE("append on an unwindowed aggregation is refused", "[engine][pipeline][modes]") {
  auto e = refused(source("clicks").with_watermark(Duration::seconds(1)).aggregate(Aggregate::count())
                       .output(OutputMode::append).build());
  CHECK(e.field == "output_mode");
  CHECK_THAT(e.message, Catch::Contains("event-time window"));
}

TEST_CASE("update mode is refused on session windows", "[engine][pipeline][modes]") {
  auto e = refused(source("clicks").with_watermark(Duration::seconds(1)).window(WindowSpec::session(Duration::seconds(5)))
                       .aggregate(Aggregate::count()).output(OutputMode::update).build());
  CHECK(e.field == "output_mode");
  CHECK_THAT(e.message, Catch::Contains("session"));
}

TEST_CASE("complete mode needs an aggregation and takes no lateness settings", "[engine][pipeline][modes]") {
  auto e = refused(source("clicks").filter([](const Row&) { return true; }).output(OutputMode::complete).build());
  CHECK(e.field == "output_mode");
  CHECK_THAT(e.message, Catch::Contains("needs an aggregation"));
  auto e2 = refused(source("clicks").with_watermark(Duration::seconds(1)).window(WindowSpec::tumbling(Duration::seconds(1)))
                        .aggregate(Aggregate::count()).allowed_lateness(Duration::seconds(1))
                        .output(OutputMode::complete).build());
  CHECK(e2.field == "allowed_lateness");
}

TEST_CASE("the same settings are accepted where Spark accepts them", "[engine][pipeline][modes]") {
  auto wm = [] { return source("clicks").with_watermark(Duration::seconds(1)); };
  CHECK(wm().window(WindowSpec::tumbling(Duration::seconds(1))).aggregate(Aggregate::count()).output(OutputMode::append).build());
  CHECK(wm().window(WindowSpec::session(Duration::seconds(1))).aggregate(Aggregate::count()).output(OutputMode::append).build());
  CHECK(wm().window(WindowSpec::session(Duration::seconds(1))).aggregate(Aggregate::count()).output(OutputMode::complete).build());
  CHECK(source("clicks").aggregate(Aggregate::count()).output(OutputMode::update).build());
  CHECK(source("clicks").map([](const Row& r) { return r; }).output(OutputMode::append).build());
  CHECK(wm().dedup().output(OutputMode::update).build());
}

TEST_CASE("builder misuse names the setting", "[engine][pipeline]") {
  CHECK(refused(source("clicks").dedup().build()).field == "dedup");  // no watermark
  CHECK(refused(source("clicks").window(WindowSpec::tumbling(Duration::seconds(1))).build()).field == "window");
  CHECK(refused(source("clicks").aggregate(Aggregate::count()).map([](const Row& r) { return r; }).build()).field ==
        "map");
  CHECK(refused(source("clicks").with_watermark(Duration::micros(1500)).build()).field == "with_watermark");
  CHECK(refused(source("clicks").window(WindowSpec::tumbling(Duration::micros(1500))).aggregate(Aggregate::count())
                    .output(OutputMode::complete).build()).field == "window");
  CHECK(refused(source("clicks").window(WindowSpec::sliding(Duration::seconds(1), Duration::seconds(2)))
                    .aggregate(Aggregate::count()).output(OutputMode::complete).build()).field == "window");
  CHECK(refused(source("clicks").window(WindowSpec::sliding(Duration::seconds(100), Duration::millis(1)))
                    .aggregate(Aggregate::count()).output(OutputMode::complete).build()).field == "window");
  CHECK(refused(source("clicks").window(WindowSpec::session(Duration::seconds(1)))
                    .aggregate(Aggregate::fold(0, [](const Value& a, const Row&) { return a; }))
                    .output(OutputMode::complete).build()).field == "aggregate");
  CHECK(refused(source("clicks").late_events(LatePolicy::route).build()).field == "late_events");
  CHECK(refused(source("").build()).field == "source");
  CHECK(refused(source("clicks").with_watermark(Duration::seconds(1)).idle_timeout(Duration::zero()).build()).field ==
        "idle_timeout");
}

TEST_CASE("describe() gives a one-line plan", "[engine][pipeline]") {
  auto p = built(source("clicks").with_watermark(Duration::seconds(5)).key_by([](const Row& r) { return r.key; })
                     .window(WindowSpec::tumbling(Duration::seconds(60))).aggregate(Aggregate::count())
                     .output(OutputMode::append).sink("counts").build());
  CHECK(p.describe() ==
        "source(clicks) -> with_watermark(5000ms) -> key_by -> window(tumbling 60000ms) -> count -> append(counts)");
}

// --- registry -------------------------------------------------------------------

TEST_CASE("registry: a known pipeline builds from text parameters", "[engine][registry]") {
  PipelineRegistry reg;
  register_builtin_pipelines(reg);
  CHECK(reg.names() == std::vector<std::string>{"click-counts", "enriched-clicks", "windowed-aggregate"});
  auto p = reg.build("click-counts", {{"window", "10s"}, {"watermark_delay", "2s"}, {"output_mode", "update"}});
  REQUIRE(p);
  CHECK(p->plan().window_size_ms == 10'000);
  CHECK(*p->plan().watermark_delay_ms == 2'000);
  CHECK(p->plan().output_mode == OutputMode::update);
  CHECK(p->plan().source_topic == "clicks");
}

TEST_CASE("registry: errors name the field", "[engine][registry]") {
  PipelineRegistry reg;
  register_builtin_pipelines(reg);
  reg.add(PipelineInfo{"needs-topic", "test", {ParamSpec::string("topic", std::nullopt), ParamSpec::int64("n", "3", 1, 10)},
                       [](const Params& p) { return source(p.string("topic")).build(); }});

  auto e = reg.build("click-count", {});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == EngineErrc::unknown_pipeline);
  CHECK(e.error().field == "pipeline");
  CHECK_THAT(e.error().message, Catch::Contains("click-counts"));  // lists what exists

  e = reg.build("click-counts", {{"windw", "10s"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == EngineErrc::unknown_parameter);
  CHECK(e.error().field == "params.windw");
  CHECK_THAT(e.error().message, Catch::Contains("window"));

  e = reg.build("click-counts", {{"window", "10q"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == EngineErrc::invalid_parameter);
  CHECK(e.error().field == "params.window");

  e = reg.build("click-counts", {{"output_mode", "sometimes"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().field == "params.output_mode");
  CHECK_THAT(e.error().message, Catch::Contains("append, update, complete"));

  e = reg.build("click-counts", {{"window", "1s"}, {"window", "2s"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().field == "params.window");

  e = reg.build("needs-topic", {});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == EngineErrc::missing_parameter);
  CHECK(e.error().field == "params.topic");

  e = reg.build("needs-topic", {{"topic", "t"}, {"n", "11"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().field == "params.n");
  e = reg.build("needs-topic", {{"topic", "t"}, {"n", "x"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().field == "params.n");
  CHECK(reg.build("needs-topic", {{"topic", "t"}, {"n", "10"}}));

  // A rule the pipeline itself enforces is reported as the parameter that set it.
  e = reg.build("click-counts", {{"output_mode", "complete"}, {"late_events", "route"}});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == EngineErrc::invalid_pipeline);
  CHECK(e.error().field == "params.late_events");
  CHECK_THAT(e.error().message, Catch::StartsWith("pipeline 'click-counts': "));
}

TEST_CASE("registry: durations parse with units", "[engine][registry]") {
  CHECK(parse_duration("250ms") == Duration::millis(250));
  CHECK(parse_duration("5s") == Duration::seconds(5));
  CHECK(parse_duration("2m") == Duration::seconds(120));
  CHECK(parse_duration("1h") == Duration::seconds(3600));
  CHECK(parse_duration("7ns") == Duration::nanos(7));
  CHECK_FALSE(parse_duration("5"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("99999999999999999h"));
}

// --- stateless operators ----------------------------------------------------------

TEST_CASE("map, filter, flat_map and key_by keep event time and provenance", "[engine][stateless]") {
  auto p = built(source("clicks")
                     .filter([](const Row& r) { return r.value.as_int() % 2 == 1; })
                     .map([](const Row& r) {
                       Row out = r;
                       out.value = Value(r.value.as_int() * 10);
                       out.event_time = EventTime::from_ms(-1);  // ignored: operators cannot move time
                       return out;
                     })
                     .flat_map([](const Row& r) { return std::vector<Row>{r, r}; })
                     .key_by([](const Row& r) { return Value(r.value.as_int() + 1); })
                     .build());
  TestStream ts(p);
  ts.add("a", 1, ms(5)).add("b", 2, ms(6)).add("c", 3, ms(7));
  auto out = ts.run_batch();
  REQUIRE(out);
  auto rows = out->rows();
  CHECK(TestStream::format(rows) == Rows{"key=11 value=10", "key=11 value=10", "key=31 value=30", "key=31 value=30"});
  CHECK(rows[0].event_time == ms(5));
  CHECK(rows[2].event_time == ms(7));
  CHECK(to_string(*rows[2].source) == "clicks[0]@2");
  CHECK(ts.query().metrics().filtered == 1);
}

TEST_CASE("flat_map beyond its fan-out limit is a dead letter", "[engine][stateless][dead-letter]") {
  auto p = built(source("clicks").flat_map([](const Row& r) { return std::vector<Row>(5, r); }).build());
  TestStreamOptions opts;
  opts.engine.limits.max_flat_map_fanout = 4;
  TestStream ts(p, opts);
  ts.add("a", 1, ms(1));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->rows().empty());
  REQUIRE(out->dead_letters().size() == 1);
  CHECK_THAT(out->dead_letters()[0].reason, Catch::Contains("max_flat_map_fanout"));
}

// --- dedup ---------------------------------------------------------------------------

TEST_CASE("dedup drops a key seen within the watermark, and forgets it afterwards", "[engine][dedup]") {
  auto p = built(source("clicks").with_watermark(Duration::millis(10)).dedup().build());
  TestStream ts(p);
  ts.add("a", 1, ms(0)).add("a", 2, ms(5)).add("b", 3, ms(3));
  CHECK(run(ts) == Rows{"key=\"a\" value=1", "key=\"b\" value=3"});
  CHECK(ts.query().metrics().duplicates_dropped == 1);
  ts.add("a", 4, ms(20));  // still remembered: the watermark (-5) has not passed 0 + delay
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().duplicates_dropped == 2);
  ts.add("c", 5, ms(30));  // watermark 20 > 0 + 10 and 3 + 10: a and b are forgotten
  CHECK(run(ts) == Rows{"key=\"c\" value=5"});
  CHECK(ts.query().metrics().state_entries == 1);
  ts.add("a", 6, ms(25)).add("a", 7, ms(5));  // 25 is on time and new; 5 is behind the watermark: late
  CHECK(run(ts) == Rows{"key=\"a\" value=6"});
  CHECK(ts.query().metrics().late_dropped == 1);
}

TEST_CASE("dedup then aggregate", "[engine][dedup]") {
  auto p = built(source("clicks")
                     .with_watermark(Duration::millis(100))
                     .key_by([](const Row& r) { return r.value; })  // event id
                     .dedup()
                     .map([](const Row& r) { return Row{Value("all"), r.value, r.event_time, r.source}; })
                     .window(WindowSpec::tumbling(Duration::millis(10)))
                     .aggregate(Aggregate::count())
                     .output(OutputMode::append)
                     .build());
  TestStream ts(p);
  ts.add("x", 1, ms(1)).add("x", 2, ms(2)).add("x", 1, ms(3)).add("x", 3, ms(4)).add("x", 2, ms(5));
  REQUIRE(ts.run_batch());
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"all\" window=[0ms,10ms) value=3"});
}

// --- dead letters -------------------------------------------------------------------

TEST_CASE("records that cannot be decoded or have no event time go to dead letters", "[engine][dead-letter]") {
  auto p = built(source("clicks")
                     .decoder(decoders::int64_text())
                     .with_watermark(Duration::millis(0))
                     .window(WindowSpec::tumbling(Duration::millis(10)))
                     .aggregate(Aggregate::sum())
                     .build());
  TestStream ts(p);
  ts.add_raw(raw(std::string("k"), std::string("5"), 1));
  ts.add_raw(raw(std::string("k"), std::string("five"), 2));
  ts.add_raw(raw(std::string("k"), std::string("7"), -1));
  ts.add_raw(raw(std::string("k"), std::nullopt, 3));
  ts.add_raw(raw(std::string("k"), std::string("1"), int64_t{1} << 62));
  auto out = ts.run_batch();
  REQUIRE(out);
  auto dead = out->dead_letters();
  REQUIRE(dead.size() == 4);
  CHECK(to_string(dead[0].source) == "clicks[0]@1");
  CHECK_THAT(dead[0].reason, Catch::Contains("not a decimal int64"));
  CHECK(dead[0].value == std::string("five"));  // the raw bytes, for the dead-letter topic
  CHECK(dead[1].reason == "no event time");
  CHECK(to_string(dead[2].source) == "clicks[0]@3");
  CHECK_THAT(dead[3].reason, Catch::Contains("out of range"));
  // Nothing is dropped silently: every input is accounted for.
  const auto& m = ts.query().metrics();
  CHECK(m.records_in == 5);
  CHECK(m.dead_letters == 4);
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"k\" window=[0ms,10ms) value=5"});
}

TEST_CASE("a value the aggregate cannot take is a dead letter, before any window changes", "[engine][dead-letter]") {
  auto p = built(source("clicks").window(WindowSpec::sliding(Duration::millis(10), Duration::millis(5)))
                     .aggregate(Aggregate::sum()).output(OutputMode::complete).build());
  TestStream ts(p);
  ts.add("k", 2, ms(7)).add("k", "two", ms(7));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(TestStream::format(out->rows()) == Rows{"key=\"k\" window=[0ms,10ms) value=2", "key=\"k\" window=[5ms,15ms) value=2"});
  REQUIRE(out->dead_letters().size() == 1);
  CHECK(out->dead_letters()[0].reason == "sum of a string value");
}

TEST_CASE("dead-letter policy fail: the batch fails naming topic, partition and offset", "[engine][dead-letter]") {
  auto p = built(source("clicks").decoder(decoders::int64_text()).dead_letters(DeadLetterPolicy::fail).build());
  TestStream ts(p);
  ts.add_raw(raw(std::nullopt, std::string("1"), 1));
  REQUIRE(ts.run_batch());
  ts.add_raw(raw(std::nullopt, std::string("2"), 2));
  ts.add_raw(raw(std::nullopt, std::string("x"), 3));
  auto out = ts.run_batch();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == EngineErrc::bad_record);
  CHECK(out.error().field == "clicks[0]@2");
  CHECK_THAT(out.error().format(), Catch::StartsWith("clicks[0]@2: cannot decode"));
  // The failed batch is not half-applied: the query refuses to go on until restored.
  auto again = ts.run_batch();
  REQUIRE_FALSE(again);
  CHECK(again.error().code == EngineErrc::query_failed);
  REQUIRE(ts.restore(ts.changelog()));
  CHECK(ts.query().task(0)->next_offset() == 1);  // resumes after the last committed record
}

// --- limits, partitions, changelog ------------------------------------------------------

TEST_CASE("state beyond max_state_entries fails the batch", "[engine][limits]") {
  TestStreamOptions opts;
  opts.engine.limits.max_state_entries = 2;
  TestStream ts(tumbling_count(10, 0), opts);
  ts.add("a", 1, ms(1)).add("b", 1, ms(1));
  REQUIRE(ts.run_batch());
  ts.add("c", 1, ms(2));
  auto out = ts.run_batch();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == EngineErrc::state_limit);
  CHECK(out.error().field == "clicks[0]@2");
}

TEST_CASE("a batch over max_records_per_batch or for a foreign partition is refused untouched", "[engine][limits]") {
  TestStreamOptions opts;
  opts.engine.limits.max_records_per_batch = 2;
  TestStream ts(tumbling_count(10, 0), opts);
  ts.add("a", 1, ms(1)).add("a", 1, ms(2)).add("a", 1, ms(3));
  auto out = ts.run_batch();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == EngineErrc::batch_limit);
  CHECK_FALSE(ts.query().failed());

  MicroBatch b;
  InputRecord r = raw(std::nullopt, std::nullopt, 1);
  r.source = Provenance{"clicks", 7, 0};
  b.records[7].push_back(r);
  auto foreign = ts.query().run_batch(b);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().code == EngineErrc::unknown_partition);
  CHECK(foreign.error().field == "clicks[7]");
}

TEST_CASE("changelog: restoring the concatenated log equals restoring the snapshot", "[engine][changelog][restore]") {
  auto p = built(source("clicks")
                     .with_watermark(Duration::millis(3))
                     .window(WindowSpec::session(Duration::millis(5)))
                     .aggregate(Aggregate::max())
                     .output(OutputMode::append)
                     .build());
  TestStream ts(p);
  for (int b = 0; b < 6; ++b) {
    for (int i = 0; i < 4; ++i) ts.add(Value(int64_t{i % 2}), Value(int64_t{b * 10 + i}), ms(b * 4 + i * 3));
    REQUIRE(ts.run_batch());
  }
  auto snap = ts.snapshot();
  auto log = ts.changelog();
  TestStream a(p), c(p);
  REQUIRE(a.restore(snap));
  REQUIRE(c.restore(log));
  CHECK(a.snapshot().partitions == snap.partitions);
  CHECK(c.snapshot().partitions == snap.partitions);
  CHECK(log.partitions.at(0).size() > snap.partitions.at(0).size());  // the log has history and tombstones
}

TEST_CASE("a checkpoint from another pipeline is refused", "[engine][changelog][restore]") {
  TestStream ts(tumbling_count(10, 0));
  ts.add("a", 1, ms(1));
  REQUIRE(ts.run_batch());
  auto other = built(source("clicks").with_watermark(Duration::millis(0)).dedup().build());
  auto q = Query::restore(other, ts.snapshot(), Instant::epoch());
  REQUIRE_FALSE(q);
  CHECK(q.error().code == EngineErrc::bad_checkpoint);
  CHECK(q.error().field == "clicks[0]");
  Checkpoint garbage;
  garbage.partitions[0].push_back(ChangelogEntry{"\xff\xff", std::string("x")});
  CHECK_FALSE(Query::restore(tumbling_count(10, 0), garbage, Instant::epoch()));
}

TEST_CASE("partitions move between queries with their changelog", "[engine][changelog][rebalance]") {
  TestStreamOptions opts;
  opts.partitions = 2;
  TestStream ts(tumbling_count(10, 0), opts);
  ts.add("a", 1, ms(1), 0).add("b", 1, ms(2), 1);
  REQUIRE(ts.run_batch());
  auto cp = ts.snapshot();
  // Another instance takes over partition 1 only.
  auto q = Query::create(tumbling_count(10, 0), {}, Instant::epoch());
  REQUIRE(q.add_partition(1, cp.partitions.at(1), Instant::epoch()));
  CHECK(q.partitions() == std::vector<int32_t>{1});
  CHECK(q.task(1)->next_offset() == 1);
  MicroBatch b;
  InputRecord r = raw(encode_value("b"), encode_value(1), 30);
  r.source = Provenance{"clicks", 1, 1};
  b.records[1].push_back(r);
  auto out = q.run_batch(b);
  REQUIRE(out);
  CHECK(TestStream::format(out->rows()) == Rows{"key=\"b\" window=[0ms,10ms) value=1"});
  q.remove_partition(1);
  CHECK(q.partitions().empty());
}

TEST_CASE("values: total order, encoding round trip and strict decoding", "[engine][value]") {
  CHECK(Value() < Value(int64_t{-5}));
  CHECK(Value(int64_t{5}) < Value(-1.0));  // by type first
  CHECK(Value(1.0) < Value(""));
  CHECK(Value(-0.0) < Value(0.0));
  CHECK(Value(std::nan("")) == Value(std::nan("")));
  for (const Value& v : {Value(), Value(int64_t{-7}), Value(2.5), Value("héllo"), Value("")})
    CHECK(decode_value(encode_value(v)) == v);
  CHECK_FALSE(decode_value(""));
  CHECK_FALSE(decode_value(std::string("\1\0\0", 3)));
  CHECK_FALSE(decode_value("\x09zz"));
}
