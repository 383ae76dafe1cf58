// A test driver for pipelines, in the spirit of Beam's TestStream, with no Kafka:
// add elements with event times, advance the watermark and processing time, run
// micro-batches, snapshot and restore, and assert each batch's output.
//
//   TestStream ts(pipeline);
//   ts.add("u1", 1, EventTime::from_ms(1'000)).add("u1", 1, EventTime::from_ms(2'000));
//   auto b1 = ts.run_batch();                  // Result<BatchOutput, EngineError>
//   ts.advance_watermark_to(Watermark::max());  // end of input
//   auto b2 = ts.run_batch();
//   CHECK(TestStream::format(b2->rows()) == std::vector<std::string>{"key=\"u1\" window=[0ms,60000ms) value=2"});
//
// Elements are encoded with the engine's record encoding (decoders::typed(), the
// pipeline's default), the record timestamp is the event time, and offsets are
// assigned per partition from 0. A pipeline with another decoder takes add_raw().
//
// Join tables (join_table): each table topic is modelled as its log of
// records. set_table() / delete_from_table() append to it; the query sees the
// table as the TableRefresh rule (table.h) loads it, exactly as an
// EngineInstance would: before the first batch, before the first batch after
// restore(), and every table_refresh_batches batches. So a change written
// after the first batch is invisible until the next reload.
// Not thread-safe; owns its Query and its tables.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/time.h>
#include <streamsim/engine/query.h>
#include <streamsim/engine/table.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace streamsim::engine {

struct TestStreamOptions {
  int32_t partitions = 1;
  EngineOptions engine;
  Instant start = Instant::epoch();  // processing time of the first batch
};

class TestStream {
 public:
  explicit TestStream(Pipeline pipeline, TestStreamOptions options = {});

  // Queues an element for the next batch (key and value typed-encoded).
  TestStream& add(Value key, Value value, EventTime t, int32_t partition = 0);
  // Queues a raw record; its topic, partition and offset are filled in.
  TestStream& add_raw(InputRecord record, int32_t partition = 0);
  // Processing time moves forward (idle-partition timeouts).
  TestStream& advance_processing_time(Duration d);
  // The next batch starts with the watermark at least w (max(): end of input).
  TestStream& advance_watermark_to(Watermark w);

  // Appends key -> value (typed-encoded, for a table read with the default
  // decoders::typed()) to a table topic's log. Precondition: the pipeline
  // joins against `topic` (SS_ASSERT).
  TestStream& set_table(const std::string& topic, Value key, Value value);
  // Appends a tombstone (a null value) for key: the key is deleted.
  TestStream& delete_from_table(const std::string& topic, Value key);
  // Appends a raw record (any table decoder); a null value is a tombstone.
  TestStream& add_table_raw(const std::string& topic, InputRecord record);
  // Reloads every table now, as a restart would, without restoring state.
  TestStream& reload_tables();
  // What the query currently sees, and what the last load found per topic.
  const JoinTables& tables() const { return *tables_; }
  const std::map<std::string, TableLoadStats>& table_load_stats() const { return table_stats_; }

  // Runs the queued elements as one micro-batch (possibly empty). The output of
  // every batch is also kept in history().
  Result<BatchOutput, EngineError> run_batch();

  // The query's current state as a checkpoint.
  Checkpoint snapshot() const;
  // Every successful batch's changelog, concatenated per partition: what a
  // compacted changelog topic would hold before compaction.
  Checkpoint changelog() const;
  // Simulates a crash and recovery: replaces the query by one restored from cp.
  // Queued elements stay queued; offsets continue.
  Result<void, EngineError> restore(const Checkpoint& cp);

  Query& query() { return query_; }
  const Query& query() const { return query_; }
  Instant now() const { return now_; }
  const std::vector<BatchOutput>& history() const { return history_; }

  // Stable text of rows, for assertions ("key=... window=[...) value=...").
  static std::vector<std::string> format(const std::vector<OutputRow>& rows);

 private:
  void load_tables();

  Pipeline pipeline_;
  std::shared_ptr<JoinTables> tables_;
  TestStreamOptions options_;  // options_.engine.tables is tables_
  Query query_;
  Instant now_;
  Watermark floor_ = Watermark::min();
  std::map<int32_t, std::vector<InputRecord>> pending_;
  std::map<int32_t, int64_t> next_offset_;
  std::map<int32_t, std::vector<ChangelogEntry>> changelog_;
  std::vector<BatchOutput> history_;
  std::map<std::string, std::vector<InputRecord>> table_logs_;  // per table topic, in append order
  std::map<std::string, TableLoadStats> table_stats_;
  TableRefresh table_refresh_;
};

}  // namespace streamsim::engine
