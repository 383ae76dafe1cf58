// The watermark tracker and the Query that runs micro-batches over partition tasks.
#include "state_codec.h"

#include <streamsim/core/assert.h>
#include <streamsim/engine/query.h>

#include <algorithm>
#include <limits>

namespace streamsim::engine {

// --- WatermarkTracker --------------------------------------------------------

WatermarkTracker::WatermarkTracker(std::optional<int64_t> delay_ms, std::optional<Duration> idle_timeout,
                                   int64_t skew_ms)
    : delay_ms_(delay_ms), idle_timeout_(idle_timeout), skew_ms_(skew_ms) {
  SS_ASSERT(skew_ms >= -kMaxEventDurationMs && skew_ms <= kMaxEventDurationMs, "the TEST skew is bounded");
}

void WatermarkTracker::add_partition(int32_t partition, std::optional<EventTime> max_event_time, Instant now) {
  SS_ASSERT(!partitions_.count(partition), "a partition is added once");
  // The owned state (restored from the same changelog) supersedes what was
  // read of the partition while another instance owned it.
  remote_.erase(partition);
  // A new partition counts as active from now: it holds the watermark until it
  // has data or the idle timeout passes (it might be about to deliver old data).
  partitions_[partition] = PartitionState{max_event_time, now};
}

void WatermarkTracker::remove_partition(int32_t partition) { partitions_.erase(partition); }

void WatermarkTracker::set_remote(int32_t partition, const std::optional<PartitionProgress>& progress, Instant now) {
  SS_ASSERT(!partitions_.count(partition), "a partition is either owned or remote");
  auto [it, fresh] = remote_.try_emplace(partition, RemoteState{std::nullopt, -1, false, now});
  RemoteState& st = it->second;
  if (!progress) return;
  // Only records moving the committed offset show the owner at work; a stale
  // meta entry read again proves nothing (its owner may be gone).
  if (progress->next_offset > st.next_offset) {
    if (!fresh) st.last_active = std::max(st.last_active, now);
    st.next_offset = progress->next_offset;
    st.owner_idle = progress->idle;
  } else if (progress->next_offset == st.next_offset) {
    st.owner_idle = progress->idle;
  }
  if (progress->max_event_time && (!st.max_event_time || *progress->max_event_time > *st.max_event_time))
    st.max_event_time = progress->max_event_time;
  // Another instance's committed watermark was valid when committed (the
  // minimum over the same partitions, or fewer idle ones), so it is a floor
  // here too: instances converge on the highest committed value.
  if (delay_ms_) raise_to(progress->watermark);
  SS_ASSERT(st.next_offset >= progress->next_offset, "a remote partition's committed offset never goes back");
}

void WatermarkTracker::remove_remote(int32_t partition) { remote_.erase(partition); }

bool WatermarkTracker::remote_idle(const RemoteState& st, Instant now) const {
  return idle_timeout_ && (st.owner_idle || now - st.last_active >= *idle_timeout_);
}

Watermark WatermarkTracker::raise_to(Watermark w) {
  if (w > global_) global_ = w;
  return global_;
}

void WatermarkTracker::observe(int32_t partition, std::optional<EventTime> batch_max, bool had_records,
                               Instant now) {
  auto it = partitions_.find(partition);
  SS_ASSERT(it != partitions_.end(), "observe names a tracked partition");
  if (had_records) it->second.last_active = std::max(it->second.last_active, now);
  if (batch_max && (!it->second.max_event_time || *batch_max > *it->second.max_event_time))
    it->second.max_event_time = batch_max;
}

bool WatermarkTracker::idle(int32_t partition, Instant now) const {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) {
    auto r = remote_.find(partition);
    SS_ASSERT(r != remote_.end(), "idle names a tracked partition");
    return remote_idle(r->second, now);
  }
  return idle_timeout_ && now - it->second.last_active >= *idle_timeout_;
}

std::optional<EventTime> WatermarkTracker::max_event_time(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? std::nullopt : it->second.max_event_time;
}

Watermark WatermarkTracker::advance(Instant now, WatermarkAdvance* report) {
  const Watermark before = global_;
  int32_t active = 0, idle_count = 0;
  bool hold = false;
  int64_t candidate = std::numeric_limits<int64_t>::max();
  // Owned and remote partitions count alike: idle ones are left out, an active
  // one that has never had an event holds the watermark (it may still deliver
  // anything), the others bound it by their max event time - delay.
  auto count = [&](bool is_idle, const std::optional<EventTime>& max_event_time) {
    if (is_idle) {
      ++idle_count;
      return;
    }
    ++active;
    if (!max_event_time) {
      hold = true;
      return;
    }
    if (delay_ms_) candidate = std::min(candidate, max_event_time->ms() - *delay_ms_);
  };
  for (const auto& [p, st] : partitions_) count(idle(p, now), st.max_event_time);
  for (const auto& [p, st] : remote_) count(remote_idle(st, now), st.max_event_time);
  // With every partition idle (or none), nothing proves progress: hold.
  if (delay_ms_ && active > 0 && !hold) raise_to(Watermark::from_ms(candidate + skew_ms_));
  SS_ASSERT(global_ >= before, "the global watermark never goes backwards");
  if (report) {
    report->from = before;
    report->to = global_;
    report->active_partitions = active;
    report->idle_partitions = idle_count;
  }
  return global_;
}

