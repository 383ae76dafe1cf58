// Pipeline registry: typed, validated parameters; built-in pipelines.
#include <streamsim/core/assert.h>
#include <streamsim/engine/registry.h>

#include <charconv>
#include <iterator>
#include <set>
#include <string_view>

namespace streamsim::engine {

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::int64: return "int64";
    case ParamType::duration: return "duration";
    case ParamType::string: return "string";
    case ParamType::enumeration: return "enum";
  }
  return "?";
}

ParamSpec ParamSpec::int64(std::string name, std::optional<std::string> def, int64_t min, int64_t max,
                           std::string help) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::int64;
  p.default_value = std::move(def);
  p.min = min;
  p.max = max;
  p.help = std::move(help);
  return p;
}
ParamSpec ParamSpec::duration(std::string name, std::optional<std::string> def, std::string help) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::duration;
  p.default_value = std::move(def);
  p.help = std::move(help);
  return p;
}
ParamSpec ParamSpec::string(std::string name, std::optional<std::string> def, std::string help) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::string;
  p.default_value = std::move(def);
  p.help = std::move(help);
  return p;
}
ParamSpec ParamSpec::enumeration(std::string name, std::vector<std::string> choices, std::optional<std::string> def,
                                 std::string help) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::enumeration;
  p.choices = std::move(choices);
  p.default_value = std::move(def);
  p.help = std::move(help);
  return p;
}

int64_t Params::int64(const std::string& name) const {
  auto it = values_.find(name);
  SS_ASSERT(it != values_.end() && std::holds_alternative<int64_t>(it->second), "Params::int64 of a declared int64");
  return std::get<int64_t>(it->second);
}
Duration Params::duration(const std::string& name) const {
  auto it = values_.find(name);
  SS_ASSERT(it != values_.end() && std::holds_alternative<Duration>(it->second),
            "Params::duration of a declared duration");
  return std::get<Duration>(it->second);
}
const std::string& Params::string(const std::string& name) const {
  auto it = values_.find(name);
  SS_ASSERT(it != values_.end() && std::holds_alternative<std::string>(it->second),
            "Params::string of a declared string or enum");
  return std::get<std::string>(it->second);
}

std::optional<Duration> parse_duration(const std::string& text) {
  int64_t n = 0;
  const char* b = text.data();
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, n);
  if (ec != std::errc() || p == b || n < 0) return std::nullopt;
  const std::string unit(p, e);
  int64_t scale = 0;
  if (unit == "ns") scale = 1;
  else if (unit == "us") scale = 1'000;
  else if (unit == "ms") scale = 1'000'000;
  else if (unit == "s") scale = 1'000'000'000;
  else if (unit == "m") scale = 60'000'000'000;
  else if (unit == "h") scale = 3'600'000'000'000;
  else return std::nullopt;
  if (n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return Duration::nanos(n * scale);
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Parses one parameter's text by its spec; the error names params.<name>.
Result<std::variant<int64_t, Duration, std::string>, EngineError> parse_param(const ParamSpec& spec,
                                                                             const std::string& text) {
  const std::string field = "params." + spec.name;
  auto bad = [&](std::string msg) { return unexpected(EngineError{EngineErrc::invalid_parameter, field, std::move(msg)}); };
  switch (spec.type) {
    case ParamType::int64: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty())
        return bad("'" + text + "' is not an integer");
      if (v < spec.min || v > spec.max)
        return bad(text + " is outside [" + std::to_string(spec.min) + ", " + std::to_string(spec.max) + "]");
      return std::variant<int64_t, Duration, std::string>(v);
    }
    case ParamType::duration: {
      auto d = parse_duration(text);
      if (!d) return bad("'" + text + "' is not a duration (an integer and a unit: ns, us, ms, s, m, h; e.g. 500ms)");
      return std::variant<int64_t, Duration, std::string>(*d);
    }
    case ParamType::string: return std::variant<int64_t, Duration, std::string>(text);
    case ParamType::enumeration:
      for (const auto& c : spec.choices)
        if (c == text) return std::variant<int64_t, Duration, std::string>(text);
      return bad("'" + text + "' is not one of: " + join(spec.choices));
  }
  return bad("unknown parameter type");
}

}  // namespace

