// Catch2 helpers: PipelineDriver and the rows matchers (include/streamsim/testing/driver.h).
#include <streamsim/testing/driver.h>

#include <algorithm>
#include <map>

namespace streamsim::testing {

std::string diff_rows(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                      bool ordered) {
  std::string out;
  if (ordered) {
    // Longest common subsequence, so an inserted or missing row shows as one
    // line, not as every row after it.
    const size_t n = expected.size(), m = actual.size();
    std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        lcs[i][j] = expected[i] == actual[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    size_t i = 0, j = 0;
    bool differs = false;
    std::string lines;
    while (i < n || j < m) {
      if (i < n && j < m && expected[i] == actual[j]) {
        lines += "    " + expected[i] + "\n";
        ++i, ++j;
      } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
        lines += "  + " + actual[j++] + "\n";
        differs = true;
      } else {
        lines += "  - " + expected[i++] + "\n";
        differs = true;
      }
    }
    if (differs) out = lines;
  } else {
    std::map<std::string, long> count;
    for (const auto& r : expected) ++count[r];
    for (const auto& r : actual) --count[r];
    for (const auto& [row, c] : count)
      for (long k = 0; k < std::abs(c); ++k) out += (c > 0 ? "  - " : "  + ") + row + "\n";
  }
  return out;
}

bool RowsMatcher::match(const std::vector<std::string>& actual) const {
  diff_ = diff_rows(expected_, actual, ordered_);
  return diff_.empty();
}

std::string RowsMatcher::describe() const {
  std::string d = ordered_ ? "emits these rows in order" : "emits these rows in any order";
  if (expected_.empty()) d = "emits no rows";
  if (!diff_.empty()) d += "; rows differ (- expected, not emitted; + emitted, not expected):\n" + diff_;
  return d;
}

RowsMatcher EmitsRows(std::vector<std::string> expected) { return RowsMatcher(std::move(expected), true); }
RowsMatcher EmitsRowsInAnyOrder(std::vector<std::string> expected) { return RowsMatcher(std::move(expected), false); }

std::vector<std::string> reference_rows(const engine::Pipeline& pipeline, const std::vector<Event>& events) {
  std::vector<engine::ReferenceEvent> in;
  for (const auto& e : events) in.push_back({engine::Value(e.key), engine::Value(e.value), e.event_time_ms});
  auto result = engine::evaluate_reference(pipeline.plan(), in);
  if (!result) FAIL("the batch reference refuses this pipeline: " << result.error().format());
  std::vector<std::string> rows;
  for (const auto& [w, value] : *result) {
    engine::OutputRow r;
    r.key = w.key;
    r.value = value;
    r.window = engine::WindowBounds{engine::EventTime::from_ms(w.start_ms), engine::EventTime::from_ms(w.end_ms)};
    rows.push_back(engine::to_string(r));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

namespace {
engine::Pipeline require_built(Result<engine::Pipeline, engine::EngineError> built) {
  if (!built) FAIL("the pipeline does not build: " << built.error().format());
  return *built;
}
}  // namespace

PipelineDriver::PipelineDriver(Result<engine::Pipeline, engine::EngineError> built, engine::TestStreamOptions options)
    : PipelineDriver(require_built(std::move(built)), std::move(options)) {}

PipelineDriver::PipelineDriver(engine::Pipeline pipeline, engine::TestStreamOptions options)
    : pipeline_(pipeline), stream_(std::move(pipeline), std::move(options)) {}

PipelineDriver& PipelineDriver::add(engine::Value key, engine::Value value, int64_t event_time_ms, int32_t partition) {
  stream_.add(std::move(key), std::move(value), engine::EventTime::from_ms(event_time_ms), partition);
  return *this;
}

PipelineDriver& PipelineDriver::add(const std::vector<Event>& events) {
  add_events(stream_, events);
  return *this;
}

PipelineDriver& PipelineDriver::advance_processing_time(Duration d) {
  stream_.advance_processing_time(d);
  return *this;
}

std::vector<std::string> PipelineDriver::batch() {
  auto out = stream_.run_batch();
  if (!out) FAIL("batch " << stream_.history().size() + 1 << " failed: " << out.error().format());
  return engine::TestStream::format(out->rows());
}

std::vector<std::string> PipelineDriver::finish() {
  // Queued elements first: a batch that starts at the maximum watermark would
  // judge every one of them late.
  std::vector<std::string> rows = batch();
  stream_.advance_watermark_to(engine::Watermark::max());
  for (auto& r : batch()) rows.push_back(std::move(r));
  return rows;
}

PipelineDriver& PipelineDriver::restart() {
  auto r = stream_.restore(stream_.snapshot());
  if (!r) FAIL("restore from the snapshot failed: " << r.error().format());
  return *this;
}

std::vector<std::string> PipelineDriver::emitted() const {
  std::vector<std::string> all;
  for (const auto& b : stream_.history())
    for (auto& r : engine::TestStream::format(b.rows())) all.push_back(std::move(r));
  return all;
}

std::vector<engine::Row> PipelineDriver::late() const {
  std::vector<engine::Row> all;
  for (const auto& b : stream_.history())
    for (auto& r : b.late()) all.push_back(std::move(r));
  return all;
}

}  // namespace streamsim::testing
