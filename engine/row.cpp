// Values, their order and text forms, and the engine's record encoding.
#include <streamsim/core/assert.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/row.h>
#include <streamsim/engine/time.h>

#include <bit>
#include <cstdio>
#include <cstring>

namespace streamsim::engine {

std::string to_string(EventTime t) { return std::to_string(t.ms()) + "ms"; }

std::string to_string(Watermark w) {
  if (w.is_min()) return "-inf";
  if (w.is_max()) return "+inf";
  return std::to_string(w.ms()) + "ms";
}

const char* to_string(EngineErrc e) {
  switch (e) {
    case EngineErrc::unknown_pipeline: return "unknown_pipeline";
    case EngineErrc::unknown_parameter: return "unknown_parameter";
    case EngineErrc::missing_parameter: return "missing_parameter";
    case EngineErrc::invalid_parameter: return "invalid_parameter";
    case EngineErrc::invalid_pipeline: return "invalid_pipeline";
    case EngineErrc::bad_record: return "bad_record";
    case EngineErrc::state_limit: return "state_limit";
    case EngineErrc::batch_limit: return "batch_limit";
    case EngineErrc::unknown_partition: return "unknown_partition";
    case EngineErrc::bad_checkpoint: return "bad_checkpoint";
    case EngineErrc::query_failed: return "query_failed";
    case EngineErrc::invalid_config: return "invalid_config";
    case EngineErrc::kafka_error: return "kafka_error";
  }
  return "unknown";
}

int64_t Value::as_int() const {
  SS_ASSERT(is_int(), "Value::as_int on a value that is not an int64");
  return std::get<1>(v_);
}
double Value::as_double() const {
  SS_ASSERT(is_double(), "Value::as_double on a value that is not a double");
  return std::get<2>(v_);
}
const std::string& Value::as_string() const {
  SS_ASSERT(is_string(), "Value::as_string on a value that is not a string");
  return std::get<3>(v_);
}
double Value::to_double() const {
  SS_ASSERT(is_numeric(), "Value::to_double on a value that is not a number");
  return is_int() ? static_cast<double>(std::get<1>(v_)) : std::get<2>(v_);
}

std::string Value::to_string() const {
  switch (v_.index()) {
    case 0: return "null";
    case 1: return std::to_string(std::get<1>(v_));
    case 2: {
      // %.17g round-trips every double, so two different values never print alike.
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", std::get<2>(v_));
      return buf;
    }
    default: return "\"" + std::get<3>(v_) + "\"";
  }
}

std::strong_ordering operator<=>(const Value& a, const Value& b) {
  if (a.v_.index() != b.v_.index()) return a.v_.index() <=> b.v_.index();
  switch (a.v_.index()) {
    case 0: return std::strong_ordering::equal;
    case 1: return std::get<1>(a.v_) <=> std::get<1>(b.v_);
    // IEEE totalOrder: a strict weak order even with NaNs, unlike operator<.
    case 2: return std::strong_order(std::get<2>(a.v_), std::get<2>(b.v_));
    default: {
      const int c = std::get<3>(a.v_).compare(std::get<3>(b.v_));
      return c < 0 ? std::strong_ordering::less : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
    }
  }
}

std::ostream& operator<<(std::ostream& os, const Value& v) { return os << v.to_string(); }

std::string to_string(const Provenance& p) {
  return p.topic + "[" + std::to_string(p.partition) + "]@" + std::to_string(p.offset);
}

std::string to_string(const OutputRow& r) {
  std::string s = "key=" + r.key.to_string();
  if (r.window) s += " window=[" + to_string(r.window->start) + "," + to_string(r.window->end) + ")";
  s += " value=" + r.value.to_string();
  return s;
}
std::ostream& operator<<(std::ostream& os, const OutputRow& r) { return os << to_string(r); }

namespace {
void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  return v;
}
}  // namespace

std::string encode_value(const Value& v) {
  std::string out;
  if (v.is_null()) {
    out.push_back('\0');
  } else if (v.is_int()) {
    out.push_back('\1');
    put_u64(out, static_cast<uint64_t>(v.as_int()));
  } else if (v.is_double()) {
    out.push_back('\2');
    put_u64(out, std::bit_cast<uint64_t>(v.as_double()));
  } else {
    out.push_back('\3');
    out += v.as_string();
  }
  return out;
}

std::optional<Value> decode_value(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  const std::string_view body = bytes.substr(1);
  switch (bytes[0]) {
    case '\0':
      if (!body.empty()) return std::nullopt;
      return Value();
    case '\1':
      if (body.size() != 8) return std::nullopt;
      return Value(static_cast<int64_t>(get_u64(body)));
    case '\2':
      if (body.size() != 8) return std::nullopt;
      return Value(std::bit_cast<double>(get_u64(body)));
    case '\3':
      return Value(std::string(body));
    default:
      return std::nullopt;
  }
}

}  // namespace streamsim::engine
