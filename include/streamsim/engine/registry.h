// Pipelines registered by name with typed parameters, so a scenario file can say
// `pipeline: "click-counts"` with `params { key: "window" value: "10s" }`.
//
// Parameters arrive as text (from a .textproto) and are parsed and checked
// against their declared type before the pipeline's factory runs; an unknown
// pipeline, an unknown, duplicated, missing or malformed parameter is an
// EngineError whose field names it ("pipeline", "params.window").
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/time.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/pipeline.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace streamsim::engine {

enum class ParamType { int64, duration, string, enumeration };
const char* to_string(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::string;
  std::optional<std::string> default_value;  // text, parsed like a given value; unset = required
  std::vector<std::string> choices;          // enumeration
  int64_t min = INT64_MIN;                   // int64 (inclusive bounds)
  int64_t max = INT64_MAX;
  std::string help;

  static ParamSpec int64(std::string name, std::optional<std::string> def, int64_t min, int64_t max,
                         std::string help = {});
  static ParamSpec duration(std::string name, std::optional<std::string> def, std::string help = {});
  static ParamSpec string(std::string name, std::optional<std::string> def, std::string help = {});
  static ParamSpec enumeration(std::string name, std::vector<std::string> choices, std::optional<std::string> def,
                               std::string help = {});
};

// Parsed parameter values, read by the factory. Reading a name that was not
// declared, or with the wrong type, is a programming error (SS_ASSERT).
class Params {
 public:
  int64_t int64(const std::string& name) const;
  Duration duration(const std::string& name) const;
  const std::string& string(const std::string& name) const;  // string or enumeration

 private:
  friend class PipelineRegistry;
  std::map<std::string, std::variant<int64_t, Duration, std::string>> values_;
};

using PipelineFactory = std::function<Result<Pipeline, EngineError>(const Params&)>;

struct PipelineInfo {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  PipelineFactory factory;
};

class PipelineRegistry {
 public:
  // Precondition: name not yet registered, parameter names unique, defaults
  // valid (all SS_ASSERT: a registration bug, not an input error).
  void add(PipelineInfo info);

  // Builds a pipeline from text parameters, in the given order.
  Result<Pipeline, EngineError> build(const std::string& name,
                                      const std::vector<std::pair<std::string, std::string>>& params) const;
  const PipelineInfo* find(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

 private:
  std::map<std::string, PipelineInfo> pipelines_;
};

// "250ms", "5s", "2m", "1h", "100us", "7ns" -> Duration; nullopt if malformed or
// out of range.
std::optional<Duration> parse_duration(const std::string& text);

// Pipelines of the program that links the engine (a user's own runner, see
// docs/library.md): register_pipeline() adds one to a process-wide list that
// register_builtin_pipelines() appends to every registry it fills, so the
// scenario loader, the workloads and the CLI see user pipelines exactly as
// they see the built-in ones. Call it before the first scenario is loaded
// (from main, or through a static PipelineRegistration); the list is not
// guarded by a lock, so registering while other threads load scenarios is a
// bug. Precondition (SS_ASSERT, at the call): the name is unique among the
// built-in and registered pipelines and the info is valid as for add().
void register_pipeline(PipelineInfo info);

// Registers a pipeline during static initialization, from a user's source file:
//   static const streamsim::engine::PipelineRegistration page_views{make_page_views_info()};
// The object must be in a translation unit the linker keeps (the executable's
// own sources, not an unreferenced member of a static library).
struct PipelineRegistration {
  explicit PipelineRegistration(PipelineInfo info) { register_pipeline(std::move(info)); }
};

// Registers the engine's built-in pipelines, then every pipeline added by
// register_pipeline(), in the order they were added:
//   click-counts: per-key tumbling-window count of the source topic's records.
//   windowed-aggregate: per-key count / sum / min / max / avg in tumbling,
//     sliding or session windows, with optional dedup and a typed, JSON or
//     int64-text decoder (JSON: key, value and event-time members).
//   enriched-clicks: clicks joined to a users table topic (user -> attribute),
//     then a count or sum per attribute in tumbling windows.
// Parameter combinations the pipeline cannot take (a slide on a tumbling
// window, update mode on sessions, ...) are errors naming params.<name>.
void register_builtin_pipelines(PipelineRegistry& registry);

}  // namespace streamsim::engine
