// Stream-static join (join_table) through TestStream: inner and left joins,
// tombstones, when the table is (re)loaded (first batch, restore, every N
// batches), lookup by the current key, the build rules, and TableBuilder's
// compaction rules that the Kafka loader shares.
#include "engine_test_util.h"

#include <streamsim/engine/table.h>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

namespace {

// The row's value becomes "<value>@<table value>".
Row tag(const Row& r, const Value& t) {
  Row out = r;
  out.value = Value(r.value.to_string() + "@" + t.to_string());
  return out;
}

Pipeline joined(JoinKind kind, uint64_t refresh = 0) {
  auto b = source("clicks").join_table("users", tag, kind);
  if (refresh) b.refresh_tables_every(refresh);
  return built(b.build());
}

InputRecord table_record(std::optional<std::string> key, std::optional<std::string> value, int64_t offset) {
  InputRecord r;
  r.source = Provenance{"users", 0, offset};
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

}  // namespace

TEST_CASE("inner join: matched rows carry the table value, unmatched are dropped and counted",
          "[engine][join]") {
  TestStream ts(joined(JoinKind::inner));
  ts.set_table("users", "u1", "eu").set_table("users", "u2", "us").set_table("users", "u1", "apac");  // last wins
  ts.add("u1", 1, ms(1)).add("u3", 2, ms(2)).add("u2", 3, ms(3));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(TestStream::format(out->rows()) == Rows{"key=\"u1\" value=\"1@\"apac\"\"", "key=\"u2\" value=\"3@\"us\"\""});
  CHECK(out->dead_letters().empty());  // a miss is not a dead letter
  CHECK(ts.query().metrics().join_unmatched == 1);
  auto rows = out->rows();
  CHECK(rows[1].event_time == ms(3));  // the join keeps event time and provenance
  CHECK(to_string(*rows[1].source) == "clicks[0]@2");
}

TEST_CASE("left join: unmatched rows get a null table value", "[engine][join]") {
  TestStream ts(joined(JoinKind::left));
  ts.set_table("users", "u1", "eu");
  ts.add("u1", 1, ms(1)).add("u3", 2, ms(2));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"1@\"eu\"\"", "key=\"u3\" value=\"2@null\""});
  CHECK(ts.query().metrics().join_unmatched == 0);
}

TEST_CASE("join looks up the row's current key", "[engine][join]") {
  auto p = built(source("clicks")
                     .key_by([](const Row& r) { return r.value; })  // the value names the user
                     .join_table("users", tag)
                     .build());
  TestStream ts(p);
  ts.set_table("users", "alice", 1);
  ts.add("ignored", "alice", ms(1)).add("alice", "bob", ms(2));
  CHECK(run(ts) == Rows{"key=\"alice\" value=\"\"alice\"@1\""});
}

TEST_CASE("the table is loaded before the first batch and reloaded only after a restore",
          "[engine][join][restore]") {
  TestStream ts(joined(JoinKind::inner));
  ts.set_table("users", "u1", "eu").set_table("users", "u2", "us");
  ts.add("u1", 1, ms(1));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"1@\"eu\"\""});
  CHECK(ts.tables().loads("users") == 1);

  // Changes after the load are invisible: a static table is not re-read per batch.
  ts.set_table("users", "u1", "apac").delete_from_table("users", "u2").set_table("users", "u3", "sa");
  ts.add("u1", 2, ms(2)).add("u2", 3, ms(3)).add("u3", 4, ms(4));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"2@\"eu\"\"", "key=\"u2\" value=\"3@\"us\"\""});
  CHECK(ts.query().metrics().join_unmatched == 1);

  // A restore (a crash and recovery) reloads it: the tombstone deleted u2.
  REQUIRE(ts.restore(ts.changelog()));
  ts.add("u1", 5, ms(5)).add("u2", 6, ms(6)).add("u3", 7, ms(7));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"5@\"apac\"\"", "key=\"u3\" value=\"7@\"sa\"\""});
  CHECK(ts.tables().loads("users") == 2);
  CHECK(ts.tables().size("users") == 2);
  CHECK(ts.table_load_stats().at("users").tombstones == 1);
  // Past results are not re-emitted: history holds what each batch saw.
  CHECK(TestStream::format(ts.history()[1].rows()) == Rows{"key=\"u1\" value=\"2@\"eu\"\"", "key=\"u2\" value=\"3@\"us\"\""});
}

TEST_CASE("refresh_tables_every reloads the table every N batches", "[engine][join]") {
  TestStream ts(joined(JoinKind::inner, /*refresh=*/2));
  ts.set_table("users", "u1", "a");
  ts.add("u1", 1, ms(1));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"1@\"a\"\""});  // batch 1: loaded first
  ts.set_table("users", "u1", "b");
  ts.add("u1", 2, ms(2));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"2@\"a\"\""});  // batch 2: one batch since the load
  ts.add("u1", 3, ms(3));
  CHECK(run(ts) == Rows{"key=\"u1\" value=\"3@\"b\"\""});  // batch 3: two batches ran, reloaded
  CHECK(ts.tables().loads("users") == 2);
}

