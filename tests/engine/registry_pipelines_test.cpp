// The built-in pipelines windowed-aggregate and enriched-clicks: what their
// parameters build (checked by running the pipelines through TestStream), and
// that invalid values and combinations are errors naming params.<x>.
#include "engine_test_util.h"

#include <streamsim/engine/registry.h>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

namespace {

using ParamList = std::vector<std::pair<std::string, std::string>>;

const PipelineRegistry& registry() {
  static const PipelineRegistry reg = [] {
    PipelineRegistry r;
    register_builtin_pipelines(r);
    return r;
  }();
  return reg;
}

Pipeline make(const std::string& name, const ParamList& params) { return built(registry().build(name, params)); }

// The field of a build that must fail.
std::string refused_field(const std::string& name, const ParamList& params) {
  auto r = registry().build(name, params);
  if (r) FAIL("expected an error for " << name << ", got " << r->describe());
  INFO(r.error().format());
  CHECK_THAT(r.error().message, Catch::StartsWith("pipeline '" + name + "': "));
  return r.error().field;
}

InputRecord json_record(const std::string& text) {
  InputRecord r;
  r.value = text;
  return r;
}

}  // namespace

TEST_CASE("registry: the built-in pipelines", "[engine][registry]") {
  CHECK(registry().names() == std::vector<std::string>{"click-counts", "enriched-clicks", "windowed-aggregate"});
  // click-counts is unchanged.
  auto cc = make("click-counts", {});
  CHECK(cc.describe() ==
        "source(clicks) -> with_watermark(5000ms) -> window(tumbling 60000ms) -> count -> append(click-counts)");
}

TEST_CASE("windowed-aggregate: window kinds and aggregates build what they say", "[engine][registry]") {
  CHECK(make("windowed-aggregate", {}).describe() ==
        "source(events) -> with_watermark(5000ms) -> window(tumbling 60000ms) -> count -> append(aggregates)");
  CHECK(make("windowed-aggregate", {{"window", "sliding"}, {"size", "10s"}, {"slide", "5s"}, {"aggregate", "max"}})
            .describe() ==
        "source(events) -> with_watermark(5000ms) -> window(sliding 10000ms every 5000ms) -> max -> append(aggregates)");
  auto s = make("windowed-aggregate", {{"window", "session"}, {"gap", "3s"}, {"aggregate", "avg"},
                                       {"output_mode", "complete"}, {"idle_timeout", "0ms"}});
  CHECK(s.plan().window_kind == WindowSpec::Kind::session);
  CHECK(s.plan().session_gap_ms == 3'000);
  CHECK(s.plan().aggregate->kind == Aggregate::Kind::avg);
  CHECK_FALSE(s.plan().idle_timeout.has_value());  // 0ms: never idle
  auto d = make("windowed-aggregate", {{"dedup", "on"}, {"allowed_lateness", "2s"}, {"late_events", "route"}});
  CHECK(d.plan().has_dedup);
  CHECK(d.plan().allowed_lateness_ms == 2'000);
  CHECK(d.plan().late_policy == LatePolicy::route);
}

TEST_CASE("windowed-aggregate: a json sum per key, event time from the payload", "[engine][registry]") {
  auto p = make("windowed-aggregate", {{"decoder", "json"},
                                       {"key_field", "user"},
                                       {"value_field", "amount"},
                                       {"event_time_field", "ts"},
                                       {"aggregate", "sum"},
                                       {"size", "10ms"},
                                       {"watermark_delay", "0ms"}});
  TestStream ts(p);
  ts.add_raw(json_record(R"({"user": "a", "amount": 2, "ts": 1})"));
  ts.add_raw(json_record(R"({"user": "a", "amount": 3, "ts": 9})"));
  ts.add_raw(json_record(R"({"user": "b", "amount": 1.5, "ts": 4})"));
  ts.add_raw(json_record(R"({"user": "a", "ts": 4})"));  // no amount: a dead letter
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->dead_letters().size() == 1);
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"a\" window=[0ms,10ms) value=5", "key=\"b\" window=[0ms,10ms) value=1.5"});
}

TEST_CASE("windowed-aggregate: dedup drops a repeated key and value within the delay", "[engine][registry]") {
  auto p = make("windowed-aggregate", {{"dedup", "on"}, {"size", "10ms"}, {"watermark_delay", "5ms"}});
  TestStream ts(p);
  // Event ids as values: id 1 of key k arrives twice, id 1 of key j is another event.
  ts.add("k", 1, ms(1)).add("k", 2, ms(2)).add("k", 1, ms(3)).add("j", 1, ms(3));
  REQUIRE(ts.run_batch());
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"j\" window=[0ms,10ms) value=1", "key=\"k\" window=[0ms,10ms) value=2"});
  CHECK(ts.query().metrics().duplicates_dropped == 1);
}

