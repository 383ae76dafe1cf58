// Helpers shared by the engine tests.
#pragma once

#include <catch2/catch.hpp>

#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/test_stream.h>

#include <string>
#include <vector>

namespace streamsim::engine::testing {

inline EventTime ms(int64_t t) { return EventTime::from_ms(t); }

// Unwraps a build result, failing the test with the error text.
inline Pipeline built(const Result<Pipeline, EngineError>& r) {
  if (!r) FAIL("pipeline build failed: " << r.error().format());
  return r.value();
}

// Runs a batch and returns its rows as text, failing on an engine error.
inline std::vector<std::string> run(TestStream& ts) {
  auto out = ts.run_batch();
  if (!out) FAIL("run_batch failed: " << out.error().format());
  return TestStream::format(out->rows());
}

// A keyed tumbling count in event-time milliseconds.
inline Pipeline tumbling_count(int64_t size_ms, int64_t delay_ms, OutputMode mode = OutputMode::append,
                               int64_t lateness_ms = 0, LatePolicy late = LatePolicy::drop) {
  auto b = source("clicks")
               .with_watermark(Duration::millis(delay_ms))
               .window(WindowSpec::tumbling(Duration::millis(size_ms)))
               .aggregate(Aggregate::count())
               .late_events(late)
               .output(mode);
  if (lateness_ms > 0) b.allowed_lateness(Duration::millis(lateness_ms));
  return built(b.build());
}

using Rows = std::vector<std::string>;

}  // namespace streamsim::engine::testing
