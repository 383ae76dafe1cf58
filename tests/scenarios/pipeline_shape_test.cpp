// The loader's pipeline-shape check: the pipeline workload admits what the
// general batch reference (engine/reference.h) can judge, windowed-aggregate
// with any window kind and aggregate in append mode, and refuses the rest at
// the scenario's field with a clear message.
#include <streamsim/scenarios/scenario.h>

#include <string>

#include <catch2/catch.hpp>

using streamsim::scenarios::parse_scenario;

namespace {

std::string pipeline(const std::string& name, const std::string& params, const std::string& input = "") {
  return "name: \"t/shape\"\npipeline {\n" + input + "  pipeline {\n    name: \"" + name + "\"\n" + params +
         "    params { key: \"late_events\" value: \"route\" }\n  }\n}\n";
}

std::string param(const std::string& k, const std::string& v) {
  return "    params { key: \"" + k + "\" value: \"" + v + "\" }\n";
}

std::string error_of(const std::string& text) {
  auto r = parse_scenario(text, "t.textproto");
  REQUIRE_FALSE(r.ok());
  return r.error().format();
}

}  // namespace

TEST_CASE("pipeline shape: windowed-aggregate in append mode is admitted for every window and aggregate", "[loader]") {
  for (const std::string window : {"tumbling", "sliding", "session"}) {
    for (const std::string agg : {"count", "sum", "min", "max", "avg"}) {
      std::string params = param("window", window) + param("aggregate", agg);
      if (window == "sliding") params += param("size", "4s") + param("slide", "1s");
      if (window == "session") params += param("gap", "2s");
      auto r = parse_scenario(pipeline("windowed-aggregate", params), "t.textproto");
      INFO(window << " " << agg);
      if (!r.ok()) FAIL(r.error().format());
    }
  }
}

TEST_CASE("pipeline shape: what the reference cannot judge is refused at its field", "[loader]") {
  CHECK_THAT(error_of(pipeline("windowed-aggregate", param("output_mode", "update"))),
             Catch::Contains("pipeline.pipeline.params") && Catch::Contains("output_mode append"));
  CHECK_THAT(error_of(pipeline("enriched-clicks", "")),
             Catch::Contains("pipeline.pipeline.name") && Catch::Contains("without a join"));
  CHECK_THAT(error_of(pipeline("windowed-aggregate", param("decoder", "int64-text"))),
             Catch::Contains("pipeline.pipeline.params") && Catch::Contains("decoder must be typed"));
  CHECK_THAT(error_of(pipeline("windowed-aggregate",
                               param("window", "sliding") + param("size", "4s") + param("slide", "1s"),
                               "  input { late_fraction: 0.01 }\n")),
             Catch::Contains("pipeline.input.late_fraction") && Catch::Contains("sliding windows"));
}