TEST_CASE("a joined, windowed count by a table attribute", "[engine][join]") {
  auto p = built(source("clicks")
                     .with_watermark(Duration::millis(0))
                     .join_table("users",
                                 [](const Row& r, const Value& region) {
                                   Row out = r;
                                   out.key = region.is_null() ? Value("unknown") : region;
                                   return out;
                                 },
                                 JoinKind::left)
                     .window(WindowSpec::tumbling(Duration::millis(10)))
                     .aggregate(Aggregate::count())
                     .build());
  TestStream ts(p);
  ts.set_table("users", "u1", "eu").set_table("users", "u2", "eu").set_table("users", "u3", "us");
  ts.add("u1", 1, ms(1)).add("u2", 1, ms(2)).add("u3", 1, ms(3)).add("u4", 1, ms(4)).add("u1", 1, ms(12));
  // The watermark reaches 12 in this batch: [0, 10) closes.
  CHECK(run(ts) == Rows{"key=\"eu\" window=[0ms,10ms) value=2", "key=\"unknown\" window=[0ms,10ms) value=1",
                        "key=\"us\" window=[0ms,10ms) value=1"});
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"eu\" window=[10ms,20ms) value=1"});
}

TEST_CASE("join_table build rules name the setting", "[engine][join][pipeline]") {
  auto field = [](const Result<Pipeline, EngineError>& r) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == EngineErrc::invalid_pipeline);
    return r.error().field;
  };
  CHECK(field(source("clicks").join_table("", tag).build()) == "join_table");
  CHECK(field(source("clicks").join_table("clicks", tag).build()) == "join_table");
  CHECK(field(source("clicks").join_table("out", tag).sink("out").build()) == "join_table");
  CHECK(field(source("clicks").join_table("users", JoinFn()).build()) == "join_table");
  CHECK(field(source("clicks").with_watermark(Duration::millis(1)).window(WindowSpec::tumbling(Duration::millis(5)))
                  .aggregate(Aggregate::count()).join_table("users", tag).build()) == "join_table");
  CHECK(field(source("clicks").refresh_tables_every(3).build()) == "refresh_tables_every");
  CHECK(field(source("clicks").join_table("users", tag).refresh_tables_every(0).build()) == "refresh_tables_every");
  auto ok = source("clicks").join_table("users", tag, JoinKind::left).join_table("users", tag).sink("out").build();
  REQUIRE(ok);
  CHECK(ok->plan().tables.size() == 1);  // one table per topic
  CHECK(ok->describe() == "source(clicks) -> join_table(left users) -> join_table(inner users) -> append(out)");
}

TEST_CASE("a query whose tables are not loaded refuses its batch", "[engine][join]") {
  auto q = Query::create(joined(JoinKind::inner), {0}, Instant::epoch());
  MicroBatch b;
  auto out = q.run_batch(b);
  REQUIRE_FALSE(out);
  CHECK(out.error().code == EngineErrc::invalid_config);
  CHECK(out.error().field == "tables");
  CHECK_THAT(out.error().message, Catch::Contains("'users'"));
}

TEST_CASE("TableBuilder: last record per key wins, tombstones delete, bad records are skipped", "[engine][join][table]") {
  TableBuilder b(decoders::typed());
  b.apply(table_record(encode_value("u1"), encode_value("eu"), 0));
  b.apply(table_record(encode_value("u2"), encode_value("us"), 1));
  b.apply(table_record(encode_value("u1"), encode_value("apac"), 2));
  b.apply(table_record(encode_value("u2"), std::nullopt, 3));              // tombstone
  b.apply(table_record(std::nullopt, encode_value("x"), 4));               // no key: cannot be compacted
  b.apply(table_record(encode_value("u3"), std::string("\x09junk"), 5));   // does not decode
  b.apply(table_record(encode_value("u4"), encode_value(Value()), 6));     // decodes to null: deletes
  b.apply(table_record(encode_value("u2"), encode_value(Value(int64_t{7})), 7));  // back after its tombstone
  TableLoadStats st;
  auto rows = b.finish(&st);
  CHECK(rows == std::map<Value, Value>{{Value("u1"), Value("apac")}, {Value("u2"), Value(int64_t{7})}});
  CHECK(st.records == 8);
  CHECK(st.tombstones == 2);
  CHECK(st.undecodable == 2);
  // The builder is empty again.
  CHECK(b.finish().empty());
}

TEST_CASE("TableBuilder: keys decoded from the payload, later record wins", "[engine][join][table]") {
  // A JSON table keyed by a member: two Kafka keys map to one table key; the
  // one applied last wins, whatever the raw keys' order.
  TableBuilder b(decoders::json("id", "region"));
  b.apply(table_record(std::string("z"), std::string(R"({"id": "u1", "region": "eu"})"), 0));
  b.apply(table_record(std::string("a"), std::string(R"({"id": "u1", "region": "us"})"), 1));
  auto rows = b.finish();
  CHECK(rows == std::map<Value, Value>{{Value("u1"), Value("us")}});
}
