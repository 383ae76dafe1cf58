// Payload decoders (decoders::protobuf, decoders::json) and the event time
// read from a payload field (event_times::from_payload), through TestStream:
// valid records become rows, bad ones dead letters with a reason, or, with
// the fail policy, a bad_record error naming topic, partition and offset.
#include "engine_test_util.h"

#include <streamsim/proto/events.pb.h>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;
using streamsim::proto::events::ClickEvent;

namespace {

InputRecord value_record(std::optional<std::string> value, int64_t timestamp_ms = -1,
                         std::optional<std::string> key = std::nullopt) {
  InputRecord r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.timestamp_ms = timestamp_ms;
  return r;
}

std::string click(const std::string& user, std::optional<int64_t> t, std::optional<int64_t> amount) {
  ClickEvent e;
  e.set_user(user);
  if (t) e.set_event_time_ms(*t);
  if (amount) e.set_amount(*amount);
  return e.SerializeAsString();
}

// A per-user sum of amounts in 10 ms tumbling windows, event time from the payload.
Pipeline sum_pipeline(CheckedDecoder d, DeadLetterPolicy policy = DeadLetterPolicy::route) {
  return built(source("clicks")
                   .decoder(std::move(d))
                   .event_time(event_times::from_payload())
                   .with_watermark(Duration::millis(0))
                   .window(WindowSpec::tumbling(Duration::millis(10)))
                   .aggregate(Aggregate::sum())
                   .dead_letters(policy)
                   .build());
}

}  // namespace

// --- protobuf ------------------------------------------------------------------

TEST_CASE("protobuf decoder: fields become key, value and event time", "[engine][decoders][protobuf]") {
  auto p = sum_pipeline(decoders::protobuf<ClickEvent>("user", "amount", "event_time_ms"));
  TestStream ts(p);
  // The record timestamps are deliberately wrong: the payload's event time rules.
  ts.add_raw(value_record(click("u1", 3, 5), 999));
  ts.add_raw(value_record(click("u1", 7, 10), 999));
  ts.add_raw(value_record(click("u2", 12, 1), 999));
  ts.add_raw(value_record(click("u1", 15, -4), 999));
  // The payload times reach 15, so this batch's watermark closes [0, 10).
  CHECK(run(ts) == Rows{"key=\"u1\" window=[0ms,10ms) value=15"});
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"u1\" window=[10ms,20ms) value=-4", "key=\"u2\" window=[10ms,20ms) value=1"});
  CHECK(ts.query().metrics().dead_letters == 0);
}

TEST_CASE("protobuf decoder: missing fields and garbage are dead letters with a reason",
          "[engine][decoders][protobuf][dead-letter]") {
  auto p = sum_pipeline(decoders::protobuf<ClickEvent>("user", "amount", "event_time_ms"));
  TestStream ts(p);
  ts.add_raw(value_record(click("u1", 3, std::nullopt)));               // @0: no amount
  ts.add_raw(value_record(click("u1", std::nullopt, 4)));               // @1: no event time
  ts.add_raw(value_record(std::string("\xff\xff\xff\xff", 4)));         // @2: not a message
  ts.add_raw(value_record(std::nullopt));                               // @3: null value
  ts.add_raw(value_record(click("u1", 4, 6)));                          // @4: fine
  auto out = ts.run_batch();
  REQUIRE(out);
  auto dead = out->dead_letters();
  REQUIRE(dead.size() == 4);
  CHECK(to_string(dead[0].source) == "clicks[0]@0");
  CHECK(dead[0].reason == "cannot decode: field 'amount' is missing");
  CHECK(dead[1].reason == "cannot decode: event-time field 'event_time_ms' is missing");
  CHECK_THAT(dead[2].reason, Catch::StartsWith("cannot decode: value is not a valid streamsim.proto.events.ClickEvent"));
  CHECK(dead[2].value == std::string("\xff\xff\xff\xff", 4));  // raw bytes kept for the dead-letter topic
  CHECK_THAT(dead[3].reason, Catch::Contains("value is null"));
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"u1\" window=[0ms,10ms) value=6"});
}