TEST_CASE("windowed-aggregate: invalid values and combinations name the parameter", "[engine][registry]") {
  const std::string wa = "windowed-aggregate";
  CHECK(refused_field(wa, {{"window", "session"}, {"gap", "5s"}, {"output_mode", "update"}}) == "params.output_mode");
  CHECK(refused_field(wa, {{"window", "tumbling"}, {"slide", "5s"}}) == "params.slide");
  CHECK(refused_field(wa, {{"window", "sliding"}, {"size", "10s"}}) == "params.slide");
  CHECK(refused_field(wa, {{"window", "sliding"}, {"size", "10s"}, {"slide", "20s"}}) == "params.slide");
  CHECK(refused_field(wa, {{"window", "session"}}) == "params.gap");
  CHECK(refused_field(wa, {{"window", "sliding"}, {"size", "10s"}, {"slide", "1s"}, {"gap", "1s"}}) == "params.gap");
  CHECK(refused_field(wa, {{"size", "0ms"}}) == "params.size");
  CHECK(refused_field(wa, {{"aggregate", "sum"}, {"decoder", "json"}}) == "params.value_field");
  CHECK(refused_field(wa, {{"value_field", "amount"}}) == "params.value_field");  // typed reads no fields
  CHECK(refused_field(wa, {{"decoder", "int64-text"}, {"event_time_field", "ts"}}) == "params.event_time_field");
  CHECK(refused_field(wa, {{"output_mode", "complete"}, {"allowed_lateness", "1s"}}) == "params.allowed_lateness");
  CHECK(refused_field(wa, {{"watermark_delay", "1500us"}}) == "params.watermark_delay");
  CHECK(refused_field(wa, {{"size", "1500us"}}) == "params.window");  // the builder's window rule
  auto unknown = registry().build(wa, {{"aggregate", "median"}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().field == "params.aggregate");
  CHECK(unknown.error().code == EngineErrc::invalid_parameter);
}

TEST_CASE("enriched-clicks: counts per table attribute, left join counts unknown users", "[engine][registry][join]") {
  auto p = make("enriched-clicks", {{"window", "10ms"}, {"watermark_delay", "0ms"}, {"join", "left"},
                                    {"missing_attribute", "nowhere"}, {"users", "people"}});
  CHECK(p.plan().tables.size() == 1);
  CHECK(p.plan().tables[0].topic == "people");
  TestStream ts(p);
  ts.set_table("people", "u1", "eu").set_table("people", "u2", "us");
  ts.add("u1", 1, ms(1)).add("u2", 1, ms(2)).add("u1", 1, ms(3)).add("u9", 1, ms(4));
  REQUIRE(ts.run_batch());
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"eu\" window=[0ms,10ms) value=2", "key=\"nowhere\" window=[0ms,10ms) value=1",
                        "key=\"us\" window=[0ms,10ms) value=1"});
}

TEST_CASE("enriched-clicks: an inner json sum, refreshing the table", "[engine][registry][join]") {
  auto p = make("enriched-clicks", {{"window", "10ms"},
                                    {"watermark_delay", "0ms"},
                                    {"decoder", "json"},
                                    {"key_field", "user"},
                                    {"value_field", "amount"},
                                    {"aggregate", "sum"},
                                    {"table_refresh_batches", "1"}});
  CHECK(p.plan().table_refresh_batches == 1);
  TestStream ts(p);
  ts.set_table("users", "u1", "eu");
  ts.add_raw(json_record(R"({"user": "u1", "amount": 4})"));  // no record timestamp: a dead letter
  InputRecord r = json_record(R"({"user": "u1", "amount": 5})");
  r.timestamp_ms = 1;
  ts.add_raw(r);
  r = json_record(R"({"user": "u2", "amount": 7})");  // unknown: dropped
  r.timestamp_ms = 2;
  ts.add_raw(r);
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->dead_letters().size() == 1);
  CHECK(ts.query().metrics().join_unmatched == 1);
  ts.set_table("users", "u2", "us");  // reloaded before the next batch (refresh every batch)
  r.timestamp_ms = 3;
  ts.add_raw(r);
  REQUIRE(ts.run_batch());
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"eu\" window=[0ms,10ms) value=5", "key=\"us\" window=[0ms,10ms) value=7"});
}

TEST_CASE("enriched-clicks: invalid settings name the parameter", "[engine][registry][join]") {
  const std::string ec = "enriched-clicks";
  CHECK(refused_field(ec, {{"users", "clicks"}}) == "params.users");
  CHECK(refused_field(ec, {{"users", "out"}, {"sink", "out"}}) == "params.users");
  CHECK(refused_field(ec, {{"aggregate", "sum"}, {"decoder", "json"}}) == "params.value_field");
  CHECK(refused_field(ec, {{"window", "0ms"}}) == "params.window");
  CHECK(refused_field(ec, {{"output_mode", "complete"}, {"late_events", "route"}}) == "params.late_events");
  auto bad = registry().build(ec, {{"table_refresh_batches", "-1"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().field == "params.table_refresh_batches");
  auto unknown = registry().build(ec, {{"attribute", "region"}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == EngineErrc::unknown_parameter);
  CHECK(unknown.error().field == "params.attribute");
  auto decoder = registry().build(ec, {{"decoder", "int64-text"}});  // not offered here
  REQUIRE_FALSE(decoder);
  CHECK(decoder.error().field == "params.decoder");
}
