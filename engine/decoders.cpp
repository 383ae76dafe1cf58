// Payload decoders built on Protocol Buffers: binary messages through
// reflection (decoders::protobuf) and JSON objects through protobuf's JSON
// support into google.protobuf.Struct (decoders::json). The field mapping is
// documented in pipeline.h and docs/semantics.md, "Decoders".
//
// Both decoders are pure functions of the record's bytes: no clock, no
// randomness, no I/O, so a restore that re-decodes a record gets the same row.
#include <streamsim/core/assert.h>
#include <streamsim/engine/pipeline.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <limits>
#include <memory>
#include <tuple>

namespace streamsim::engine::decoders {

namespace {

namespace pb = google::protobuf;

constexpr const char* kTimestampType = "google.protobuf.Timestamp";
// Error texts quote at most this much of a record, so a huge garbage value
// cannot make a huge dead-letter reason.
constexpr size_t kQuoteBytes = 64;

std::string quote(const std::string& s) {
  return s.size() <= kQuoteBytes ? s : s.substr(0, kQuoteBytes) + "...";
}

// Seconds and nanoseconds since the epoch as event-time milliseconds, or an
// error when outside the engine's event-time range (time.h). Nanoseconds
// round towards minus infinity so that -1ns is in millisecond -1.
Result<EventTime, std::string> timestamp_ms(int64_t seconds, int64_t nanos) {
  const int64_t max_seconds = kMaxEventTimeMs / 1000;
  if (seconds > max_seconds || seconds < -max_seconds || nanos <= -1'000'000'000 || nanos >= 1'000'000'000)
    return unexpected("timestamp " + std::to_string(seconds) + "s " + std::to_string(nanos) +
                      "ns is out of the event-time range");
  const int64_t ms = seconds * 1000 + (nanos >= 0 ? nanos / 1'000'000 : -((-nanos + 999'999) / 1'000'000));
  return EventTime::from_ms(ms);
}

// --- protobuf ----------------------------------------------------------------

// Why a field cannot be mapped to a row's key or value (nullopt: it can).
std::optional<std::string> unusable_scalar(const pb::FieldDescriptor* f) {
  if (f->is_map()) return "is a map field";
  if (f->is_repeated()) return "is a repeated field";
  if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) return "is a message field (" + f->message_type()->full_name() + ")";
  return std::nullopt;
}

bool is_integral(const pb::FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64: return true;
    default: return false;
  }
}

// A field is missing only if it can say so: a field with presence that is
// not set. Proto3 fields without presence read as their default.
bool missing(const pb::Message& m, const pb::FieldDescriptor* f) {
  return f->has_presence() && !m.GetReflection()->HasField(m, f);
}

// One scalar field as a Value. Precondition: unusable_scalar(f) is nullopt.
Result<Value, std::string> scalar(const pb::Message& m, const pb::FieldDescriptor* f) {
  SS_ASSERT(!unusable_scalar(f), "only scalar fields are read as values (checked when the decoder was made)");
  if (missing(m, f)) return unexpected("field '" + f->name() + "' is missing");
  const pb::Reflection* r = m.GetReflection();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: return Value(int64_t{r->GetInt32(m, f)});
    case pb::FieldDescriptor::CPPTYPE_INT64: return Value(r->GetInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT32: return Value(int64_t{r->GetUInt32(m, f)});
    case pb::FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t v = r->GetUInt64(m, f);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return unexpected("field '" + f->name() + "' = " + std::to_string(v) + " does not fit in an int64");
      return Value(static_cast<int64_t>(v));
    }
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: return Value(r->GetDouble(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return Value(static_cast<double>(r->GetFloat(m, f)));
    case pb::FieldDescriptor::CPPTYPE_BOOL: return Value(int64_t{r->GetBool(m, f) ? 1 : 0});
    case pb::FieldDescriptor::CPPTYPE_ENUM: return Value(int64_t{r->GetEnumValue(m, f)});
    case pb::FieldDescriptor::CPPTYPE_STRING: return Value(r->GetString(m, f));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: break;
  }
  return unexpected("field '" + f->name() + "' has an unsupported type");
}

// The event-time field: integral milliseconds or a google.protobuf.Timestamp.
Result<EventTime, std::string> event_time_of(const pb::Message& m, const pb::FieldDescriptor* f) {
  if (missing(m, f)) return unexpected("event-time field '" + f->name() + "' is missing");
  if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    auto v = scalar(m, f);
    if (!v) return unexpected(v.error());
    SS_ASSERT(v->is_int(), "an integral field reads as an int64 (checked when the decoder was made)");
    return EventTime::from_ms(v->as_int());
  }
  // Read through reflection, not by casting to Timestamp: a dynamic message
  // of the same type is not the generated class.
  const pb::Message& ts = m.GetReflection()->GetMessage(m, f);
  const pb::Descriptor* d = ts.GetDescriptor();
  const pb::FieldDescriptor* sec = d->FindFieldByName("seconds");
  const pb::FieldDescriptor* nan = d->FindFieldByName("nanos");
  SS_ASSERT(sec && nan, "google.protobuf.Timestamp has seconds and nanos");
  return timestamp_ms(ts.GetReflection()->GetInt64(ts, sec), ts.GetReflection()->GetInt32(ts, nan));
}

// Looks a field up by name for one of the decoder's settings.
Result<const pb::FieldDescriptor*, EngineError> field_for(const pb::Descriptor* message, const std::string& name,
                                                          const char* setting) {
  const pb::FieldDescriptor* f = message->FindFieldByName(name);
  if (!f)
    return unexpected(EngineError{EngineErrc::invalid_pipeline, std::string("decoder.") + setting,
                                  "message " + message->full_name() + " has no field '" + name + "'"});
  return f;
}

}  // namespace

CheckedDecoder protobuf(const google::protobuf::Descriptor* message, std::string key_field, std::string value_field,
                        std::string event_time_field) {
  if (!message)
    return unexpected(EngineError{EngineErrc::invalid_pipeline, "decoder", "the message descriptor is null"});
  const pb::FieldDescriptor* key = nullptr;
  const pb::FieldDescriptor* value = nullptr;
  const pb::FieldDescriptor* event_time = nullptr;
  for (auto [name, slot, setting] : {std::tuple{&key_field, &key, "key_field"},
                                     std::tuple{&value_field, &value, "value_field"}}) {
    if (name->empty()) continue;
    auto f = field_for(message, *name, setting);
    if (!f) return unexpected(f.error());
    if (auto why = unusable_scalar(*f))
      return unexpected(EngineError{EngineErrc::invalid_pipeline, std::string("decoder.") + setting,
                                    "field '" + *name + "' " + *why + "; it must be a scalar"});
    *slot = *f;
  }
  if (!event_time_field.empty()) {
    auto f = field_for(message, event_time_field, "event_time_field");
    if (!f) return unexpected(f.error());
    const bool timestamp = (*f)->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
                           (*f)->message_type()->full_name() == kTimestampType;
    if ((*f)->is_repeated() || (!is_integral(*f) && !timestamp))
      return unexpected(EngineError{EngineErrc::invalid_pipeline, "decoder.event_time_field",
                                    "field '" + event_time_field + "' must be an integral field (milliseconds) or a " +
                                        kTimestampType});
    event_time = *f;
  }

  // Messages of a generated type come from its generated prototype; any
  // other descriptor (from a DescriptorPool built at run time) needs a
  // dynamic factory, shared by every copy of the decoder and kept alive by it.
  std::shared_ptr<pb::DynamicMessageFactory> factory;
  const pb::Message* prototype = nullptr;
  if (message->file()->pool() == pb::DescriptorPool::generated_pool())
    prototype = pb::MessageFactory::generated_factory()->GetPrototype(message);
  if (!prototype) {
    factory = std::make_shared<pb::DynamicMessageFactory>();
    prototype = factory->GetPrototype(message);
  }
  SS_ASSERT(prototype != nullptr, "a message descriptor has a prototype");

  return Decoder([factory, prototype, key, value, event_time](const InputRecord& r) -> Result<Decoded, std::string> {
    const pb::Descriptor* type = prototype->GetDescriptor();
    if (!r.value) return unexpected("value is null, expected a " + type->full_name() + " message");
    std::unique_ptr<pb::Message> m(prototype->New());
    if (!m->ParseFromString(*r.value))
      return unexpected("value is not a valid " + type->full_name() + " message (" + std::to_string(r.value->size()) +
                        " bytes)");
    Decoded d;
    if (key) {
      auto k = scalar(*m, key);
      if (!k) return unexpected(k.error());
      d.key = std::move(*k);
    } else if (r.key) {
      d.key = Value(*r.key);
    }
    if (value) {
      auto v = scalar(*m, value);
      if (!v) return unexpected(v.error());
      d.value = std::move(*v);
    }
    if (event_time) {
      auto t = event_time_of(*m, event_time);
      if (!t) return unexpected(t.error());
      d.event_time = *t;
    }
    return d;
  });
}

// --- JSON --------------------------------------------------------------------

namespace {

// Integral doubles in [-2^63, 2^63) convert to int64 exactly.
constexpr double kTwo63 = 9223372036854775808.0;

Result<Value, std::string> json_scalar(const pb::Value& v, const std::string& name) {
  switch (v.kind_case()) {
    case pb::Value::kNullValue: return Value();
    case pb::Value::kNumberValue: {
      const double d = v.number_value();
      if (std::isfinite(d) && std::trunc(d) == d && d >= -kTwo63 && d < kTwo63) return Value(static_cast<int64_t>(d));
      return Value(d);
    }
    case pb::Value::kStringValue: return Value(v.string_value());
    case pb::Value::kBoolValue: return Value(int64_t{v.bool_value() ? 1 : 0});
    case pb::Value::kStructValue: return unexpected("member '" + name + "' is an object, expected a scalar");
    case pb::Value::kListValue: return unexpected("member '" + name + "' is an array, expected a scalar");
    case pb::Value::KIND_NOT_SET: break;
  }
  return unexpected("member '" + name + "' has no value");
}

Result<const pb::Value*, std::string> member(const pb::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end()) return unexpected("member '" + name + "' is missing");
  return &it->second;
}

Result<EventTime, std::string> json_event_time(const pb::Value& v, const std::string& name) {
  if (v.kind_case() == pb::Value::kStringValue) {
    pb::Timestamp ts;
    if (!pb::util::TimeUtil::FromString(v.string_value(), &ts))
      return unexpected("event-time member '" + name + "' = \"" + quote(v.string_value()) +
                        "\" is not an RFC 3339 time");
    return timestamp_ms(ts.seconds(), ts.nanos());
  }
  auto s = json_scalar(v, name);
  if (!s) return unexpected(s.error());
  if (!s->is_int()) return unexpected("event-time member '" + name + "' = " + s->to_string() +
                                      " is not an integral number of milliseconds or an RFC 3339 string");
  return EventTime::from_ms(s->as_int());
}

}  // namespace

Decoder json(std::string key_field, std::string value_field, std::string event_time_field) {
  return [key_field, value_field, event_time_field](const InputRecord& r) -> Result<Decoded, std::string> {
    if (!r.value) return unexpected(std::string("value is null, expected a JSON object"));
    pb::Struct obj;
    // Unknown members are the point of a Struct; the parser's only job is JSON.
    const auto status = pb::util::JsonStringToMessage(*r.value, &obj, pb::util::JsonParseOptions());
    if (!status.ok())
      return unexpected("value is not a JSON object (" + quote(std::string(status.message())) + ")");
    Decoded d;
    if (!key_field.empty()) {
      auto m = member(obj, key_field);
      if (!m) return unexpected(m.error());
      auto k = json_scalar(**m, key_field);
      if (!k) return unexpected(k.error());
      d.key = std::move(*k);
    } else if (r.key) {
      d.key = Value(*r.key);
    }
    if (!value_field.empty()) {
      auto m = member(obj, value_field);
      if (!m) return unexpected(m.error());
      auto v = json_scalar(**m, value_field);
      if (!v) return unexpected(v.error());
      d.value = std::move(*v);
    }
    if (!event_time_field.empty()) {
      auto m = member(obj, event_time_field);
      if (!m) return unexpected(m.error());
      auto t = json_event_time(**m, event_time_field);
      if (!t) return unexpected(t.error());
      d.event_time = *t;
    }
    return d;
  };
}

}  // namespace streamsim::engine::decoders