void PipelineRegistry::add(PipelineInfo info) {
  SS_ASSERT(!info.name.empty() && !pipelines_.count(info.name), "pipeline names are non-empty and unique");
  SS_ASSERT(static_cast<bool>(info.factory), "a pipeline has a factory");
  std::set<std::string> seen;
  for (const auto& p : info.params) {
    SS_ASSERT(seen.insert(p.name).second, "parameter names are unique within a pipeline");
    SS_ASSERT(p.type != ParamType::enumeration || !p.choices.empty(), "an enum parameter has choices");
    if (p.default_value) SS_ASSERT(parse_param(p, *p.default_value).ok(), "a parameter's default is a valid value");
  }
  std::string name = info.name;
  pipelines_.emplace(std::move(name), std::move(info));
}

const PipelineInfo* PipelineRegistry::find(const std::string& name) const {
  auto it = pipelines_.find(name);
  return it == pipelines_.end() ? nullptr : &it->second;
}

std::vector<std::string> PipelineRegistry::names() const {
  std::vector<std::string> v;
  for (const auto& [n, i] : pipelines_) v.push_back(n);
  return v;
}

Result<Pipeline, EngineError> PipelineRegistry::build(
    const std::string& name, const std::vector<std::pair<std::string, std::string>>& params) const {
  const PipelineInfo* info = find(name);
  if (!info)
    return unexpected(EngineError{EngineErrc::unknown_pipeline, "pipeline",
                                  "unknown pipeline '" + name + "' (registered: " + join(names()) + ")"});
  Params values;
  for (const auto& [key, text] : params) {
    const ParamSpec* spec = nullptr;
    for (const auto& p : info->params)
      if (p.name == key) spec = &p;
    if (!spec) {
      std::vector<std::string> known;
      for (const auto& p : info->params) known.push_back(p.name);
      return unexpected(EngineError{EngineErrc::unknown_parameter, "params." + key,
                                    "pipeline '" + name + "' has no parameter '" + key + "' (it has: " + join(known) +
                                        ")"});
    }
    if (values.values_.count(key))
      return unexpected(EngineError{EngineErrc::invalid_parameter, "params." + key, "given more than once"});
    auto v = parse_param(*spec, text);
    if (!v) return unexpected(v.error());
    values.values_.emplace(key, std::move(*v));
  }
  for (const auto& p : info->params) {
    if (values.values_.count(p.name)) continue;
    if (!p.default_value)
      return unexpected(EngineError{EngineErrc::missing_parameter, "params." + p.name,
                                    "pipeline '" + name + "' needs this " + to_string(p.type) + " parameter" +
                                        (p.help.empty() ? "" : " (" + p.help + ")")});
    values.values_.emplace(p.name, std::move(*parse_param(p, *p.default_value)));
  }
  auto built = info->factory(values);
  if (!built) {
    // A factory's error is about the pipeline it was asked to build: say which.
    EngineError e = built.error();
    e.message = "pipeline '" + name + "': " + e.message;
    // Builder settings that a parameter sets are reported as that parameter.
    for (const auto& p : info->params)
      if (p.name == e.field) e.field = "params." + p.name;
    return unexpected(std::move(e));
  }
  return built;
}

