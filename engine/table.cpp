// The static side of stream-static joins (include/streamsim/engine/table.h):
// table contents, building a table from a topic's records, the reload rule,
// and loading a table topic through the Kafka client interface.
#include <streamsim/core/assert.h>
#include <streamsim/engine/table.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <set>

namespace streamsim::engine {

namespace k = streamsim::kafka;

// --- JoinTables ----------------------------------------------------------------

void JoinTables::replace(const std::string& topic, std::map<Value, Value> rows) {
  SS_ASSERT(std::none_of(rows.begin(), rows.end(), [](const auto& kv) { return kv.second.is_null(); }),
            "a table holds no null values (a null value deletes its key)");
  Table& t = tables_[topic];
  t.rows = std::move(rows);
  ++t.loads;
}

bool JoinTables::loaded(const std::string& topic) const { return tables_.count(topic) > 0; }

const Value* JoinTables::find(const std::string& topic, const Value& key) const {
  auto t = tables_.find(topic);
  if (t == tables_.end()) return nullptr;
  auto it = t->second.rows.find(key);
  return it == t->second.rows.end() ? nullptr : &it->second;
}

size_t JoinTables::size(const std::string& topic) const {
  auto t = tables_.find(topic);
  return t == tables_.end() ? 0 : t->second.rows.size();
}

uint64_t JoinTables::loads(const std::string& topic) const {
  auto t = tables_.find(topic);
  return t == tables_.end() ? 0 : t->second.loads;
}

// --- TableBuilder ----------------------------------------------------------------

TableBuilder::TableBuilder(Decoder decoder) : decoder_(std::move(decoder)) {
  SS_ASSERT(static_cast<bool>(decoder_), "a table has a decoder");
}

void TableBuilder::apply(const InputRecord& record) {
  ++stats_.records;
  // Compaction keeps the last record per Kafka key; a record without a key
  // cannot be compacted (Kafka refuses it on a compacted topic): skipped.
  if (!record.key) {
    ++stats_.undecodable;
    return;
  }
  if (!record.value) {
    ++stats_.tombstones;
    latest_.erase(*record.key);
    return;
  }
  latest_.insert_or_assign(*record.key, std::make_pair(applied_++, record));
}

std::map<Value, Value> TableBuilder::finish(TableLoadStats* stats) {
  // Decode the survivors in the order they were applied, so that of two
  // records decoding to the same key the later one wins, as it would in a
  // table keyed by the decoded key.
  std::vector<const std::pair<uint64_t, InputRecord>*> order;
  order.reserve(latest_.size());
  for (const auto& [raw, rec] : latest_) order.push_back(&rec);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  std::map<Value, Value> rows;
  for (const auto* rec : order) {
    auto d = decoder_(rec->second);
    if (!d) {
      ++stats_.undecodable;
      continue;
    }
    if (d->value.is_null()) {
      ++stats_.tombstones;
      rows.erase(d->key);
      continue;
    }
    rows.insert_or_assign(std::move(d->key), std::move(d->value));
  }
  if (stats) *stats = stats_;
  latest_.clear();
  applied_ = 0;
  stats_ = {};
  return rows;
}

// --- loading through Kafka ------------------------------------------------------

namespace {

constexpr int kMaxAttempts = 10;
constexpr size_t kPollRecords = 10'000;

std::string describe(const k::Error& e) { return std::string(k::to_string(e.code)) + ": " + e.message; }

// A short backoff that grows with the attempt, on the Runtime's clock. Suspends.
void back_off(Runtime& rt, int attempt) { rt.sleep_for(Duration::millis(100) * (int64_t{1} << std::min(attempt, 4))); }

}  // namespace

Result<std::map<Value, Value>, EngineError> load_table_topic(Runtime& rt, k::Admin& admin, k::Consumer& reader,
                                                             const TableSpec& table, const TableLoadOptions& options,
                                                             TableLoadStats* stats) {
  SS_ASSERT(!table.topic.empty() && table.decoder, "a table names its topic and decoder");
  const std::string where = "join_table " + table.topic;
  auto fail = [&](std::string msg, const std::optional<k::Error>& e) {
    return unexpected(EngineError{EngineErrc::kafka_error, where, msg + (e ? ": " + describe(*e) : std::string())});
  };

  // The partitions, then their last stable offsets: the load reads exactly
  // what was committed when it began.
  int32_t partitions = 0;
  std::optional<k::Error> last;
  for (int attempt = 0; attempt < kMaxAttempts && partitions == 0; ++attempt) {
    auto d = admin.describe_topics({table.topic}, options.timeout);
    if (d.ok() && d->size() == 1 && !(*d)[0].partitions.empty()) {
      partitions = static_cast<int32_t>((*d)[0].partitions.size());
      break;
    }
    if (!d.ok()) last = d.error();
    back_off(rt, attempt);
  }
  if (partitions == 0) return fail("cannot describe table topic '" + table.topic + "'", last);

  std::vector<k::TopicPartition> tps;
  for (int32_t p = 0; p < partitions; ++p) tps.push_back(k::TopicPartition{table.topic, p});
  std::map<int32_t, int64_t> end;
  for (int attempt = 0; attempt < kMaxAttempts && end.empty(); ++attempt) {
    auto r = admin.list_offsets(tps, k::OffsetSpec::latest, /*read_committed=*/true, options.timeout);
    if (r.ok() && r->size() == tps.size()) {
      std::map<int32_t, int64_t> got;
      for (const auto& o : *r) {
        if (o.error) last = *o.error;
        else if (!o.offset.is_logical()) got[o.tp.partition] = o.offset.value;
      }
      if (got.size() == tps.size()) end = std::move(got);
    } else if (!r.ok()) {
      last = r.error();
    }
    if (end.empty()) back_off(rt, attempt);
  }
  if (end.empty()) return fail("cannot list the end offsets of table topic '" + table.topic + "'", last);

  // Read every non-empty partition from the beginning to its end offset.
  std::vector<k::TopicPartitionOffset> assignment;
  std::set<int32_t> pending;
  for (const auto& [p, e] : end) {
    if (e <= 0) continue;
    assignment.push_back({{table.topic, p}, k::KafkaOffset::beginning(), std::nullopt});
    pending.insert(p);
  }
  std::map<int32_t, std::vector<InputRecord>> records;
  std::map<int32_t, int64_t> next;  // per partition: records below it were taken
  size_t total = 0;
  if (!assignment.empty()) {
    if (auto a = reader.assign(assignment); !a) return fail("cannot assign the table topic", a.error());
    const Instant deadline = rt.now() + options.timeout * 3;
    while (!pending.empty()) {
      for (auto it = pending.begin(); it != pending.end();) {
        auto pos = reader.position(k::TopicPartition{table.topic, *it});
        if (pos.ok() && !pos->is_logical() && pos->value >= end.at(*it)) it = pending.erase(it);
        else ++it;
      }
      if (pending.empty()) break;
      if (rt.now() >= deadline) {
        (void)reader.assign({});
        return fail("table topic '" + table.topic + "' not read to its end offsets in time", std::nullopt);
      }
      auto got = reader.poll(Duration::millis(100), kPollRecords);
      if (!got.ok()) continue;
      for (const auto& r : *got) {
        if (r.tp.topic != table.topic || !end.count(r.tp.partition)) continue;
        // Written after the load began: the next load sees it.
        if (r.offset.value >= end.at(r.tp.partition)) continue;
        int64_t& n = next[r.tp.partition];
        if (r.offset.value < n) continue;  // fetched twice: applied already
        n = r.offset.value + 1;
        if (++total > options.max_records) {
          (void)reader.assign({});
          return unexpected(EngineError{EngineErrc::invalid_config, where,
                                        "the table topic holds more than " + std::to_string(options.max_records) +
                                            " records (TableLoadOptions::max_records)"});
        }
        InputRecord in;
        in.source = Provenance{r.tp.topic, r.tp.partition, r.offset.value};
        in.key = r.key;
        in.value = r.value;
        in.timestamp_ms = r.timestamp_ms;
        records[r.tp.partition].push_back(std::move(in));
      }
    }
    (void)reader.assign({});
  }

  // Partitions in ascending order, each in offset order: the table does not
  // depend on how the polls interleaved the partitions.
  TableBuilder builder(table.decoder);
  for (const auto& [p, recs] : records) {
    SS_ASSERT(std::is_sorted(recs.begin(), recs.end(),
                             [](const InputRecord& a, const InputRecord& b) { return a.source.offset < b.source.offset; }),
              "a partition's table records are applied in offset order");
    for (const InputRecord& r : recs) builder.apply(r);
  }
  return builder.finish(stats);
}

// --- TableLoader -----------------------------------------------------------------

TableLoader::TableLoader(const Pipeline& pipeline)
    : specs_(pipeline.plan().tables),
      tables_(std::make_shared<JoinTables>()),
      refresh_(pipeline.plan().table_refresh_batches) {}

EngineOptions TableLoader::attach(EngineOptions options) const {
  options.tables = tables_;
  return options;
}

Result<void, EngineError> TableLoader::load_if_due(Runtime& rt, k::Admin& admin, k::Consumer& reader,
                                                   const TableLoadOptions& options) {
  if (specs_.empty() || !refresh_.due()) return {};
  // All tables are read first and installed together, so a batch never sees
  // one table reloaded and another not.
  std::vector<std::map<Value, Value>> loaded;
  for (const TableSpec& spec : specs_) {
    TableLoadStats st;
    auto rows = load_table_topic(rt, admin, reader, spec, options, &st);
    if (!rows) return unexpected(rows.error());
    rt.log().info("join table {}: {} entries from {} records ({} tombstones, {} undecodable)", spec.topic,
                  rows->size(), st.records, st.tombstones, st.undecodable);
    loaded.push_back(std::move(*rows));
  }
  SS_ASSERT(loaded.size() == specs_.size(), "every table was loaded");
  for (size_t i = 0; i < specs_.size(); ++i) tables_->replace(specs_[i].topic, std::move(loaded[i]));
  refresh_.loaded();
  ++loads_;
  return {};
}

}  // namespace streamsim::engine
