// Pipeline registry: typed, validated parameters; built-in pipelines.
#include <streamsim/core/assert.h>
#include <streamsim/engine/registry.h>

#include <charconv>
#include <set>

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
}

}  // namespace streamsim::engine