namespace {

// The pipelines the program registered (register_pipeline). A function-local
// static, so a PipelineRegistration in another translation unit's static
// initialization finds it constructed.
std::vector<PipelineInfo>& user_pipelines() {
  static std::vector<PipelineInfo> pipelines;
  return pipelines;
}

// --- helpers shared by the built-in pipelines ---------------------------------

OutputMode output_mode_of(const std::string& s) {
  return s == "append" ? OutputMode::append : s == "update" ? OutputMode::update : OutputMode::complete;
}

EngineError param_error(const std::string& name, std::string message) {
  return EngineError{EngineErrc::invalid_parameter, "params." + name, std::move(message)};
}

// Renames the builder's fields to the parameters that set them, where the
// names differ (the registry maps equal names itself).
Result<Pipeline, EngineError> renamed(Result<Pipeline, EngineError> r,
                                      const std::vector<std::pair<std::string, std::string>>& names) {
  if (r) return r;
  EngineError e = r.error();
  for (const auto& [from, to] : names)
    if (e.field == from) e.field = "params." + to;
  return unexpected(std::move(e));
}

// The decoder parameters: decoder (typed | json | int64-text), key_field,
// value_field and event_time_field (json only). A json event_time_field makes
// the event time come from the payload; otherwise it is the record timestamp.
std::vector<ParamSpec> decoder_params(std::vector<std::string> decoders) {
  return {
      ParamSpec::enumeration("decoder", std::move(decoders), "typed",
                             "how record bytes become key and value: the engine's typed encoding, a JSON object, or a "
                             "decimal int64 value"),
      ParamSpec::string("key_field", "", "json: the member holding the key (empty: the Kafka record key as a string)"),
      ParamSpec::string("value_field", "", "json: the member holding the value (empty: null)"),
      ParamSpec::string("event_time_field", "",
                        "json: the member holding the event time, integral ms or RFC 3339 (empty: the record "
                        "timestamp)"),
  };
}

struct SourceFormat {
  Decoder decoder;
  EventTimeFn event_time;
};

// Checks the decoder parameters against each other and against what the
// aggregate needs (a value, unless it counts).
Result<SourceFormat, EngineError> source_format(const Params& p, bool needs_value) {
  const std::string& kind = p.string("decoder");
  const std::string& key = p.string("key_field");
  const std::string& value = p.string("value_field");
  const std::string& et = p.string("event_time_field");
  if (kind != "json") {
    for (const auto& [name, text] : {std::pair{"key_field", &key}, std::pair{"value_field", &value},
                                     std::pair{"event_time_field", &et}})
      if (!text->empty())
        return unexpected(param_error(name, "only the json decoder reads payload fields (decoder is " + kind + ")"));
  }
  if (kind == "json") {
    if (needs_value && value.empty())
      return unexpected(param_error("value_field", "the aggregate needs a value: name the JSON member that holds it"));
    return SourceFormat{decoders::json(key, value, et),
                        et.empty() ? event_times::record_timestamp() : event_times::from_payload()};
  }
  return SourceFormat{kind == "int64-text" ? decoders::int64_text() : decoders::typed(), event_times::record_timestamp()};
}

// The window parameters: window (kind), size, slide, gap. Slide and gap are
// 0ms unless the kind takes them, so a setting that would be ignored is an
// error instead.
Result<WindowSpec, EngineError> window_of(const Params& p) {
  const std::string& kind = p.string("window");
  const Duration size = p.duration("size"), slide = p.duration("slide"), gap = p.duration("gap");
  if (kind != "sliding" && slide != Duration::zero())
    return unexpected(param_error("slide", "only sliding windows take a slide (window is " + kind + ")"));
  if (kind != "session" && gap != Duration::zero())
    return unexpected(param_error("gap", "only session windows take a gap (window is " + kind + ")"));
  if (kind == "session") {
    if (gap <= Duration::zero()) return unexpected(param_error("gap", "session windows need a positive gap"));
    return WindowSpec::session(gap);
  }
  if (size <= Duration::zero()) return unexpected(param_error("size", "the window size must be positive"));
  if (kind == "tumbling") return WindowSpec::tumbling(size);
  if (slide <= Duration::zero()) return unexpected(param_error("slide", "sliding windows need a positive slide"));
  if (slide > size)
    return unexpected(param_error("slide", "the slide (" + format_duration(slide) + ") exceeds the size (" +
                                               format_duration(size) + "): some events would be in no window"));
  return WindowSpec::sliding(size, slide);
}

Aggregate aggregate_of(const std::string& s) {
  if (s == "sum") return Aggregate::sum();
  if (s == "min") return Aggregate::min();
  if (s == "max") return Aggregate::max();
  if (s == "avg") return Aggregate::avg();
  return Aggregate::count();
}

// dedup=on: a record whose key and value both repeat an earlier one within
// the watermark delay is dropped (the value is taken as an event id). Dedup
// works on the row key, so the pair is packed into one string key (length-
// prefixed, so the split is unambiguous), deduplicated, and unpacked again.
Value pack_key_value(const Row& r) {
  const std::string k = encode_value(r.key);
  return Value(std::to_string(k.size()) + ":" + k + encode_value(r.value));
}
Row unpack_key(const Row& r) {
  SS_ASSERT(r.key.is_string(), "a packed dedup key is a string");
  const std::string& s = r.key.as_string();
  const size_t colon = s.find(':');
  SS_ASSERT(colon != std::string::npos, "a packed dedup key has its length prefix");
  const size_t n = std::stoul(s.substr(0, colon));
  auto key = decode_value(std::string_view(s).substr(colon + 1, n));
  SS_ASSERT(key.has_value(), "a packed dedup key holds an encoded key");
  Row out = r;
  out.key = std::move(*key);
  return out;
}

// Settings every built-in windowed pipeline shares.
std::vector<ParamSpec> common_window_params() {
  return {
      ParamSpec::duration("watermark_delay", "5s", "event-time disorder the watermark allows for"),
      ParamSpec::duration("allowed_lateness", "0ms", "how long after the watermark passes a window it stays open"),
      ParamSpec::duration("idle_timeout", "30s",
                          "processing time after which a silent partition stops holding the watermark (0ms: never)"),
      ParamSpec::enumeration("output_mode", {"append", "update", "complete"}, "append"),
      ParamSpec::enumeration("late_events", {"drop", "route"}, "drop"),
      ParamSpec::enumeration("dead_letters", {"route", "fail"}, "route"),
  };
}

// Applies common_window_params() to a builder, up to (not including) the window.
void apply_source_settings(PipelineBuilder& b, const Params& p, const SourceFormat& f) {
  b.decoder(f.decoder).event_time(f.event_time).with_watermark(p.duration("watermark_delay"));
  if (p.duration("idle_timeout") > Duration::zero()) b.idle_timeout(p.duration("idle_timeout"));
}
void apply_sink_settings(PipelineBuilder& b, const Params& p) {
  b.output(output_mode_of(p.string("output_mode")))
      .late_events(p.string("late_events") == "route" ? LatePolicy::route : LatePolicy::drop)
      .dead_letters(p.string("dead_letters") == "fail" ? DeadLetterPolicy::fail : DeadLetterPolicy::route)
      .sink(p.string("sink"));
  if (p.duration("allowed_lateness") > Duration::zero()) b.allowed_lateness(p.duration("allowed_lateness"));
}

template <class T>
std::vector<T> concat(std::vector<T> a, std::vector<T> b) {
  a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
  return a;
}

void register_windowed_aggregate(PipelineRegistry& registry) {
  PipelineInfo info;
  info.name = "windowed-aggregate";
  info.description = "per-key aggregate of the source topic's values in tumbling, sliding or session event-time windows";
  info.params = concat(
      {
          ParamSpec::string("source", "events", "input topic"),
          ParamSpec::string("sink", "aggregates", "output topic"),
          ParamSpec::enumeration("window", {"tumbling", "sliding", "session"}, "tumbling"),
          ParamSpec::duration("size", "1m", "tumbling and sliding: the window size"),
          ParamSpec::duration("slide", "0ms", "sliding only: how far apart windows start"),
          ParamSpec::duration("gap", "0ms", "session only: the inactivity gap that ends a session"),
          ParamSpec::enumeration("aggregate", {"count", "sum", "min", "max", "avg"}, "count"),
          ParamSpec::enumeration("dedup", {"off", "on"}, "off",
                                 "on: drop a record whose key and value repeat one seen within the watermark delay"),
      },
      concat(common_window_params(), decoder_params({"typed", "json", "int64-text"})));
  info.factory = [](const Params& p) -> Result<Pipeline, EngineError> {
    const std::string& agg = p.string("aggregate");
    auto format = source_format(p, agg != "count");
    if (!format) return unexpected(format.error());
    auto window = window_of(p);
    if (!window) return unexpected(window.error());
    auto b = source(p.string("source"));
    apply_source_settings(b, p, *format);
    if (p.string("dedup") == "on") b.key_by(pack_key_value).dedup().map(unpack_key);
    b.window(*window).aggregate(aggregate_of(agg));
    apply_sink_settings(b, p);
    return renamed(b.build(), {{"with_watermark", "watermark_delay"}});
  };
  registry.add(std::move(info));
}

void register_enriched_clicks(PipelineRegistry& registry) {
  PipelineInfo info;
  info.name = "enriched-clicks";
  info.description =
      "clicks joined to a users table (user -> attribute, e.g. region) loaded from a compacted topic, then a count or "
      "sum per attribute in tumbling event-time windows (per input partition: one key's rows must share a partition "
      "for a global result)";
  info.params = concat(
      {
          ParamSpec::string("source", "clicks", "input topic, keyed by user"),
          ParamSpec::string("users", "users", "the table topic: user -> attribute, typed-encoded; null deletes"),
          ParamSpec::string("sink", "enriched-counts", "output topic"),
          ParamSpec::enumeration("join", {"inner", "left"}, "inner",
                                 "inner: drop clicks of unknown users; left: count them under missing_attribute"),
          ParamSpec::string("missing_attribute", "unknown", "left join: the key for clicks of unknown users"),
          ParamSpec::int64("table_refresh_batches", "0", 0, 1'000'000'000,
                           "reload the users table every this many batches (0: at start-up and restores only)"),
          ParamSpec::duration("window", "1m", "tumbling window size"),
          ParamSpec::enumeration("aggregate", {"count", "sum"}, "count"),
      },
      concat(common_window_params(), decoder_params({"typed", "json"})));
  info.factory = [](const Params& p) -> Result<Pipeline, EngineError> {
    const std::string& agg = p.string("aggregate");
    auto format = source_format(p, agg != "count");
    if (!format) return unexpected(format.error());
    if (p.duration("window") <= Duration::zero())
      return unexpected(param_error("window", "the window size must be positive"));
    const JoinKind kind = p.string("join") == "left" ? JoinKind::left : JoinKind::inner;
    const Value missing(p.string("missing_attribute"));
    auto b = source(p.string("source"));
    apply_source_settings(b, p, *format);
    // The user's attribute becomes the key; the value (an amount, for sum) stays.
    b.join_table(
        p.string("users"),
        [missing](const Row& r, const Value& attribute) {
          Row out = r;
          out.key = attribute.is_null() ? missing : attribute;
          return out;
        },
        kind);
    if (p.int64("table_refresh_batches") > 0)
      b.refresh_tables_every(static_cast<uint64_t>(p.int64("table_refresh_batches")));
    b.window(WindowSpec::tumbling(p.duration("window"))).aggregate(aggregate_of(agg));
    apply_sink_settings(b, p);
    return renamed(b.build(), {{"with_watermark", "watermark_delay"},
                               {"join_table", "users"},
                               {"refresh_tables_every", "table_refresh_batches"}});
  };
  registry.add(std::move(info));
}

}  // namespace

