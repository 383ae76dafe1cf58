// read_committed filtering: see read_committed.h.
#include "read_committed.h"

#include <streamsim/core/assert.h>

#include <algorithm>
#include <set>

namespace streamsim::sim::kafka {

VisibleRecords visible_records(const std::vector<BatchPtr>& batches, const std::vector<AbortedTxn>& aborted,
                               bool read_committed, int64_t from, size_t max_records) {
  SS_ASSERT(max_records > 0, "visible_records for zero records");
  VisibleRecords out;
  out.next_offset = from;
  // Aborted transactions by first offset: the Java consumer's priority queue.
  std::vector<AbortedTxn> pending = aborted;
  std::sort(pending.begin(), pending.end(), [](const AbortedTxn& a, const AbortedTxn& b) {
    return a.first_offset != b.first_offset ? a.first_offset < b.first_offset : a.producer_id < b.producer_id;
  });
  size_t available = 0;
  for (const BatchPtr& bp : batches) available += bp->batch.records.size();
  out.records.reserve(std::min(available, max_records));
  size_t next_aborted = 0;
  std::set<int64_t> aborting;  // producers inside an aborted transaction at this point
  for (const BatchPtr& bp : batches) {
    const Batch& b = bp->batch;
    if (b.records.empty() || b.next_offset() <= from) continue;  // wholly before the position
    SS_ASSERT(b.base_offset >= out.next_offset || out.next_offset == from, "batches out of offset order");
    if (read_committed) {
      while (next_aborted < pending.size() && pending[next_aborted].first_offset <= b.last_offset()) {
        aborting.insert(pending[next_aborted].producer_id);
        ++next_aborted;
      }
    }
    if (b.control != ControlType::none) {
      // A marker ends its producer's transaction; it is never a record for the application.
      if (b.control == ControlType::abort) aborting.erase(b.producer_id);
      out.next_offset = b.next_offset();
      continue;
    }
    if (read_committed && b.transactional && aborting.count(b.producer_id)) {
      out.next_offset = b.next_offset();  // aborted data: skipped, never returned
      continue;
    }
    for (size_t i = 0; i < b.records.size(); ++i) {
      const int64_t off = b.base_offset + static_cast<int64_t>(i);
      if (off < from) continue;
      if (out.records.size() >= max_records) return out;  // next_offset stays at the first record not returned
      out.records.push_back(VisibleRecord{off, b.leader_epoch, b.records[i]});  // a reference, not a copy
      out.next_offset = off + 1;
    }
  }
  return out;
}

}  // namespace streamsim::sim::kafka
