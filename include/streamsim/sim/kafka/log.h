// The log of one partition replica on a simulated broker's disk.
//
// Kafka's on-disk model, reduced to what changes behaviour under faults:
// - The log is a sequence of record batches. Each batch has a base offset, a
//   record count, the leader epoch it was written in, producer id / epoch / base
//   sequence (idempotence), transactional and control flags (a control batch is
//   a COMMIT or ABORT marker), and a CRC over its contents.
// - Batches live in segment files "<dir>/<base offset, 20 digits>.log"; a new
//   segment starts when the active one holds segment_bytes or more. Each batch is
//   written as one framed record (core/checksum.h), so a torn tail or a flipped
//   bit is detected on recovery and cut off there.
// - Like Kafka's default (log.flush.interval.messages = infinite), append does
//   not fsync: durability comes from replication. flush() fsyncs the segments
//   written since the last flush (a "flush setting" of the broker calls it per
//   append or periodically). Unflushed batches may be lost or torn by a crash;
//   recovery keeps the valid prefix.
// - The leader-epoch cache maps each leader epoch to the first offset written in
//   it; followers use end_offset_for_epoch() to truncate after a leader change,
//   as Kafka's OffsetsForLeaderEpoch does (KIP-101).
//
// All calls that touch Storage suspend the calling task (simulated disk latency).
// Not thread-safe; owned by the broker's partition state. Because the mutating
// calls (recover, append, append_replica, flush, truncate_to) suspend, two tasks
// must not run them at once: serialise them (core/sync.h Mutex); an overlap
// asserts. read() does not suspend and sees only completed calls.
// After an io_error from a mutating call the on-disk state is unknown, so every
// later mutating call returns io_error too (Kafka takes the log dir offline);
// a new PartitionLog's recover() rebuilds from the disk.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/storage.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamsim::sim::kafka {

struct Record {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = 0;
};

enum class ControlType : uint8_t { none = 0, commit = 1, abort = 2 };

// The records of a batch: a vector shared copy-on-write, so copying a Batch
// (the leader stamping its offset and epoch on a producer's batch, a retry, a
// test's copy) bumps a reference count instead of copying every key and value.
// Const access never copies. Every mutating call first makes the vector
// private to this list if another list shares it, so a change through one copy
// is never seen through another. Not thread-safe (the simulation is one thread).
class RecordList {
 public:
  using value_type = Record;
  using const_iterator = std::vector<Record>::const_iterator;

  RecordList() = default;
  RecordList(std::vector<Record> v) : v_(std::make_shared<std::vector<Record>>(std::move(v))) {}  // NOLINT: implicit by design
  RecordList(std::initializer_list<Record> l) : v_(std::make_shared<std::vector<Record>>(l)) {}

  size_t size() const { return v_ ? v_->size() : 0; }
  bool empty() const { return size() == 0; }
  const_iterator begin() const { return view().begin(); }
  const_iterator end() const { return view().end(); }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }
  const Record& operator[](size_t i) const { return view()[i]; }
  const Record& front() const { return view().front(); }
  const Record& back() const { return view().back(); }
  const std::vector<Record>& view() const { return v_ ? *v_ : empty_vector(); }

  // No non-const begin/end/operator[]: a loop that only reads must not copy
  // because its Batch happens to be non-const. Changing a record goes through
  // own(), which says that it may copy.
  void push_back(Record r) { own().push_back(std::move(r)); }
  template <class... A>
  Record& emplace_back(A&&... a) { return own().emplace_back(std::forward<A>(a)...); }
  void reserve(size_t n) { own().reserve(n); }
  void resize(size_t n) { own().resize(n); }
  void clear() { v_.reset(); }
  // The vector itself, private to this list (copied first if shared).
  std::vector<Record>& own() {
    if (!v_) {
      v_ = std::make_shared<std::vector<Record>>();
    } else if (v_.use_count() > 1) {
      v_ = std::make_shared<std::vector<Record>>(*v_);
    }
    return *v_;
  }
  // True when both lists share one vector (tests: a copy did not copy records).
  bool TEST_shares_with(const RecordList& o) const { return v_ != nullptr && v_ == o.v_; }

 private:
  static const std::vector<Record>& empty_vector() {
    static const std::vector<Record> e;
    return e;
  }
  std::shared_ptr<std::vector<Record>> v_;
};