void register_builtin_pipelines(PipelineRegistry& registry) {
  PipelineInfo info;
  info.name = "click-counts";
  info.description = "per-key count of the source topic's records in tumbling event-time windows";
  info.params = {
      ParamSpec::string("source", "clicks", "input topic"),
      ParamSpec::string("sink", "click-counts", "output topic"),
      ParamSpec::duration("window", "1m", "tumbling window size"),
      ParamSpec::duration("watermark_delay", "5s", "event-time disorder the watermark allows for"),
      ParamSpec::duration("allowed_lateness", "0ms", "how long after the watermark passes a window it stays open"),
      ParamSpec::duration("idle_timeout", "30s", "processing time after which a silent partition stops holding the watermark"),
      ParamSpec::enumeration("output_mode", {"append", "update", "complete"}, "append"),
      ParamSpec::enumeration("late_events", {"drop", "route"}, "drop"),
      ParamSpec::enumeration("dead_letters", {"route", "fail"}, "route"),
  };
  info.factory = [](const Params& p) -> Result<Pipeline, EngineError> {
    const std::string& mode = p.string("output_mode");
    auto b = source(p.string("source"))
                 .with_watermark(p.duration("watermark_delay"))
                 .idle_timeout(p.duration("idle_timeout"))
                 .window(WindowSpec::tumbling(p.duration("window")))
                 .aggregate(Aggregate::count())
                 .output(mode == "append" ? OutputMode::append
                         : mode == "update" ? OutputMode::update
                                            : OutputMode::complete)
                 .late_events(p.string("late_events") == "route" ? LatePolicy::route : LatePolicy::drop)
                 .dead_letters(p.string("dead_letters") == "fail" ? DeadLetterPolicy::fail : DeadLetterPolicy::route)
                 .sink(p.string("sink"));
    if (p.duration("allowed_lateness") > Duration::zero()) b.allowed_lateness(p.duration("allowed_lateness"));
    return b.build();
  };
  registry.add(std::move(info));
  register_windowed_aggregate(registry);
  register_enriched_clicks(registry);
  for (const auto& user : user_pipelines()) registry.add(user);
}

void register_pipeline(PipelineInfo info) {
  // Checked now, against the built-ins and the pipelines registered so far,
  // so a bad registration fails at start-up, not at the first scenario.
  PipelineRegistry check;
  register_builtin_pipelines(check);
  check.add(info);
  user_pipelines().push_back(std::move(info));
}

}  // namespace streamsim::engine