TEST_CASE("protobuf decoder with the fail policy: the batch fails naming the record",
          "[engine][decoders][protobuf][dead-letter]") {
  auto p = sum_pipeline(decoders::protobuf<ClickEvent>("user", "amount", "event_time_ms"), DeadLetterPolicy::fail);
  TestStream ts(p);
  ts.add_raw(value_record(click("u1", 1, 1)));
  REQUIRE(ts.run_batch());
  ts.add_raw(value_record(click("u1", 2, 1)));
  ts.add_raw(value_record(std::string("\x0a\x05u1", 3)));  // field 1 claims 5 bytes, has 2: truncated
  auto out = ts.run_batch();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == EngineErrc::bad_record);
  CHECK(out.error().field == "clicks[0]@2");
  CHECK_THAT(out.error().format(), Catch::StartsWith("clicks[0]@2: cannot decode: value is not a valid"));
}

TEST_CASE("protobuf decoder: a Timestamp event time, and the record key when no key field",
          "[engine][decoders][protobuf]") {
  auto p = built(source("clicks")
                     .decoder(decoders::protobuf<ClickEvent>("", "amount", "occurred_at"))
                     .event_time(event_times::from_payload())
                     .build());
  TestStream ts(p);
  ClickEvent e;
  e.set_amount(7);
  e.mutable_occurred_at()->set_seconds(2);
  e.mutable_occurred_at()->set_nanos(345'678'000);
  ts.add_raw(value_record(e.SerializeAsString(), -1, std::string("k1")));
  ClickEvent before_epoch;
  before_epoch.set_amount(1);
  before_epoch.mutable_occurred_at()->set_seconds(-1);
  before_epoch.mutable_occurred_at()->set_nanos(999'999'999);  // -1 ns: millisecond -1
  ts.add_raw(value_record(before_epoch.SerializeAsString()));
  ClickEvent no_time;
  no_time.set_amount(1);
  ts.add_raw(value_record(no_time.SerializeAsString()));
  auto out = ts.run_batch();
  REQUIRE(out);
  auto rows = out->rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].key == Value("k1"));
  CHECK(rows[0].value == Value(int64_t{7}));
  CHECK(rows[0].event_time == ms(2'345));
  CHECK(rows[1].key.is_null());
  CHECK(rows[1].event_time == ms(-1));
  REQUIRE(out->dead_letters().size() == 1);
  CHECK_THAT(out->dead_letters()[0].reason, Catch::Contains("'occurred_at' is missing"));
}

TEST_CASE("protobuf decoder: settings the message cannot satisfy fail the build, naming the setting",
          "[engine][decoders][protobuf]") {
  auto field_of = [](CheckedDecoder d) {
    auto r = source("clicks").decoder(std::move(d)).build();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == EngineErrc::invalid_pipeline);
    return r.error().field;
  };
  CHECK(field_of(decoders::protobuf<ClickEvent>("usr", "amount")) == "decoder.key_field");
  CHECK(field_of(decoders::protobuf<ClickEvent>("user", "tags")) == "decoder.value_field");          // repeated
  CHECK(field_of(decoders::protobuf<ClickEvent>("user", "occurred_at")) == "decoder.value_field");   // message
  CHECK(field_of(decoders::protobuf<ClickEvent>("user", "amount", "user")) == "decoder.event_time_field");
  CHECK(field_of(decoders::protobuf(nullptr, "a", "b")) == "decoder");
  CHECK(source("clicks").decoder(decoders::protobuf<ClickEvent>("user", "amount", "event_time_ms")).build());
}

