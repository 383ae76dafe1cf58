// Changelog encoding of task state through proto/engine.proto.
#include "state_codec.h"

#include <streamsim/core/assert.h>

#include <streamsim/proto/engine.pb.h>

namespace streamsim::engine::detail {

namespace pe = streamsim::proto::engine;

namespace {

void to_proto(const Value& v, pe::Value* out) {
  if (v.is_int()) out->set_int_value(v.as_int());
  else if (v.is_double()) out->set_double_value(v.as_double());
  else if (v.is_string()) out->set_string_value(v.as_string());
  // null: no field set
}

Value from_proto(const pe::Value& v) {
  switch (v.kind_case()) {
    case pe::Value::kIntValue: return Value(static_cast<int64_t>(v.int_value()));
    case pe::Value::kDoubleValue: return Value(v.double_value());
    case pe::Value::kStringValue: return Value(v.string_value());
    default: return Value();
  }
}

void to_proto(const Acc& a, pe::Accumulator* out) {
  out->set_rows(a.rows);
  out->set_non_null(a.non_null);
  to_proto(a.value, out->mutable_value());
  out->set_max_event_time_ms(a.max_event_time_ms);
}

Acc from_proto(const pe::Accumulator& a) {
  Acc out;
  out.rows = a.rows();
  out.non_null = a.non_null();
  out.value = from_proto(a.value());
  out.max_event_time_ms = a.max_event_time_ms();
  return out;
}

std::string serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  const bool ok = m.SerializeToString(&out);
  SS_ASSERT(ok, "an engine state message always serialises");
  return out;
}

}  // namespace

std::string encode_key(const StateKey& k) {
  pe::StateKey m;
  m.set_kind(static_cast<pe::StateKind>(k.kind));
  to_proto(k.key, m.mutable_key());
  m.set_start_ms(k.start_ms);
  m.set_end_ms(k.end_ms);
  return serialize(m);
}

std::optional<StateKey> decode_key(std::string_view bytes) {
  pe::StateKey m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  if (m.kind() < pe::STATE_META || m.kind() > pe::STATE_DEDUP) return std::nullopt;
  StateKey k;
  k.kind = static_cast<StateKind>(m.kind());
  k.key = from_proto(m.key());
  k.start_ms = m.start_ms();
  k.end_ms = m.end_ms();
  return k;
}

std::string encode_acc(const Acc& a) {
  pe::StateValue m;
  to_proto(a, m.mutable_acc());
  return serialize(m);
}

std::string encode_session(int64_t end_ms, const Acc& a) {
  pe::StateValue m;
  m.mutable_session()->set_end_ms(end_ms);
  to_proto(a, m.mutable_session()->mutable_acc());
  return serialize(m);
}

std::string encode_dedup(int64_t first_ms) {
  pe::StateValue m;
  m.set_dedup_first_ms(first_ms);
  return serialize(m);
}

std::string encode_meta(const TaskMeta& t) {
  pe::StateValue m;
  auto* meta = m.mutable_meta();
  meta->set_format_version(1);
  meta->set_topic(t.topic);
  meta->set_partition(t.partition);
  meta->set_next_batch(t.next_batch);
  meta->set_global_watermark_ms(t.watermark.ms());
  meta->set_has_max_event_time(t.max_event_time.has_value());
  meta->set_max_event_time_ms(t.max_event_time ? t.max_event_time->ms() : 0);
  meta->set_next_offset(t.next_offset);
  meta->set_idle(t.idle);
  return serialize(m);
}

namespace {
std::optional<pe::StateValue> parse_value(std::string_view bytes, pe::StateValue::KindCase want) {
  pe::StateValue m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  if (m.kind_case() != want) return std::nullopt;
  return m;
}
}  // namespace

std::optional<Acc> decode_acc(std::string_view bytes) {
  auto m = parse_value(bytes, pe::StateValue::kAcc);
  if (!m) return std::nullopt;
  return from_proto(m->acc());
}

std::optional<std::pair<int64_t, Acc>> decode_session(std::string_view bytes) {
  auto m = parse_value(bytes, pe::StateValue::kSession);
  if (!m) return std::nullopt;
  return std::make_pair(static_cast<int64_t>(m->session().end_ms()), from_proto(m->session().acc()));
}

std::optional<int64_t> decode_dedup(std::string_view bytes) {
  auto m = parse_value(bytes, pe::StateValue::kDedupFirstMs);
  if (!m) return std::nullopt;
  return m->dedup_first_ms();
}

std::optional<TaskMeta> decode_meta(std::string_view bytes) {
  auto m = parse_value(bytes, pe::StateValue::kMeta);
  if (!m || m->meta().format_version() != 1) return std::nullopt;
  const auto& meta = m->meta();
  TaskMeta t;
  t.topic = meta.topic();
  t.partition = meta.partition();
  t.next_batch = meta.next_batch();
  t.watermark = Watermark::from_ms(meta.global_watermark_ms());
  if (meta.has_max_event_time()) t.max_event_time = EventTime::from_ms(meta.max_event_time_ms());
  t.next_offset = meta.next_offset();
  t.idle = meta.idle();
  return t;
}

}  // namespace streamsim::engine::detail
