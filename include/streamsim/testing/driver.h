// Catch2 helpers for testing a pipeline's operators without Kafka
// (docs/library.md): PipelineDriver wraps engine::TestStream so each step is
// one line that fails the test with the engine's own error message, and the
// rows matchers print a line diff of expected against emitted rows.
//
//   auto d = streamsim::testing::PipelineDriver(my_pipeline());   // REQUIREs build() succeeded
//   d.add("u1", 1, 1'000).add("u1", 1, 2'000);
//   REQUIRE_THAT(d.batch(), EmitsRows({}));                        // nothing closed yet
//   REQUIRE_THAT(d.finish(), EmitsRows({"key=\"u1\" window=[0ms,60000ms) value=2"}));
//
// A mismatch reads:
//   rows differ (- expected, not emitted; + emitted, not expected):
//     - key="u1" window=[0ms,60000ms) value=2
//     + key="u1" window=[0ms,60000ms) value=3
//
// Rows are compared as the engine's stable text (engine::to_string(OutputRow):
// key, window, value; partition and provenance omitted). Call the driver's
// methods from inside a Catch2 TEST_CASE (they use REQUIRE). Not thread-safe.
#pragma once

#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/reference.h>
#include <streamsim/engine/test_stream.h>
#include <streamsim/testing/generators.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace streamsim::testing {

// Line diff of two row lists. Ordered: a row out of place shows as removed and
// added; unordered: compared as multisets. Empty when equal.
std::string diff_rows(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                      bool ordered);

class RowsMatcher : public Catch::MatcherBase<std::vector<std::string>> {
 public:
  RowsMatcher(std::vector<std::string> expected, bool ordered)
      : expected_(std::move(expected)), ordered_(ordered) {}
  bool match(const std::vector<std::string>& actual) const override;
  std::string describe() const override;

 private:
  std::vector<std::string> expected_;
  bool ordered_;
  mutable std::string diff_;  // of the last match(), for describe()
};
// The emitted rows are exactly `expected`, in this order.
RowsMatcher EmitsRows(std::vector<std::string> expected);
// The same rows, in any order (counting repeats).
RowsMatcher EmitsRowsInAnyOrder(std::vector<std::string> expected);

// The final results engine::evaluate_reference computes for `pipeline` over
// `events` (all of them counted; remove the late ones first with
// without_late), as the engine's row text, sorted. REQUIREs that the reference
// accepts the plan (append-mode windowed aggregate, no join or fold).
std::vector<std::string> reference_rows(const engine::Pipeline& pipeline, const std::vector<Event>& events);

class PipelineDriver {
 public:
  // REQUIREs that the pipeline built; the failure message is the EngineError.
  explicit PipelineDriver(Result<engine::Pipeline, engine::EngineError> built, engine::TestStreamOptions options = {});
  explicit PipelineDriver(engine::Pipeline pipeline, engine::TestStreamOptions options = {});

  // Queues an element (typed-encoded key and value, event time in ms) for the next batch.
  PipelineDriver& add(engine::Value key, engine::Value value, int64_t event_time_ms, int32_t partition = 0);
  // Queues generated events (gen::events) in arrival order.
  PipelineDriver& add(const std::vector<Event>& events);
  PipelineDriver& advance_processing_time(Duration d);

  // Runs the queued elements as one micro-batch, REQUIREs it succeeded, and
  // returns its rows as text.
  std::vector<std::string> batch();
  // End of input: runs the queued elements as a batch, then advances the
  // watermark to its maximum and runs one more, so every open window closes;
  // returns the rows of both.
  std::vector<std::string> finish();
  // Crash and recovery: restores a fresh query from the current state's
  // checkpoint (REQUIREs success). Queued elements stay queued.
  PipelineDriver& restart();

  // Every row emitted so far, and every late row routed so far (a pipeline
  // with late_events(route); dropped late rows are only counted), in order.
  std::vector<std::string> emitted() const;
  std::vector<engine::Row> late() const;

  engine::TestStream& stream() { return stream_; }
  const engine::Pipeline& pipeline() const { return pipeline_; }

 private:
  engine::Pipeline pipeline_;
  engine::TestStream stream_;
};

}  // namespace streamsim::testing