struct Batch {
  int64_t base_offset = 0;     // assigned by the log on append
  int32_t leader_epoch = 0;
  int64_t producer_id = -1;    // -1: not idempotent
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;  // -1: no sequence
  bool transactional = false;
  ControlType control = ControlType::none;  // control batches hold one marker record
  RecordList records;

  int64_t last_offset() const { return base_offset + static_cast<int64_t>(records.size()) - 1; }
  int64_t next_offset() const { return base_offset + static_cast<int64_t>(records.size()); }
};

// A batch as a log holds it: immutable once written, shared by the leader's log,
// fetch responses, the followers' logs and consumers, so replication and reads
// move pointers instead of copying records (a batch is never changed after the
// log that first wrote it sealed it, so sharing is safe).
struct SealedBatch {
  Batch batch;
  // CRC-32C of this batch's frame (core/checksum.h), computed once by the log
  // that first wrote it: replicas write the same bytes and reuse it.
  uint32_t frame_crc = 0;
  // encode_batch()'s size of this batch, also computed once by that log, so a
  // follower does not walk every record again to size its frame (0: unknown,
  // computed on use; a wrong value is caught by the encoder's size assertion).
  uint64_t encoded_bytes = 0;
  // The whole frame ([u32 length][u32 crc][payload], checksum.h) as the log that
  // first wrote the batch built it. A replica writing this batch appends these
  // very bytes through Storage::write_shared, so the simulated disks of a
  // partition's replicas hold one copy of them, and followers neither encode nor
  // copy. Empty for a batch sealed from a decode (recovery, tests), which each
  // replica encodes itself. A copy whose batch is changed (cut to fewer
  // records) must clear it, as it must clear encoded_bytes; the log checks the
  // frame's offset, epoch and record count against the batch before using it.
  SharedBytes frame;
};
using BatchPtr = std::shared_ptr<const SealedBatch>;

// Serialisation of a batch (little-endian, length-prefixed fields). decode()
// rejects anything malformed rather than trusting lengths read from disk.
std::string encode_batch(const Batch& b);
// The same bytes appended to out (one allocation: the size is computed first).
void encode_batch_into(const Batch& b, std::string& out);
bool decode_batch(std::string_view bytes, Batch* out);

enum class LogErrc { io_error = 1, offset_out_of_range, corrupt };

struct LogConfig {
  std::string dir;                  // e.g. "kafka/clicks-0"
  uint64_t segment_bytes = 1 << 20; // roll the active segment once it holds this much (> 0)
};

struct RecoveryReport {
  uint64_t batches = 0;
  uint64_t segments = 0;
  bool truncated_corrupt_tail = false;
  uint64_t bytes_cut = 0;
};

class PartitionLog {
 public:
  PartitionLog(Storage& storage, LogConfig cfg);

  // Reads every segment, rebuilds the in-memory index and epoch cache, cuts a
  // torn or corrupt tail (and everything after it, including later segments).
  // The cut is durable when it returns. Precondition: called once, on a fresh
  // log, before any other mutating call.
  Result<RecoveryReport, LogErrc> recover();

