// Timelines for reports: a TraceSink that keeps the few trace events a reader
// wants to see on a time axis (faults, crashes, leader changes, transaction
// decisions) and counts network deliveries, plus helpers that reduce raw
// observations to bounded series (proto/report.proto, Timeline and Series).
//
// Observing never changes a run: the Tracer hashes an event before it calls its
// sink, and the recorder only copies what it is shown. It forwards every event
// unchanged to an optional second sink (the user's --trace writer).
//
// Memory is bounded whatever the run's length: at most max_events events are
// kept (the rest are counted in events_dropped), and deliveries are counted in
// 10 ms cells (100 cells per simulated second, 4 bytes each).
#pragma once

#include <streamsim/core/trace.h>
#include <streamsim/proto/report.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::reports {

// How many points a series of a report has at most, and how many events a
// timeline lists at most.
inline constexpr size_t kMaxSeriesPoints = 400;
inline constexpr size_t kMaxTimelineEvents = 3000;

class TimelineRecorder final : public TraceSink {
 public:
  // tee: receives every event after the recorder (may be null; not owned and
  // must outlive the recorder's use as a sink).
  explicit TimelineRecorder(TraceSink* tee = nullptr, size_t max_events = kMaxTimelineEvents);
  void on_event(const TraceEvent& ev, std::string_view node_name) override;

  // The timeline of [0, end_ns]: the kept events, the deliveries per second and
  // the transaction decisions per bucket, each series at most max_points long.
  // heal_ns: the end of the safety phase (0 if the run never got there).
  proto::Timeline finish(int64_t end_ns, int64_t heal_ns, size_t max_points = kMaxSeriesPoints) const;

  uint64_t deliveries() const { return deliveries_; }

 private:
  TraceSink* tee_;
  size_t max_events_;
  std::vector<proto::TimelineEvent> events_;
  uint64_t dropped_ = 0;
  uint64_t deliveries_ = 0;
  std::vector<uint32_t> deliver_cells_;  // deliveries per 10 ms of virtual time
  std::vector<int64_t> commits_ns_, aborts_ns_;
};

// The bucket width that splits [start_ns, end_ns] into at most max_points
// buckets: a round number of milliseconds, at least 1 ms.
int64_t bucket_width_ns(int64_t start_ns, int64_t end_ns, size_t max_points);

// Counts times_ns (any order) into buckets of bucket_width_ns(start, end,
// max_points); with per_second the value is the count divided by the bucket
// width in seconds. Every bucket of the range gets a point (zero included).
proto::Series count_series(const std::string& name, const std::string& unit, const std::vector<int64_t>& times_ns,
                           int64_t start_ns, int64_t end_ns, size_t max_points, bool per_second);

// Reduces time-sorted samples (t_ns, value) to at most one point per bucket:
// the largest value of the samples in the bucket. Buckets without a sample get
// no point (the chart draws a step to the next one).
proto::Series sample_series(const std::string& name, const std::string& unit,
                            const std::vector<std::pair<int64_t, double>>& samples, int64_t start_ns, int64_t end_ns,
                            size_t max_points);

}  // namespace streamsim::reports