TEST_CASE("protobuf decoder: a message type built at run time decodes through a dynamic message",
          "[engine][decoders][protobuf]") {
  // A schema that is not compiled in (as from a schema registry), with a
  // proto3 field without presence (reads as its default when absent) and a
  // uint64 (refused above INT64_MAX).
  google::protobuf::FileDescriptorProto file;
  file.set_name("runtime_event.proto");
  file.set_package("rt");
  file.set_syntax("proto3");
  auto* msg = file.add_message_type();
  msg->set_name("Event");
  auto add = [&](const char* name, int number, google::protobuf::FieldDescriptorProto::Type type) {
    auto* f = msg->add_field();
    f->set_name(name);
    f->set_number(number);
    f->set_type(type);
    f->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  };
  add("id", 1, google::protobuf::FieldDescriptorProto::TYPE_STRING);
  add("count", 2, google::protobuf::FieldDescriptorProto::TYPE_UINT64);
  add("ratio", 3, google::protobuf::FieldDescriptorProto::TYPE_DOUBLE);
  google::protobuf::DescriptorPool pool;
  const auto* fd = pool.BuildFile(file);
  REQUIRE(fd != nullptr);
  const auto* desc = fd->FindMessageTypeByName("Event");
  REQUIRE(desc != nullptr);

  google::protobuf::DynamicMessageFactory factory;
  auto make = [&](const std::string& id, uint64_t count) {
    std::unique_ptr<google::protobuf::Message> m(factory.GetPrototype(desc)->New());
    const auto* refl = m->GetReflection();
    refl->SetString(m.get(), desc->FindFieldByName("id"), id);
    refl->SetUInt64(m.get(), desc->FindFieldByName("count"), count);
    refl->SetDouble(m.get(), desc->FindFieldByName("ratio"), 0.5);
    return m->SerializeAsString();
  };
  {
    auto p = built(source("events").decoder(decoders::protobuf(desc, "id", "count")).build());
    TestStream ts(p);
    ts.add_raw(value_record(make("a", 41), 5));
    ts.add_raw(value_record(make("b", uint64_t{1} << 63), 6));
    ts.add_raw(value_record(std::string(), 7));  // empty message: proto3 defaults ("" and 0)
    auto out = ts.run_batch();
    REQUIRE(out);
    CHECK(TestStream::format(out->rows()) == Rows{"key=\"a\" value=41", "key=\"\" value=0"});
    REQUIRE(out->dead_letters().size() == 1);
    CHECK_THAT(out->dead_letters()[0].reason, Catch::Contains("does not fit in an int64"));
  }
  {
    auto p = built(source("events").decoder(decoders::protobuf(desc, "id", "ratio")).build());
    TestStream ts(p);
    ts.add_raw(value_record(make("a", 1), 5));
    CHECK(run(ts) == Rows{"key=\"a\" value=0.5"});
  }
}

// --- JSON -------------------------------------------------------------------------

