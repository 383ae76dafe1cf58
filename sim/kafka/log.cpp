// The on-disk log of one partition replica: batch encoding, segment files framed
// with core/checksum.h, crash recovery, truncation and the leader-epoch cache.
// See include/streamsim/sim/kafka/log.h for the contract.
#include <streamsim/core/assert.h>
#include <streamsim/core/checksum.h>
#include <streamsim/sim/kafka/log.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <utility>

namespace streamsim::sim::kafka {
namespace {

// ---------------------------------------------------------------------------
// Batch encoding, format version 1. Every integer is fixed-width little-endian:
//
//   u8  version (1)
//   i64 base_offset   i32 leader_epoch   i64 producer_id   i16 producer_epoch
//   i32 base_sequence
//   u8  attributes: bit 0 transactional, bits 1-2 control type (0..2), rest 0
//   u32 record count, then each record:
//     u8  presence: bit 0 key, bit 1 value, rest 0
//     i64 timestamp_ms
//     [u32 length, bytes] key    (only if present)
//     [u32 length, bytes] value  (only if present)
//     u32 header count, then each header: [u32 length, bytes] key, [u32 length, bytes] value
//
// The decoder accepts exactly what the encoder produces (reserved bits zero, no
// trailing bytes), so the encoding is canonical: decode(x) == b implies
// encode(b) == x, and no strict prefix of an encoding decodes.

constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kAttrTransactional = 0x01;
constexpr uint8_t kAttrControlShift = 1;
constexpr uint8_t kAttrControlMask = 0x06;
constexpr uint8_t kPresentKey = 0x01;
constexpr uint8_t kPresentValue = 0x02;
// Smallest possible encodings, used to bound counts read from untrusted bytes
// before anything is allocated for them.
constexpr size_t kMinRecordBytes = 1 + 8 + 4;  // presence, timestamp, header count
constexpr size_t kMinHeaderBytes = 4 + 4;      // two empty strings

// The framing of core/checksum.h: [u32 length][u32 crc32c][payload].
constexpr uint64_t kFrameHeaderBytes = 8;
constexpr size_t kOffsetDigits = 20;  // segment file names: 20-digit base offset + ".log"
constexpr std::string_view kSegmentSuffix = ".log";

// Reads fields from untrusted bytes; every read checks the remaining length first.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  size_t remaining() const { return in_.size() - pos_; }
  bool u8(uint8_t* v) {
    uint64_t x;
    if (!uint(&x, 1)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  bool u16(uint16_t* v) {
    uint64_t x;
    if (!uint(&x, 2)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  bool u32(uint32_t* v) {
    uint64_t x;
    if (!uint(&x, 4)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool u64(uint64_t* v) { return uint(v, 8); }
  bool bytes(std::string* s) {
    uint32_t len;
    if (!u32(&len) || len > remaining()) return false;
    s->assign(in_.substr(pos_, len));
    pos_ += len;
    return true;
  }

 private:
  bool uint(uint64_t* v, size_t n) {
    if (remaining() < n) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += n;
    *v = x;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

bool decode_record(Reader& r, Record* rec) {
  uint8_t presence;
  uint64_t ts;
  if (!r.u8(&presence) || (presence & ~(kPresentKey | kPresentValue)) != 0) return false;
  if (!r.u64(&ts)) return false;
  rec->timestamp_ms = static_cast<int64_t>(ts);
  if (presence & kPresentKey) {
    if (!r.bytes(&rec->key.emplace())) return false;
  }
  if (presence & kPresentValue) {
    if (!r.bytes(&rec->value.emplace())) return false;
  }
  uint32_t headers;
  if (!r.u32(&headers) || headers > r.remaining() / kMinHeaderBytes) return false;
  rec->headers.resize(headers);
  for (auto& [k, v] : rec->headers) {
    if (!r.bytes(&k) || !r.bytes(&v)) return false;
  }
  return true;
}

std::string segment_path(const std::string& dir, int64_t base_offset) {
  SS_ASSERT(base_offset >= 0, "segment base offsets are never negative");
  std::string digits = std::to_string(base_offset);
  SS_ASSERT(digits.size() <= kOffsetDigits, "offset wider than a segment name");
  std::string path = dir;
  path += '/';
  path.append(kOffsetDigits - digits.size(), '0');
  path += digits;
  path += kSegmentSuffix;
  return path;
}

// The base offset named by a segment file ("<20 digits>.log"), or nullopt for
// any other name (a foreign file in the directory, left alone).
std::optional<int64_t> parse_segment_name(std::string_view name) {
  if (name.size() != kOffsetDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < kOffsetDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return static_cast<int64_t>(v);
}

// Sets a flag for the duration of a mutating call. The calls suspend (simulated
// disk latency), so two tasks interleaving them would hand out the same offsets
// or write to the same file position; callers must serialise them (core/sync.h).
class BusyGuard {
 public:
  explicit BusyGuard(bool& busy) : busy_(busy) {
    SS_ASSERT(!busy_, "PartitionLog: concurrent mutating calls from two tasks (serialise them with a Mutex)");
    busy_ = true;
  }
  ~BusyGuard() { busy_ = false; }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  bool& busy_;
};

}  // namespace

namespace {

// Fixed-size header of an encoding: version, base offset, leader epoch, producer
// id, producer epoch, base sequence, attributes, record count.
constexpr size_t kBatchHeaderBytes = 1 + 8 + 4 + 8 + 2 + 4 + 1 + 4;

// Exactly the number of bytes encode_batch_into() appends for b.
size_t encoded_size(const Batch& b) {
  size_t n = kBatchHeaderBytes;
  for (const Record& r : b.records) {
    n += kMinRecordBytes;
    if (r.key) n += 4 + r.key->size();
    if (r.value) n += 4 + r.value->size();
    for (const auto& [k, v] : r.headers) n += 8 + k.size() + v.size();
  }
  return n;
}

// Writes fixed-width little-endian fields into memory already sized for them:
// the encoder computes the exact size first, so there is one allocation per
// batch and no per-byte capacity checks (this runs once per record per replica).
class RawWriter {
 public:
  explicit RawWriter(char* p) : p_(p) {}
  void u8(uint8_t v) { *p_++ = static_cast<char>(v); }
  void u16(uint16_t v) { uint(v, 2); }
  void u32(uint32_t v) { uint(v, 4); }
  void u64(uint64_t v) { uint(v, 8); }
  void bytes(std::string_view s) {
    SS_ASSERT(s.size() <= std::numeric_limits<uint32_t>::max(), "encode_batch: field longer than 4 GiB");
    u32(static_cast<uint32_t>(s.size()));
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  char* pos() const { return p_; }

 private:
  void uint(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) p_[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    p_ += n;
  }
  char* p_;
};

// Writes the encoding of b (exactly encoded_size(b) bytes) at dst.
void encode_batch_raw(const Batch& b, char* dst, size_t size) {
  SS_ASSERT(b.records.size() <= std::numeric_limits<uint32_t>::max(), "encode_batch: too many records");
  SS_ASSERT(static_cast<uint8_t>(b.control) <= static_cast<uint8_t>(ControlType::abort), "encode_batch: bad control type");
  RawWriter w(dst);
  w.u8(kFormatVersion);
  w.u64(static_cast<uint64_t>(b.base_offset));
  w.u32(static_cast<uint32_t>(b.leader_epoch));
  w.u64(static_cast<uint64_t>(b.producer_id));
  w.u16(static_cast<uint16_t>(b.producer_epoch));
  w.u32(static_cast<uint32_t>(b.base_sequence));
  w.u8(static_cast<uint8_t>((b.transactional ? kAttrTransactional : 0) |
                            (static_cast<uint8_t>(b.control) << kAttrControlShift)));
  w.u32(static_cast<uint32_t>(b.records.size()));
  for (const Record& r : b.records) {
    w.u8(static_cast<uint8_t>((r.key ? kPresentKey : 0) | (r.value ? kPresentValue : 0)));
    w.u64(static_cast<uint64_t>(r.timestamp_ms));
    if (r.key) w.bytes(*r.key);
    if (r.value) w.bytes(*r.value);
    SS_ASSERT(r.headers.size() <= std::numeric_limits<uint32_t>::max(), "encode_batch: too many headers");
    w.u32(static_cast<uint32_t>(r.headers.size()));
    for (const auto& [k, v] : r.headers) {
      w.bytes(k);
      w.bytes(v);
    }
  }
  SS_ASSERT(w.pos() == dst + size, "encode_batch: size computation disagrees with the encoding");
}

}  // namespace

void encode_batch_into(const Batch& b, std::string& out) {
  const size_t start = out.size();
  const size_t size = encoded_size(b);
  out.resize(start + size);
  encode_batch_raw(b, out.data() + start, size);
}

std::string encode_batch(const Batch& b) {
  std::string out;
  encode_batch_into(b, out);
  return out;
}

bool decode_batch(std::string_view bytes, Batch* out) {
  SS_ASSERT(out != nullptr, "decode_batch: null output");
  Reader r(bytes);
  Batch b;
  uint8_t version, attrs;
  uint64_t base, pid;
  uint32_t epoch, seq, count;
  uint16_t pepoch;
  if (!r.u8(&version) || version != kFormatVersion) return false;
  if (!r.u64(&base) || !r.u32(&epoch) || !r.u64(&pid) || !r.u16(&pepoch) || !r.u32(&seq)) return false;
  if (!r.u8(&attrs) || (attrs & ~(kAttrTransactional | kAttrControlMask)) != 0) return false;
  const uint8_t control = (attrs & kAttrControlMask) >> kAttrControlShift;
  if (control > static_cast<uint8_t>(ControlType::abort)) return false;
  // Each record takes at least kMinRecordBytes, so a count larger than the bytes
  // left can hold is rejected before anything is allocated for it.
  if (!r.u32(&count) || count > r.remaining() / kMinRecordBytes) return false;
  b.base_offset = static_cast<int64_t>(base);
  b.leader_epoch = static_cast<int32_t>(epoch);
  b.producer_id = static_cast<int64_t>(pid);
  b.producer_epoch = static_cast<int16_t>(pepoch);
  b.base_sequence = static_cast<int32_t>(seq);
  b.transactional = (attrs & kAttrTransactional) != 0;
  b.control = static_cast<ControlType>(control);
  b.records.resize(count);
  for (Record& rec : b.records.own()) {
    if (!decode_record(r, &rec)) return false;
  }
  if (r.remaining() != 0) return false;  // trailing bytes: not something encode_batch wrote
  *out = std::move(b);
  return true;
}

// ---------------------------------------------------------------------------
// PartitionLog

PartitionLog::PartitionLog(Storage& storage, LogConfig cfg) : storage_(storage), cfg_(std::move(cfg)) {
  SS_ASSERT(!cfg_.dir.empty() && cfg_.dir.back() != '/', "LogConfig::dir must be a non-empty path without a trailing '/'");
  SS_ASSERT(cfg_.segment_bytes > 0, "LogConfig::segment_bytes must be positive");
}

Unexpected<LogErrc> PartitionLog::fail() {
  // The disk state after a failed call is unknown (a write may have landed in
  // part), so the log refuses further changes, as Kafka takes a failed log
  // directory offline. A new PartitionLog's recover() rebuilds from the disk.
  failed_ = true;
  return unexpected(LogErrc::io_error);
}

size_t PartitionLog::index_of(int64_t offset) const {
  SS_ASSERT(offset >= 0 && offset < end_, "index_of: offset outside the log");
  // The last batch whose base offset is <= offset; batches are contiguous, so it
  // holds offset.
  auto it = std::upper_bound(batches_.begin(), batches_.end(), offset,
                             [](int64_t off, const Entry& e) { return off < e.batch->batch.base_offset; });
  SS_ASSERT(it != batches_.begin(), "index_of: the first batch does not start at offset 0");
  --it;
  SS_ASSERT(it->batch->batch.base_offset <= offset && offset < it->batch->batch.next_offset(), "index_of: batches are not contiguous");
  return static_cast<size_t>(it - batches_.begin());
}

Result<RecoveryReport, LogErrc> PartitionLog::recover() {
  BusyGuard guard(busy_);
  SS_ASSERT(segments_.empty() && batches_.empty() && epochs_.empty() && end_ == 0 && !failed_,
            "recover() runs once, on a fresh PartitionLog");
  RecoveryReport rep;
  const std::string prefix = cfg_.dir + "/";
  // Names are zero-padded, so list()'s lexicographic order is offset order.
  const std::vector<std::string> names = storage_.list(prefix);
  bool cut = false;          // everything from here on is dropped
  bool removed = false;      // a segment file was removed: the directory needs a sync
  std::vector<size_t> cut_segments;  // segments truncated here: they need an fsync

  for (const std::string& name : names) {
    const std::optional<int64_t> base = parse_segment_name(std::string_view(name).substr(prefix.size()));
    if (!base) continue;
    if (cut || *base != end_) {
      // After a cut, or a segment that does not start where the log ends (its
      // predecessor lost its tail, or vanished): nothing in it can be trusted to
      // follow the valid prefix.
      auto size = storage_.size(name);
      if (size.ok()) rep.bytes_cut += *size;
      if (!storage_.remove(name).ok()) return fail();
      removed = true;
      cut = true;
      rep.truncated_corrupt_tail = true;
      continue;
    }
    auto data = storage_.read_all(name);
    if (!data.ok()) return fail();
    const FramedScan scan = scan_records(*data);
    const size_t seg = segments_.size();
    segments_.push_back(Segment{*base, name, 0});
    uint64_t pos = 0;
    for (const std::string& payload : scan.records) {
      Batch b;
      // Intact frames can still be wrong here: a batch from before a truncation
      // whose removal was lost, or one out of epoch order. Cut at the first.
      const bool ok = decode_batch(payload, &b) && b.base_offset == end_ && !b.records.empty() &&
                      (b.control == ControlType::none || b.records.size() == 1) && b.leader_epoch >= 0 &&
                      b.leader_epoch >= latest_epoch();
      if (!ok) {
        cut = true;
        break;
      }
      if (epochs_.empty() || b.leader_epoch > latest_epoch()) epochs_.emplace(b.leader_epoch, b.base_offset);
      end_ = b.next_offset();
      batches_.push_back(Entry{seal(std::move(b)), seg, payload.size(), pos});
      pos += kFrameHeaderBytes + payload.size();
    }
    SS_ASSERT(pos <= scan.valid_bytes && scan.valid_bytes <= data->size(), "recover: scan positions out of range");
    if (pos < data->size()) {
      SS_ASSERT(cut || scan.corrupt_tail, "recover: bytes left over after an intact scan");
      if (!storage_.truncate(name, pos).ok()) return fail();
      rep.bytes_cut += data->size() - pos;
      rep.truncated_corrupt_tail = true;
      cut_segments.push_back(seg);
      cut = true;
    }
    segments_.back().bytes = pos;
  }

  // Make the cut durable before anything is appended after it: otherwise a later
  // crash could bring back the cut bytes or removed segments behind new data.
  for (size_t seg : cut_segments) {
    if (!storage_.fsync(segments_[seg].path).ok()) return fail();
  }
  if (removed && !storage_.sync_dir().ok()) return fail();

  SS_ASSERT(end_ == (batches_.empty() ? 0 : batches_.back().batch->batch.next_offset()), "recover: end offset diverged");
  SS_ASSERT(epochs_.empty() == batches_.empty(), "recover: epoch cache diverged from the batches");
  rep.batches = batches_.size();
  rep.segments = segments_.size();
  return rep;
}

BatchPtr PartitionLog::seal(Batch b) {
  auto sealed = std::make_shared<SealedBatch>();
  const std::string bytes = encode_batch(b);
  sealed->frame_crc = frame_crc(bytes);
  sealed->encoded_bytes = bytes.size();
  sealed->batch = std::move(b);
  return sealed;
}

void PartitionLog::frame_into_scratch(const Batch& b, uint64_t known_size) {
  // One reused buffer per log: the frame header, then the batch encoded in
  // place, so a batch costs one encoding pass and no allocation (a fresh buffer
  // of a large batch would be page-faulted in on every append), and nothing is
  // zero-filled first only to be overwritten.
  const size_t size = kFrameHeaderBytes + (known_size != 0 ? known_size : encoded_size(b));
  if (size > scratch_cap_) {
    scratch_cap_ = std::max(size, scratch_cap_ * 2);
    scratch_ = std::make_unique_for_overwrite<char[]>(scratch_cap_);
  }
  encode_batch_raw(b, scratch_.get() + kFrameHeaderBytes, size - kFrameHeaderBytes);
  scratch_len_ = size;
}

namespace {

// Whether a sealed batch's shared frame is the encoding of its batch as far as
// a cheap look tells: length, crc, base offset, leader epoch and record count
// (the fields a cut or restamped copy would change), read with the same Reader
// as decode_batch. Catches a copy that changed its batch but kept the frame,
// which would otherwise write the wrong bytes.
bool frame_matches(const SealedBatch& s) {
  if (s.frame.size != kFrameHeaderBytes + s.encoded_bytes) return false;
  Reader r(s.frame.view());
  uint32_t length, crc, epoch, seq, count;
  uint64_t base, pid;
  uint16_t pepoch;
  uint8_t version, attrs;
  return r.u32(&length) && r.u32(&crc) && r.u8(&version) && r.u64(&base) && r.u32(&epoch) && r.u64(&pid) &&
         r.u16(&pepoch) && r.u32(&seq) && r.u8(&attrs) && r.u32(&count) && length == s.encoded_bytes &&
         crc == s.frame_crc && base == static_cast<uint64_t>(s.batch.base_offset) &&
         epoch == static_cast<uint32_t>(s.batch.leader_epoch) && count == s.batch.records.size();
}

}  // namespace

Result<void, LogErrc> PartitionLog::write_entry(BatchPtr sealed) {
  SS_ASSERT(sealed != nullptr, "write_entry: no batch");
  const Batch& b = sealed->batch;
  SS_ASSERT(b.base_offset == end_, "write_entry: batch does not start at the log end");
  SS_ASSERT(!b.records.empty(), "write_entry: empty batch");
  const bool shared = sealed->frame.size > 0;
  SS_ASSERT(!shared || frame_matches(*sealed), "write_entry: a batch's shared frame does not encode it");
  SS_ASSERT(shared || scratch_len_ > kFrameHeaderBytes, "write_entry: the frame was not built");
  // The frame is [u32 length][u32 crc][payload] (core/checksum.h); the crc was
  // computed once by the log that first wrote the batch and is reused here.
  if (!shared) write_frame_header(scratch_.get(), scratch_len_ - kFrameHeaderBytes, sealed->frame_crc);
  const std::string_view framed = shared ? sealed->frame.view() : std::string_view(scratch_.get(), scratch_len_);
  const uint64_t encoded_bytes = framed.size() - kFrameHeaderBytes;

  const bool roll = segments_.empty() || segments_.back().bytes >= cfg_.segment_bytes;
  const std::string path = roll ? segment_path(cfg_.dir, end_) : segments_.back().path;
  if (roll) {
    SS_ASSERT(!storage_.exists(path), "segment file already exists: call recover() before the first append");
  }
  const uint64_t pos = roll ? 0 : segments_.back().bytes;
  // A positional write, not an append: after a failed call nothing is trusted,
  // but even then bytes land where the index says they are.
  // (`sealed` keeps a shared frame alive while the write suspends.)
  const auto written = shared ? storage_.write_shared(path, pos, sealed->frame) : storage_.write(path, pos, framed);
  if (!written.ok()) return fail();

  if (roll) {
    segments_.push_back(Segment{end_, path, 0});
    dir_dirty_ = true;  // the new name survives a crash only after sync_dir()
  }
  const size_t seg = segments_.size() - 1;
  segments_[seg].bytes += framed.size();
  if (dirty_segments_.empty() || dirty_segments_.back() != seg) {
    SS_ASSERT(dirty_segments_.empty() || dirty_segments_.back() < seg, "dirty segment list out of order");
    dirty_segments_.push_back(seg);
  }
  unflushed_ += framed.size();
  if (epochs_.empty() || b.leader_epoch > latest_epoch()) epochs_.emplace(b.leader_epoch, b.base_offset);
  end_ = b.next_offset();
  batches_.push_back(Entry{std::move(sealed), seg, encoded_bytes, pos});
  return {};
}

Result<int64_t, LogErrc> PartitionLog::append(Batch b) {
  BusyGuard guard(busy_);
  SS_ASSERT(!b.records.empty(), "append: a batch holds at least one record");
  SS_ASSERT(b.leader_epoch >= 0 && b.leader_epoch >= latest_epoch(), "append: leader epoch below the latest epoch");
  SS_ASSERT(b.control == ControlType::none || b.records.size() == 1, "append: a control batch holds one marker record");
  if (failed_) return unexpected(LogErrc::io_error);
  const int64_t base = end_;
  b.base_offset = base;
  // The frame is built once, in a buffer of its own that this log's disk and
  // every follower's disk will share (SealedBatch::frame).
  const uint64_t payload = encoded_size(b);
  std::shared_ptr<char[]> buf = std::make_shared_for_overwrite<char[]>(kFrameHeaderBytes + payload);
  encode_batch_raw(b, buf.get() + kFrameHeaderBytes, payload);
  auto sealed = std::make_shared<SealedBatch>();
  sealed->frame_crc = frame_crc(std::string_view(buf.get() + kFrameHeaderBytes, payload));
  write_frame_header(buf.get(), payload, sealed->frame_crc);
  sealed->encoded_bytes = payload;
  sealed->frame = SharedBytes{std::move(buf), kFrameHeaderBytes + payload};
  sealed->batch = std::move(b);
  auto r = write_entry(std::move(sealed));
  if (!r.ok()) return unexpected(r.error());
  return base;
}

Result<void, LogErrc> PartitionLog::append_replica(BatchPtr sealed) {
  BusyGuard guard(busy_);
  SS_ASSERT(sealed != nullptr, "append_replica: no batch");
  const Batch& b = sealed->batch;
  SS_ASSERT(b.base_offset == end_, "append_replica: base offset is not the log end offset");
  SS_ASSERT(!b.records.empty(), "append_replica: a batch holds at least one record");
  SS_ASSERT(b.leader_epoch >= 0 && b.leader_epoch >= latest_epoch(),
            "append_replica: leader epoch below the latest epoch (truncate first)");
  SS_ASSERT(b.control == ControlType::none || b.records.size() == 1,
            "append_replica: a control batch holds one marker record");
  if (failed_) return unexpected(LogErrc::io_error);
  // A batch with the leader's frame is written from it, shared; one without is
  // encoded here (never re-checksummed or re-sized).
  if (sealed->frame.size == 0) frame_into_scratch(b, sealed->encoded_bytes);
  return write_entry(std::move(sealed));
}

Result<void, LogErrc> PartitionLog::append_replica(const Batch& b) { return append_replica(seal(b)); }

Result<void, LogErrc> PartitionLog::flush() {
  BusyGuard guard(busy_);
  return flush_dirty();
}

Result<void, LogErrc> PartitionLog::flush_dirty() {
  if (failed_) return unexpected(LogErrc::io_error);
  SS_ASSERT(std::is_sorted(dirty_segments_.begin(), dirty_segments_.end()), "dirty segment list out of order");
  // Content first, then names: a crash in between loses a new segment whole
  // (its name is not durable), never leaves a durable name with a gap before it.
  for (size_t seg : dirty_segments_) {
    SS_ASSERT(seg < segments_.size(), "dirty segment index out of range");
    if (!storage_.fsync(segments_[seg].path).ok()) return fail();
  }
  if (dir_dirty_ && !storage_.sync_dir().ok()) return fail();
  dirty_segments_.clear();
  dir_dirty_ = false;
  unflushed_ = 0;
  return {};
}

Result<std::vector<BatchPtr>, LogErrc> PartitionLog::read_shared(int64_t from, uint64_t max_bytes) const {
  if (from < start_offset() || from > end_) return unexpected(LogErrc::offset_out_of_range);
  std::vector<BatchPtr> out;
  if (from == end_) return out;
  uint64_t total = 0;
  for (size_t i = index_of(from); i < batches_.size(); ++i) {
    const Entry& e = batches_[i];
    if (!out.empty() && (total >= max_bytes || e.encoded_bytes > max_bytes - total)) break;
    total += e.encoded_bytes;
    out.push_back(e.batch);
  }
  SS_ASSERT(!out.empty() && out.front()->batch.base_offset <= from && from < out.front()->batch.next_offset(),
            "read: first batch does not hold the requested offset");
  return out;
}

Result<std::vector<Batch>, LogErrc> PartitionLog::read(int64_t from, uint64_t max_bytes) const {
  auto shared = read_shared(from, max_bytes);
  if (!shared.ok()) return unexpected(shared.error());
  std::vector<Batch> out;
  out.reserve(shared->size());
  for (const BatchPtr& p : *shared) out.push_back(p->batch);
  return out;
}

Result<int64_t, LogErrc> PartitionLog::truncate_to(int64_t offset) {
  BusyGuard guard(busy_);
  if (offset < start_offset()) return unexpected(LogErrc::offset_out_of_range);
  if (failed_) return unexpected(LogErrc::io_error);
  if (offset >= end_) return end_;

  const size_t first = index_of(offset);
  const size_t seg = batches_[first].segment;
  const uint64_t pos = batches_[first].file_pos;
  const int64_t new_end = batches_[first].batch->batch.base_offset;
  SS_ASSERT(seg < segments_.size() && pos <= segments_[seg].bytes, "truncate_to: entry position outside its segment");
  SS_ASSERT(first == 0 || batches_[first - 1].segment < seg || batches_[first - 1].file_pos < pos,
            "truncate_to: entries out of file order");

  if (!storage_.truncate(segments_[seg].path, pos).ok()) return fail();
  for (size_t s = segments_.size(); s-- > seg + 1;) {
    auto r = storage_.remove(segments_[s].path);
    if (!r.ok() && r.error() != IoErrc::not_found) return fail();
    dir_dirty_ = true;
  }

  batches_.erase(batches_.begin() + static_cast<std::ptrdiff_t>(first), batches_.end());
  segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(seg) + 1, segments_.end());
  segments_[seg].bytes = pos;
  while (!dirty_segments_.empty() && dirty_segments_.back() >= seg) dirty_segments_.pop_back();
  dirty_segments_.push_back(seg);
  // KIP-101: epochs that started at or after the new end no longer have data.
  while (!epochs_.empty() && std::prev(epochs_.end())->second >= new_end) epochs_.erase(std::prev(epochs_.end()));
  end_ = new_end;
  SS_ASSERT(end_ == (batches_.empty() ? 0 : batches_.back().batch->batch.next_offset()), "truncate_to: end offset diverged");
  SS_ASSERT(epochs_.empty() == batches_.empty(), "truncate_to: epoch cache diverged from the batches");

  // Durable before returning: otherwise a crash could bring the removed records
  // (or removed segments, contiguous with new data) back after later appends.
  auto f = flush_dirty();
  if (!f.ok()) return unexpected(f.error());
  return end_;
}

int32_t PartitionLog::latest_epoch() const { return epochs_.empty() ? -1 : epochs_.rbegin()->first; }

std::optional<std::pair<int32_t, int64_t>> PartitionLog::end_offset_for_epoch(int32_t epoch) const {
  auto above = epochs_.upper_bound(epoch);  // the first epoch larger than the one asked for
  if (above == epochs_.begin()) return std::nullopt;  // no epoch <= epoch (or an empty cache)
  const auto floor = std::prev(above);
  const int64_t end = above == epochs_.end() ? end_ : above->second;
  SS_ASSERT(floor->second <= end && end <= end_, "end_offset_for_epoch: epoch cache out of order");
  return std::make_pair(floor->first, end);
}

}  // namespace streamsim::sim::kafka