// --- PartitionProgress -------------------------------------------------------

std::optional<PartitionProgress> decode_progress(std::string_view key, std::string_view value) {
  auto k = detail::decode_key(key);
  if (!k || k->kind != detail::StateKind::meta) return std::nullopt;
  auto m = detail::decode_meta(value);
  if (!m) return std::nullopt;
  return PartitionProgress{m->max_event_time, m->next_offset, m->idle, m->watermark};
}

PartitionProgress merge_progress(const PartitionProgress& known, const PartitionProgress& reading) {
  PartitionProgress out = known;
  if (reading.max_event_time && (!out.max_event_time || *reading.max_event_time > *out.max_event_time))
    out.max_event_time = reading.max_event_time;
  if (reading.next_offset >= known.next_offset) out.idle = reading.idle;
  out.next_offset = std::max(known.next_offset, reading.next_offset);
  out.watermark = std::max(known.watermark, reading.watermark);
  SS_ASSERT(out.next_offset >= reading.next_offset && out.watermark >= known.watermark, "progress only grows");
  return out;
}

// --- BatchOutput -------------------------------------------------------------

std::vector<OutputRow> BatchOutput::rows() const {
  std::vector<OutputRow> v;
  for (const auto& [p, t] : tasks) v.insert(v.end(), t.rows.begin(), t.rows.end());
  return v;
}
std::vector<Row> BatchOutput::late() const {
  std::vector<Row> v;
  for (const auto& [p, t] : tasks) v.insert(v.end(), t.late.begin(), t.late.end());
  return v;
}
std::vector<DeadLetter> BatchOutput::dead_letters() const {
  std::vector<DeadLetter> v;
  for (const auto& [p, t] : tasks) v.insert(v.end(), t.dead_letters.begin(), t.dead_letters.end());
  return v;
}

// --- Query -------------------------------------------------------------------

struct Query::Impl {
  Impl(Pipeline p, EngineOptions o)
      : pipeline(std::move(p)),
        options(o),
        tracker(pipeline.plan().watermark_delay_ms, pipeline.plan().idle_timeout, o.TEST_watermark_skew_ms) {}

  Pipeline pipeline;
  EngineOptions options;
  WatermarkTracker tracker;
  std::map<int32_t, std::unique_ptr<PartitionTask>> tasks;
  EngineMetrics metrics;
  uint64_t next_batch = 1;
  Instant last_processing_time = Instant::from_ns(std::numeric_limits<int64_t>::min());
  bool failed = false;

  bool has_watermark() const { return pipeline.plan().watermark_delay_ms.has_value(); }

  Result<void, EngineError> add(int32_t partition, const std::vector<ChangelogEntry>* restored, Instant now) {
    SS_ASSERT(!tasks.count(partition), "a partition is owned once");
    auto task = std::make_unique<PartitionTask>(pipeline, partition, options);
    if (restored) {
      if (auto r = task->restore(*restored); !r) return r;
      next_batch = std::max(next_batch, task->restored_batch());
      // The stored watermark was valid when written; raising to it keeps the
      // watermark from going backwards across a restore.
      if (has_watermark()) tracker.raise_to(task->restored_watermark());
    }
    tracker.add_partition(partition, task->max_event_time(), now);
    tasks.emplace(partition, std::move(task));
    return {};
  }

  void refresh_metrics() {
    uint64_t n = 0;
    for (const auto& [p, t] : tasks) n += t->state_entries();
    metrics.state_entries = n;
    metrics.watermark = tracker.current();
  }
};

Query::Query(Pipeline pipeline, EngineOptions options)
    : impl_(std::make_unique<Impl>(std::move(pipeline), options)) {}
Query::Query(Query&&) noexcept = default;
Query& Query::operator=(Query&&) noexcept = default;
Query::~Query() = default;

Query Query::create(Pipeline pipeline, const std::vector<int32_t>& partitions, Instant now, EngineOptions options) {
  Query q(std::move(pipeline), options);
  for (int32_t p : partitions) {
    auto r = q.impl_->add(p, nullptr, now);
    SS_ASSERT(r.ok(), "adding a fresh partition cannot fail");
  }
  q.impl_->refresh_metrics();
  return q;
}

Result<Query, EngineError> Query::restore(Pipeline pipeline, const Checkpoint& checkpoint, Instant now,
                                          EngineOptions options) {
  Query q(std::move(pipeline), options);
  for (const auto& [p, entries] : checkpoint.partitions) {
    if (auto r = q.impl_->add(p, &entries, now); !r) return unexpected(r.error());
  }
  q.impl_->refresh_metrics();
  return q;
}