TEST_CASE("json decoder: members become key, value and event time", "[engine][decoders][json]") {
  auto p = built(source("clicks")
                     .decoder(decoders::json("user", "amount", "ts"))
                     .event_time(event_times::from_payload())
                     .build());
  TestStream ts(p);
  ts.add_raw(value_record(std::string(R"({"user": "u1", "amount": 3, "ts": 1000, "extra": [1, 2]})")));
  ts.add_raw(value_record(std::string(R"({"user": "u2", "amount": 2.5, "ts": "1970-01-01T00:00:02.250Z"})")));
  ts.add_raw(value_record(std::string(R"({"user": 7, "amount": true, "ts": 3000.0})")));
  ts.add_raw(value_record(std::string(R"({"user": "u4", "amount": null, "ts": -5})")));
  ts.add_raw(value_record(std::string(R"({"user": "u5", "amount": "text", "ts": 1})")));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->dead_letters().empty());
  auto rows = out->rows();
  CHECK(TestStream::format(rows) == Rows{"key=\"u1\" value=3", "key=\"u2\" value=2.5", "key=7 value=1",
                                         "key=\"u4\" value=null", "key=\"u5\" value=\"text\""});
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].value.is_int());     // an integral JSON number is an int64
  CHECK(rows[1].value.is_double());  // a fractional one a double
  CHECK(rows[0].event_time == ms(1'000));
  CHECK(rows[1].event_time == ms(2'250));
  CHECK(rows[2].event_time == ms(3'000));
  CHECK(rows[3].event_time == ms(-5));
}

TEST_CASE("json decoder: bad JSON, missing members and non-scalars are dead letters",
          "[engine][decoders][json][dead-letter]") {
  auto p = built(source("clicks")
                     .decoder(decoders::json("user", "amount", "ts"))
                     .event_time(event_times::from_payload())
                     .build());
  TestStream ts(p);
  ts.add_raw(value_record(std::string(R"({"user": "u1", "amount": 3, "ts": 1)")));       // @0 truncated
  ts.add_raw(value_record(std::string(R"([1, 2, 3])")));                                  // @1 not an object
  ts.add_raw(value_record(std::string(R"({"user": "u1", "ts": 1})")));                    // @2 no amount
  ts.add_raw(value_record(std::string(R"({"user": {"id": 1}, "amount": 1, "ts": 1})")));  // @3 object key
  ts.add_raw(value_record(std::string(R"({"user": "u1", "amount": 1, "ts": 1.5})")));    // @4 fractional time
  ts.add_raw(value_record(std::string(R"({"user": "u1", "amount": 1, "ts": "yesterday"})")));  // @5
  ts.add_raw(value_record(std::nullopt));                                                 // @6 null
  ts.add_raw(value_record(std::string("\x00\x01garbage", 9)));                            // @7 binary
  ts.add_raw(value_record(std::string(R"({"user": "ok", "amount": 1, "ts": 1})")));      // @8 fine
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(TestStream::format(out->rows()) == Rows{"key=\"ok\" value=1"});
  auto dead = out->dead_letters();
  REQUIRE(dead.size() == 8);
  for (const auto& d : dead) CHECK_THAT(d.reason, Catch::StartsWith("cannot decode: "));
  CHECK_THAT(dead[0].reason, Catch::Contains("not a JSON object"));
  CHECK_THAT(dead[1].reason, Catch::Contains("not a JSON object"));
  CHECK(dead[2].reason == "cannot decode: member 'amount' is missing");
  CHECK(dead[3].reason == "cannot decode: member 'user' is an object, expected a scalar");
  CHECK_THAT(dead[4].reason, Catch::Contains("not an integral number of milliseconds"));
  CHECK_THAT(dead[5].reason, Catch::Contains("not an RFC 3339 time"));
  CHECK_THAT(dead[6].reason, Catch::Contains("value is null"));
  CHECK(to_string(dead[7].source) == "clicks[0]@7");
  CHECK(ts.query().metrics().dead_letters == 8);
}

TEST_CASE("json decoder with the fail policy: the batch fails naming the record", "[engine][decoders][json]") {
  auto p = built(source("clicks").decoder(decoders::json("", "n")).dead_letters(DeadLetterPolicy::fail).build());
  TestStream ts(p);
  ts.add_raw(value_record(std::string(R"({"n": 1})"), 1, std::string("k")));
  ts.add_raw(value_record(std::string(R"({"m": 1})"), 2, std::string("k")));
  auto out = ts.run_batch();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == EngineErrc::bad_record);
  CHECK(out.error().format() == "clicks[0]@1: cannot decode: member 'n' is missing");
}

TEST_CASE("from_payload: a decoder that reads no event time leaves the record without one",
          "[engine][decoders][event-time]") {
  // typed() reads no payload event time: every record is a dead letter, even
  // with a record timestamp, because the pipeline asked for the payload's.
  auto p = built(source("clicks").event_time(event_times::from_payload()).build());
  TestStream ts(p);
  ts.add("k", 1, ms(5));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->rows().empty());
  REQUIRE(out->dead_letters().size() == 1);
  CHECK(out->dead_letters()[0].reason == "no event time");
  // And a payload time out of range is refused like any other.
  auto q = built(source("clicks").decoder(decoders::json("", "", "t")).event_time(event_times::from_payload()).build());
  TestStream tq(q);
  tq.add_raw(value_record(std::string(R"({"t": 4611686018427387904})")));  // 2^62
  auto o2 = tq.run_batch();
  REQUIRE(o2);
  REQUIRE(o2->dead_letters().size() == 1);
  CHECK_THAT(o2->dead_letters()[0].reason, Catch::Contains("out of range"));
}