  // Appends a batch: assigns base_offset = log end offset and returns it.
  // Precondition: leader_epoch >= latest epoch in the cache; records non-empty.
  Result<int64_t, LogErrc> append(Batch b);
  // Appends a batch replicated from the leader, keeping its base_offset and
  // sharing the leader's sealed batch (no copy, no second checksum pass).
  // Precondition: b->batch.base_offset == log end offset.
  Result<void, LogErrc> append_replica(BatchPtr b);
  // The same for a batch built by hand (tests): seals a copy first.
  Result<void, LogErrc> append_replica(const Batch& b);
  // fsyncs segments with unflushed data (and the directory if a segment was created).
  Result<void, LogErrc> flush();

  // Batches whose offsets overlap [from, ...), at most max_bytes of encoded data
  // (at least one batch if any). offset_out_of_range if from > end or < start.
  Result<std::vector<Batch>, LogErrc> read(int64_t from, uint64_t max_bytes) const;
  // The same batches, shared rather than copied (the broker's read path).
  Result<std::vector<BatchPtr>, LogErrc> read_shared(int64_t from, uint64_t max_bytes) const;

  // Removes every record at or after `offset` (batch-aligned: the batch holding
  // `offset` goes too and end becomes that batch's base offset). Updates the
  // epoch cache. Returns the new end offset. Durable when it returns (it flushes):
  // removed records never come back after a crash.
  // offset_out_of_range if offset < start_offset(); no-op if offset >= end.
  Result<int64_t, LogErrc> truncate_to(int64_t offset);

  int64_t start_offset() const { return 0; }
  int64_t end_offset() const { return end_; }  // log end offset (next offset to assign)
  int32_t latest_epoch() const;                // -1 if empty
  // Kafka's OffsetsForLeaderEpoch: the end offset of `epoch` as this log knows
  // it (the start offset of the next larger epoch, or end_offset() for the
  // latest), and the largest epoch <= `epoch` it has. nullopt if no epoch <= it.
  std::optional<std::pair<int32_t, int64_t>> end_offset_for_epoch(int32_t epoch) const;

  // Batches in memory (the index), for tests and for the broker's reads.
  size_t batch_count() const { return batches_.size(); }
  uint64_t unflushed_bytes() const { return unflushed_; }

 private:
  struct Segment {
    int64_t base_offset;
    std::string path;
    uint64_t bytes;
  };
  struct Entry {
    BatchPtr batch;
    size_t segment;
    uint64_t encoded_bytes;  // encode_batch() size (read()'s max_bytes counts these)
    uint64_t file_pos;       // where its frame starts in the segment file
  };
  // Writes a sealed batch: its shared frame if it has one, else the frame
  // frame_into_scratch() has just built.
  Result<void, LogErrc> write_entry(BatchPtr b);
  // Encodes b into scratch_ behind room for the frame header. known_size is
  // encode_batch()'s size of b if the caller has it (0: compute it).
  void frame_into_scratch(const Batch& b, uint64_t known_size = 0);
  // Makes a batch immutable and checksums it.
  static BatchPtr seal(Batch b);
  Result<void, LogErrc> flush_dirty();
  Unexpected<LogErrc> fail();            // marks the log failed; returns io_error
  size_t index_of(int64_t offset) const;  // batch holding offset (binary search)
  Storage& storage_;
  LogConfig cfg_;
  std::vector<Segment> segments_;
  std::vector<Entry> batches_;  // in offset order
  std::map<int32_t, int64_t> epochs_;  // leader epoch -> start offset
  int64_t end_ = 0;
  uint64_t unflushed_ = 0;
  bool dir_dirty_ = false;
  std::vector<size_t> dirty_segments_;  // sorted, unique
  // The frame being written: kept between appends so its memory is reused.
  // Storage::write may suspend before it copies, so this lives as long as the
  // call, and the busy flag keeps a second mutating call from reusing it.
  std::unique_ptr<char[]> scratch_;
  size_t scratch_cap_ = 0;
  size_t scratch_len_ = 0;  // bytes of the current frame
  bool busy_ = false;    // a mutating call is suspended in Storage
  bool failed_ = false;  // an I/O error left the disk state unknown
};

}  // namespace streamsim::sim::kafka