Result<BatchOutput, EngineError> Query::run_batch(const MicroBatch& batch) {
  Impl& s = *impl_;
  if (s.failed)
    return unexpected(EngineError{EngineErrc::query_failed, "", "an earlier batch failed; restore from the last checkpoint"});
  SS_ASSERT(batch.processing_time >= s.last_processing_time, "processing time never goes backwards");
  // Checks that leave the query untouched come first: a refused batch changes nothing.
  size_t n = 0;
  for (const auto& [p, recs] : batch.records) {
    if (!s.tasks.count(p))
      return unexpected(EngineError{EngineErrc::unknown_partition, s.pipeline.plan().source_topic + "[" +
                                                                       std::to_string(p) + "]",
                                    "this query does not own the partition"});
    n += recs.size();
  }
  if (n > s.options.limits.max_records_per_batch)
    return unexpected(EngineError{EngineErrc::batch_limit, "", std::to_string(n) + " records exceed "
                                  "EngineLimits::max_records_per_batch (" +
                                  std::to_string(s.options.limits.max_records_per_batch) + ")"});
  s.last_processing_time = batch.processing_time;

  const uint64_t id = s.next_batch;
  const Watermark previous = s.tracker.current();
  if (s.has_watermark()) s.tracker.raise_to(batch.watermark_floor);
  BatchOutput out;
  out.batch = id;
  out.watermark_start = s.tracker.current();
  const uint64_t records_before = s.metrics.records_in, rows_before = s.metrics.rows_out;

  // Phase 1: every task ingests against the same starting watermark.
  static const std::vector<InputRecord> kNone;
  for (auto& [p, task] : s.tasks) {
    auto it = batch.records.find(p);
    const std::vector<InputRecord>& recs = it == batch.records.end() ? kNone : it->second;
    if (auto r = task->ingest(id, recs, out.watermark_start, out.tasks[p], s.metrics); !r) {
      s.failed = true;
      return unexpected(r.error());
    }
    s.tracker.observe(p, task->batch_max_event_time(), !recs.empty(), batch.processing_time);
  }
  // Phase 2: one new watermark for all, then every task emits and evicts with it.
  WatermarkAdvance adv;
  adv.batch = id;
  out.watermark_end = s.tracker.advance(batch.processing_time, &adv);
  SS_ASSERT(out.watermark_end >= out.watermark_start && out.watermark_start >= previous,
            "the watermark only moves forward within a batch");
  for (auto& [p, task] : s.tasks) {
    // The meta entry shares the partition's idleness with other instances.
    const bool idle = s.has_watermark() && s.tracker.idle(p, batch.processing_time);
    task->mark_idle(idle);
    out.tasks[p].idle = idle;
    task->finish(id, out.watermark_end, out.tasks[p], s.metrics);
  }

  ++s.metrics.batches;
  s.next_batch = id + 1;
  s.refresh_metrics();
  if (s.options.observer) {
    if (out.watermark_end > previous) {
      adv.from = previous;
      s.options.observer->on_watermark(adv);
    }
    s.options.observer->on_batch(BatchSummary{id, s.metrics.records_in - records_before,
                                              s.metrics.rows_out - rows_before, out.watermark_start,
                                              out.watermark_end});
  }
  return out;
}

Result<void, EngineError> Query::add_partition(int32_t partition, const std::vector<ChangelogEntry>& restored,
                                               Instant now) {
  auto r = impl_->add(partition, &restored, now);
  impl_->refresh_metrics();
  return r;
}

void Query::remove_partition(int32_t partition) {
  impl_->tasks.erase(partition);
  impl_->tracker.remove_partition(partition);
  impl_->refresh_metrics();
}

void Query::set_remote_progress(int32_t partition, const std::optional<PartitionProgress>& progress, Instant now) {
  SS_ASSERT(!impl_->tasks.count(partition), "remote progress is for partitions the query does not own");
  impl_->tracker.set_remote(partition, progress, now);
  impl_->refresh_metrics();
}

void Query::remove_remote(int32_t partition) { impl_->tracker.remove_remote(partition); }

Checkpoint Query::checkpoint() const {
  SS_ASSERT(!impl_->failed, "a failed query has no consistent state to checkpoint");
  Checkpoint cp;
  for (const auto& [p, t] : impl_->tasks) cp.partitions[p] = t->snapshot();
  return cp;
}

std::vector<int32_t> Query::partitions() const {
  std::vector<int32_t> v;
  for (const auto& [p, t] : impl_->tasks) v.push_back(p);
  return v;
}
Watermark Query::watermark() const { return impl_->tracker.current(); }
const EngineMetrics& Query::metrics() const { return impl_->metrics; }
uint64_t Query::next_batch() const { return impl_->next_batch; }
bool Query::failed() const { return impl_->failed; }
const Pipeline& Query::pipeline() const { return impl_->pipeline; }
const PartitionTask* Query::task(int32_t partition) const {
  auto it = impl_->tasks.find(partition);
  return it == impl_->tasks.end() ? nullptr : it->second.get();
}

}  // namespace streamsim::engine
