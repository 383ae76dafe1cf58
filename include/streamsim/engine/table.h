// The static side of stream-static joins (docs/semantics.md, "Stream-static
// join"): the tables a pipeline's join_table stages read, how a table is built
// from a topic's records, when it is (re)loaded, and how it is loaded through
// the Kafka client interface.
//
//   JoinTables      the contents every task of a Query reads (EngineOptions::tables);
//   TableBuilder    applies a table topic's records in log order (last value per
//                   record key wins, a null value deletes): shared by the Kafka
//                   loader and the TestStream, so both build the same table;
//   TableRefresh    the reload rule: before the first batch, after every
//                   restore, and every PipelinePlan::table_refresh_batches batches;
//   TableLoader     the EngineInstance's side: the rule plus load_table_topic().
//
// Ownership: the loader (or the TestStream) owns a JoinTables and shares it
// read-only with its Query through a shared_ptr; contents change only between
// batches. Only load_table_topic() and TableLoader::load_if_due() suspend.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/runtime.h>
#include <streamsim/core/time.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/query.h>
#include <streamsim/engine/row.h>
#include <streamsim/kafka.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace streamsim::engine {

// The loaded tables, by topic: key -> value. Values are never null (a null
// value deletes its key), so a null lookup result can only mean "no entry".
class JoinTables {
 public:
  // Installs a table's new contents (a load); the previous ones are dropped.
  void replace(const std::string& topic, std::map<Value, Value> rows);
  // Whether the table has been loaded at least once.
  bool loaded(const std::string& topic) const;
  // The value of key in the table, or null if it has none (or is not loaded).
  const Value* find(const std::string& topic, const Value& key) const;
  // Entries of a loaded table (0 when not loaded).
  size_t size(const std::string& topic) const;
  // How many loads the table has had (replace() calls).
  uint64_t loads(const std::string& topic) const;

 private:
  struct Table {
    std::map<Value, Value> rows;
    uint64_t loads = 0;
  };
  std::map<std::string, Table> tables_;
};

// What building one table found in its topic.
struct TableLoadStats {
  uint64_t records = 0;      // records read (below the end offsets)
  uint64_t tombstones = 0;   // null values: their key was deleted
  uint64_t undecodable = 0;  // records the table decoder refused, or without a key: skipped
};

// Applies a table topic's records in log order, as log compaction would: per
// Kafka record key (the raw bytes), the last record wins and a null value (a
// tombstone) deletes the key. The surviving records are then decoded with the
// table's decoder into the lookup key and value. A record that does not decode,
// has no Kafka key, or decodes to a null value is skipped and counted (it is
// not an input record: there is no dead letter for it). If two surviving
// records decode to the same key, the one applied last wins.
class TableBuilder {
 public:
  explicit TableBuilder(Decoder decoder);
  // Records of one partition in offset order; partitions in ascending order.
  void apply(const InputRecord& record);
  // The table, and what was seen. Leaves the builder empty.
  std::map<Value, Value> finish(TableLoadStats* stats = nullptr);

 private:
  Decoder decoder_;
  // Raw Kafka key -> (order applied, record): the order keeps "last applied
  // wins" for keys that decode alike, independent of the raw bytes' order.
  std::map<std::string, std::pair<uint64_t, InputRecord>> latest_;
  uint64_t applied_ = 0;
  TableLoadStats stats_;
};

// When a query's tables must be (re)loaded: before its first batch, before the
// first batch after any restore, and when table_refresh_batches (if set)
// batches have run since the last load.
class TableRefresh {
 public:
  explicit TableRefresh(uint64_t refresh_batches) : refresh_batches_(refresh_batches) {}
  bool due() const { return stale_ || (refresh_batches_ > 0 && batches_since_load_ >= refresh_batches_); }
  void mark_stale() { stale_ = true; }  // a restore happened
  void loaded() {
    stale_ = false;
    batches_since_load_ = 0;
  }
  void batch_ran() { ++batches_since_load_; }

 private:
  uint64_t refresh_batches_;
  bool stale_ = true;
  uint64_t batches_since_load_ = 0;
};

struct TableLoadOptions {
  Duration timeout = Duration::seconds(10);  // bounds each Kafka call and, times 3, the read
  size_t max_records = 10'000'000;           // records one load may read (else invalid_config)
};

// Reads `topic` through the Kafka client interface with read_committed: its
// partitions (describe_topics), their end offsets at the start of the load
// (list_offsets, latest, read_committed: the last stable offset), then every
// partition from the beginning up to that offset with `reader` (an assign-only
// consumer configured with isolation.level=read_committed; it is assigned and
// unassigned here). Records at or after the end offsets, written while the
// load runs, wait for the next load. Suspends (every wait is a Kafka call or
// Runtime::sleep_for). Errors: kafka_error (field "join_table <topic>") when
// Kafka keeps failing or the read does not reach the end in time;
// invalid_config when more than max_records records would be read.
Result<std::map<Value, Value>, EngineError> load_table_topic(Runtime& rt, kafka::Admin& admin, kafka::Consumer& reader,
                                                             const TableSpec& table, const TableLoadOptions& options,
                                                             TableLoadStats* stats = nullptr);

// The EngineInstance's tables: owns the JoinTables its Query reads and
// reloads them when TableRefresh says so. A pipeline without joins has
// nothing to load (load_if_due() returns at once).
class TableLoader {
 public:
  explicit TableLoader(const Pipeline& pipeline);
  // The options with `tables` set to this loader's tables (for Query::create).
  EngineOptions attach(EngineOptions options) const;
  // A partition was restored: reload before the next batch.
  void mark_stale() { refresh_.mark_stale(); }
  // A batch ran on the loaded tables.
  void batch_ran() { refresh_.batch_ran(); }
  // Loads every table if due. On error the old contents stay and the load
  // stays due (the caller retries before its next batch). Suspends.
  Result<void, EngineError> load_if_due(Runtime& rt, kafka::Admin& admin, kafka::Consumer& reader,
                                        const TableLoadOptions& options);
  const JoinTables& tables() const { return *tables_; }
  uint64_t loads() const { return loads_; }  // completed loads of all tables

 private:
  std::vector<TableSpec> specs_;
  std::shared_ptr<JoinTables> tables_;
  TableRefresh refresh_;
  uint64_t loads_ = 0;
};

}  // namespace streamsim::engine
