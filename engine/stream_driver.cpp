// The TestStream driver's implementation (include/streamsim/engine/test_stream.h):
// library code that users' tests call, not a test itself; the tests of the
// driver are in tests/engine/. Queued elements become one MicroBatch per run_batch().
#include <streamsim/core/assert.h>
#include <streamsim/engine/test_stream.h>

namespace streamsim::engine {

namespace {
std::vector<int32_t> first_n(int32_t n) {
  SS_ASSERT(n >= 1 && n <= 1024, "a TestStream has 1..1024 partitions");
  std::vector<int32_t> v;
  for (int32_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TestStreamOptions with_tables(TestStreamOptions options, std::shared_ptr<JoinTables> tables) {
  options.engine.tables = std::move(tables);
  return options;
}

const TableSpec& table_spec(const Pipeline& p, const std::string& topic) {
  const TableSpec* spec = nullptr;
  for (const TableSpec& t : p.plan().tables)
    if (t.topic == topic) spec = &t;
  SS_ASSERT(spec != nullptr, "the TestStream's pipeline joins against this table topic");
  return *spec;
}
}  // namespace

TestStream::TestStream(Pipeline pipeline, TestStreamOptions options)
    : pipeline_(pipeline),
      tables_(std::make_shared<JoinTables>()),
      options_(with_tables(options, tables_)),
      query_(Query::create(pipeline, first_n(options.partitions), options.start, options_.engine)),
      now_(options.start),
      table_refresh_(pipeline.plan().table_refresh_batches) {}

TestStream& TestStream::set_table(const std::string& topic, Value key, Value value) {
  InputRecord r;
  r.key = encode_value(key);
  r.value = encode_value(value);
  return add_table_raw(topic, std::move(r));
}

TestStream& TestStream::delete_from_table(const std::string& topic, Value key) {
  InputRecord r;
  r.key = encode_value(key);
  return add_table_raw(topic, std::move(r));
}

TestStream& TestStream::add_table_raw(const std::string& topic, InputRecord record) {
  (void)table_spec(pipeline_, topic);
  auto& log = table_logs_[topic];
  record.source = Provenance{topic, 0, static_cast<int64_t>(log.size())};
  log.push_back(std::move(record));
  return *this;
}

TestStream& TestStream::reload_tables() {
  load_tables();
  return *this;
}

// Builds every table from its log with the same TableBuilder the Kafka loader
// uses, and installs them together.
void TestStream::load_tables() {
  for (const TableSpec& t : pipeline_.plan().tables) {
    TableBuilder b(t.decoder);
    for (const InputRecord& r : table_logs_[t.topic]) b.apply(r);
    tables_->replace(t.topic, b.finish(&table_stats_[t.topic]));
  }
  table_refresh_.loaded();
}

TestStream& TestStream::add(Value key, Value value, EventTime t, int32_t partition) {
  InputRecord r;
  r.key = encode_value(key);
  r.value = encode_value(value);
  r.timestamp_ms = t.ms();
  return add_raw(std::move(r), partition);
}

TestStream& TestStream::add_raw(InputRecord record, int32_t partition) {
  SS_ASSERT(partition >= 0 && partition < options_.partitions, "add to one of the stream's partitions");
  record.source.topic = pipeline_.plan().source_topic;
  record.source.partition = partition;
  record.source.offset = next_offset_[partition]++;
  pending_[partition].push_back(std::move(record));
  return *this;
}

TestStream& TestStream::advance_processing_time(Duration d) {
  SS_ASSERT(d >= Duration::zero(), "processing time only moves forward");
  now_ = now_ + d;
  return *this;
}

TestStream& TestStream::advance_watermark_to(Watermark w) {
  if (w > floor_) floor_ = w;
  return *this;
}

Result<BatchOutput, EngineError> TestStream::run_batch() {
  if (table_refresh_.due()) load_tables();
  MicroBatch b;
  b.processing_time = now_;
  b.records = std::move(pending_);
  b.watermark_floor = floor_;
  pending_.clear();
  auto out = query_.run_batch(b);
  if (!out) return out;
  for (const auto& [p, t] : out->tasks) {
    auto& log = changelog_[p];
    log.insert(log.end(), t.changelog.begin(), t.changelog.end());
  }
  history_.push_back(*out);
  table_refresh_.batch_ran();
  return out;
}

Checkpoint TestStream::snapshot() const { return query_.checkpoint(); }

Checkpoint TestStream::changelog() const {
  Checkpoint cp;
  cp.partitions = changelog_;
  return cp;
}

Result<void, EngineError> TestStream::restore(const Checkpoint& cp) {
  auto q = Query::restore(pipeline_, cp, now_, options_.engine);
  if (!q) return unexpected(q.error());
  query_ = std::move(*q);
  // The changelog "topic" now continues from what was restored.
  changelog_ = cp.partitions;
  // A restored query reloads its tables before its first batch.
  table_refresh_.mark_stale();
  return {};
}

std::vector<std::string> TestStream::format(const std::vector<OutputRow>& rows) {
  std::vector<std::string> v;
  v.reserve(rows.size());
  for (const auto& r : rows) v.push_back(to_string(r));
  return v;
}

}  // namespace streamsim::engine
