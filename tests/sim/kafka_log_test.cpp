// PartitionLog: batch encoding, offsets and reads, segment rolling, crash
// recovery under torn writes and bit flips, truncation and the leader-epoch cache.
// The log runs inside a Simulation node (its Storage calls suspend); results are
// recorded into variables declared before the Simulation and checked after run().
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <streamsim/core/checksum.h>
#include <streamsim/sim/kafka/log.h>
#include <streamsim/sim/simulation.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

using namespace std::literals;
using namespace streamsim;
using namespace streamsim::sim;
using namespace streamsim::sim::kafka;

namespace {

constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
const char* const kDir = "kafka/t-0";

// Collects failed expectations inside simulated tasks (a throwing task would stop
// the run); the test checks the list after run().
struct Failures {
  std::vector<std::string> list;
  void expect(bool ok, const char* what, int line) {
    if (!ok) list.push_back(std::string(what) + " (line " + std::to_string(line) + ")");
  }
};
#define EXPECT_IN_SIM(f, cond) (f).expect(static_cast<bool>(cond), #cond, __LINE__)

// "name" followed by n (a helper: GCC 12 warns, wrongly, about "literal" + std::string).
std::string tagged(const char* name, size_t n) {
  std::string s(name);
  s += std::to_string(n);
  return s;
}

bool records_equal(const Record& a, const Record& b) {
  return a.key == b.key && a.value == b.value && a.headers == b.headers && a.timestamp_ms == b.timestamp_ms;
}

bool batches_equal(const Batch& a, const Batch& b) {
  if (a.base_offset != b.base_offset || a.leader_epoch != b.leader_epoch || a.producer_id != b.producer_id ||
      a.producer_epoch != b.producer_epoch || a.base_sequence != b.base_sequence ||
      a.transactional != b.transactional || a.control != b.control || a.records.size() != b.records.size()) {
    return false;
  }
  for (size_t i = 0; i < a.records.size(); ++i) {
    if (!records_equal(a.records[i], b.records[i])) return false;
  }
  return true;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!batches_equal(a[i], b[i])) return false;
  }
  return true;
}

// A data batch with `n` records; `tag` makes the contents distinguishable.
Batch make_batch(int n, int32_t epoch, const std::string& tag, size_t value_bytes = 16) {
  Batch b;
  b.leader_epoch = epoch;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.key = tag + "/k" + std::to_string(i);
    r.value = tag + "/" + std::string(value_bytes, static_cast<char>('a' + i % 26));
    r.timestamp_ms = 1000 + i;
    if (i % 2 == 1) r.headers.emplace_back("h", tag);
    b.records.push_back(std::move(r));
  }
  return b;
}

// The expected batches after appending `b` at the current end of `model`.
void model_append(std::vector<Batch>& model, Batch b) {
  b.base_offset = model.empty() ? 0 : model.back().next_offset();
  model.push_back(std::move(b));
}

SimulationConfig faulty_disk() {
  SimulationConfig cfg;
  cfg.disk_faults.torn_write_probability = 1.0;
  cfg.disk_faults.bit_flip_probability = 1.0;
  return cfg;
}

// rc::gen::inRange scales its range with the generation size (and yields only
// `min` at size 0); this draws from the whole range whatever the size.
template <class T>
T uniform_in(T min, T max) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(min, max));
}

rc::Gen<std::string> gen_bytes() {
  return rc::gen::container<std::string>(rc::gen::arbitrary<char>());
}

rc::Gen<Record> gen_record() {
  return rc::gen::exec([] {
    Record r;
    if (*rc::gen::arbitrary<bool>()) r.key = *gen_bytes();
    if (*rc::gen::arbitrary<bool>()) r.value = *gen_bytes();
    r.headers = *rc::gen::container<std::vector<std::pair<std::string, std::string>>>(
        rc::gen::pair(gen_bytes(), gen_bytes()));
    r.timestamp_ms = *rc::gen::arbitrary<int64_t>();
    return r;
  });
}

rc::Gen<Batch> gen_batch() {
  return rc::gen::exec([] {
    Batch b;
    b.base_offset = *rc::gen::arbitrary<int64_t>();
    b.leader_epoch = *rc::gen::arbitrary<int32_t>();
    b.producer_id = *rc::gen::arbitrary<int64_t>();
    b.producer_epoch = *rc::gen::arbitrary<int16_t>();
    b.base_sequence = *rc::gen::arbitrary<int32_t>();
    b.transactional = *rc::gen::arbitrary<bool>();
    b.control = *rc::gen::element(ControlType::none, ControlType::commit, ControlType::abort);
    b.records = *rc::gen::resize(20, rc::gen::container<std::vector<Record>>(gen_record()));
    return b;
  });
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoding

TEST_CASE("kafka log: encode/decode round trip keeps every field", "[kafka_log]") {
  rc::prop("decode(encode(b)) == b and the encoding is canonical", [] {
    const Batch b = *gen_batch();
    const std::string bytes = encode_batch(b);
    Batch out;
    out.records.push_back(Record{});  // decode must replace, not append to, the output
    RC_ASSERT(decode_batch(bytes, &out));
    RC_ASSERT(batches_equal(b, out));
    RC_ASSERT(encode_batch(out) == bytes);
  });
}

TEST_CASE("kafka log: decode rejects every truncation and trailing bytes", "[kafka_log]") {
  rc::prop("no strict prefix and no extension of an encoding decodes", [] {
    const std::string bytes = encode_batch(*gen_batch());
    for (size_t len = 0; len < bytes.size(); ++len) {
      Batch out;
      RC_ASSERT(!decode_batch(std::string_view(bytes).substr(0, len), &out));
    }
    Batch out;
    RC_ASSERT(!decode_batch(bytes + *rc::gen::nonEmpty(gen_bytes()), &out));
  });
}

TEST_CASE("kafka log: decode survives random corruption", "[kafka_log]") {
  rc::prop("a corrupted encoding is rejected or decodes to a batch that encodes to exactly those bytes", [] {
    std::string bytes = encode_batch(*gen_batch());
    const int edits = uniform_in(1, 6);
    for (int i = 0; i < edits; ++i) {
      const size_t at = uniform_in<size_t>(0, bytes.size());
      bytes[at] = *rc::gen::arbitrary<char>();
    }
    Batch out;
    if (decode_batch(bytes, &out)) RC_ASSERT(encode_batch(out) == bytes);
  });
  rc::prop("arbitrary bytes never crash the decoder", [] {
    const std::string bytes = *gen_bytes();
    Batch out;
    if (decode_batch(bytes, &out)) RC_ASSERT(encode_batch(out) == bytes);
  });
}

TEST_CASE("kafka log: decode rejects lying lengths, counts and flags", "[kafka_log]") {
  Batch b = make_batch(2, 3, "x");
  b.base_offset = 42;
  const std::string good = encode_batch(b);
  Batch out;
  REQUIRE(decode_batch(good, &out));
  // Layout: version(1) base(8) epoch(4) pid(8) pepoch(2) seq(4) attrs(1) count(4) = 32
  // bytes of batch header, then the first record's presence byte.
  auto patched = [&](size_t at, std::string_view with) {
    std::string s = good;
    s.replace(at, with.size(), with);
    return s;
  };
  CHECK(!decode_batch(patched(0, "\x02"), &out));                  // unknown version
  CHECK(!decode_batch(patched(27, "\x80"), &out));                 // reserved attribute bit
  CHECK(!decode_batch(patched(27, "\x06"), &out));                 // control type 3
  CHECK(!decode_batch(patched(28, "\xff\xff\xff\xff"), &out));     // 4 billion records
  CHECK(!decode_batch(patched(28, "\x03\x00\x00\x00"sv), &out));   // one record too many
  CHECK(!decode_batch(patched(32, "\x07"), &out));                 // reserved presence bit (key and value kept)
  CHECK(!decode_batch(patched(41, "\xff\xff\xff\x7f"), &out));     // key longer than the rest
  // The output is untouched by a failed decode.
  out = b;
  CHECK(!decode_batch(good.substr(0, good.size() - 1), &out));
  CHECK(batches_equal(out, b));
}

// ---------------------------------------------------------------------------
// Offsets and reads

TEST_CASE("kafka log: append assigns contiguous offsets and read finds batches", "[kafka_log]") {
  Failures f;
  std::vector<int64_t> bases;
  std::vector<Batch> model;
  std::vector<std::vector<int64_t>> reads;  // base offsets returned by each read below
  std::vector<bool> out_of_range;
  uint64_t first_two_bytes = 0;
  bool finished = false;
  Simulation sim(11);
  sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 4096});
    auto rep = log.recover();
    EXPECT_IN_SIM(f, rep.ok() && rep->batches == 0 && rep->segments == 0 && !rep->truncated_corrupt_tail);
    EXPECT_IN_SIM(f, log.end_offset() == 0 && log.latest_epoch() == -1);
    int i = 0;
    for (int n : {3, 1, 4, 2}) {
      Batch b = make_batch(n, 1, tagged("b", i++));
      b.base_offset = 999;  // ignored: the log assigns it
      model_append(model, b);
      auto r = log.append(b);
      EXPECT_IN_SIM(f, r.ok());
      if (r.ok()) bases.push_back(*r);
    }
    EXPECT_IN_SIM(f, log.end_offset() == 10 && log.batch_count() == 4);
    EXPECT_IN_SIM(f, log.unflushed_bytes() > 0);
    auto base_offsets = [&](int64_t from, uint64_t max_bytes) {
      std::vector<int64_t> out;
      auto r = log.read(from, max_bytes);
      EXPECT_IN_SIM(f, r.ok());
      if (!r.ok()) return out;
      // Each returned batch must be exactly what was appended.
      for (const Batch& b : *r) {
        auto it = std::find_if(model.begin(), model.end(), [&](const Batch& m) { return m.base_offset == b.base_offset; });
        EXPECT_IN_SIM(f, it != model.end() && batches_equal(*it, b));
        out.push_back(b.base_offset);
      }
      return out;
    };
    reads.push_back(base_offsets(0, kAll));
    reads.push_back(base_offsets(5, kAll));  // in the middle of the batch [4, 8)
    reads.push_back(base_offsets(3, kAll));
    reads.push_back(base_offsets(9, kAll));
    reads.push_back(base_offsets(10, kAll));  // at the end: nothing
    reads.push_back(base_offsets(0, 1));     // smaller than one batch: still one
    first_two_bytes = encode_batch(model[0]).size() + encode_batch(model[1]).size();
    reads.push_back(base_offsets(0, first_two_bytes));
    reads.push_back(base_offsets(0, first_two_bytes - 1));
    reads.push_back(base_offsets(2, first_two_bytes + encode_batch(model[2]).size()));
    for (int64_t bad : {int64_t{11}, int64_t{-1}, std::numeric_limits<int64_t>::max()}) {
      auto r = log.read(bad, kAll);
      out_of_range.push_back(!r.ok() && r.error() == LogErrc::offset_out_of_range);
    }
    finished = true;
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(finished);
  CHECK(bases == std::vector<int64_t>{0, 3, 4, 8});
  REQUIRE(reads.size() == 9);
  CHECK(reads[0] == std::vector<int64_t>{0, 3, 4, 8});
  CHECK(reads[1] == std::vector<int64_t>{4, 8});
  CHECK(reads[2] == std::vector<int64_t>{3, 4, 8});
  CHECK(reads[3] == std::vector<int64_t>{8});
  CHECK(reads[4] == std::vector<int64_t>{});
  CHECK(reads[5] == std::vector<int64_t>{0});
  CHECK(reads[6] == std::vector<int64_t>{0, 3});
  CHECK(reads[7] == std::vector<int64_t>{0});
  CHECK(reads[8] == std::vector<int64_t>{0, 3, 4});
  CHECK(out_of_range == std::vector<bool>{true, true, true});
}

TEST_CASE("kafka log: segments roll at segment_bytes and are named by base offset", "[kafka_log]") {
  Failures f;
  std::vector<std::string> files;
  std::vector<uint64_t> sizes;
  std::vector<int64_t> bases;
  std::optional<RecoveryReport> rep2;
  std::vector<Batch> model, reread;
  bool finished = false;
  const uint64_t seg_bytes = 4096;
  Simulation sim(12);
  sim.add_node("b", [&](SimRuntime& rt) {
    {
      PartitionLog log(rt.storage(), {kDir, seg_bytes});
      EXPECT_IN_SIM(f, log.recover().ok());
      for (int i = 0; i < 20; ++i) {
        Batch b = make_batch(1 + i % 3, 0, tagged("s", i), 500);
        model_append(model, b);
        auto r = log.append(b);
        EXPECT_IN_SIM(f, r.ok());
        if (r.ok()) bases.push_back(*r);
      }
      EXPECT_IN_SIM(f, log.flush().ok());
      EXPECT_IN_SIM(f, log.unflushed_bytes() == 0);
    }
    // A foreign file in the directory is not a segment: left alone.
    EXPECT_IN_SIM(f, rt.storage().write(std::string(kDir) + "/leader-epoch-checkpoint", 0, "x").ok());
    files = rt.storage().list(std::string(kDir) + "/");
    for (const auto& name : files) sizes.push_back(rt.storage().size(name).value());
    PartitionLog again(rt.storage(), {kDir, seg_bytes});
    auto r = again.recover();
    if (r.ok()) rep2 = *r;
    auto all = again.read(0, kAll);
    if (all.ok()) reread = *all;
    EXPECT_IN_SIM(f, rt.storage().exists(std::string(kDir) + "/leader-epoch-checkpoint"));
    finished = true;
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(finished);
  REQUIRE(files.size() >= 4);  // 20 batches of 0.5-1.5 KiB at 4 KiB per segment
  CHECK(files.back() == std::string(kDir) + "/leader-epoch-checkpoint");
  const size_t segments = files.size() - 1;
  CHECK(files[0] == std::string(kDir) + "/00000000000000000000.log");
  for (size_t i = 0; i < segments; ++i) {
    // Each segment is named by the base offset of a batch, and all but the last
    // were rolled because they reached segment_bytes.
    const int64_t base = std::stoll(files[i].substr(std::string(kDir).size() + 1, 20));
    INFO("segment " << files[i]);
    CHECK(std::find(bases.begin(), bases.end(), base) != bases.end());
    if (i + 1 < segments) CHECK(sizes[i] >= seg_bytes);
    if (i + 1 < segments) CHECK(sizes[i] < seg_bytes + 2000);  // rolled right after crossing
  }
  REQUIRE(rep2.has_value());
  CHECK(rep2->segments == segments);
  CHECK(rep2->batches == 20);
  CHECK(!rep2->truncated_corrupt_tail);
  CHECK(rep2->bytes_cut == 0);
  CHECK(same_batches(reread, model));
}

// ---------------------------------------------------------------------------
// Crashes and recovery

TEST_CASE("kafka log: recovery after a clean flush restores everything", "[kafka_log]") {
  Failures f;
  int boots = 0;
  std::vector<Batch> model, recovered;
  std::optional<RecoveryReport> rep;
  int32_t latest = -2;
  int64_t end = -1, appended_after = -1;
  bool flushed = false;
  Simulation sim(13, faulty_disk());  // torn writes and bit flips cannot touch flushed data
  auto& b = sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 1024});
    auto r = log.recover();
    EXPECT_IN_SIM(f, r.ok());
    if (++boots == 1) {
      for (int i = 0; i < 12; ++i) {
        Batch batch = make_batch(1 + i % 4, i / 4, tagged("c", i), 100);
        model_append(model, batch);
        EXPECT_IN_SIM(f, log.append(batch).ok());
      }
      EXPECT_IN_SIM(f, log.flush().ok());
      flushed = true;
      rt.sleep_for(Duration::seconds(10));
      return;
    }
    if (r.ok()) rep = *r;
    auto all = log.read(0, kAll);
    if (all.ok()) recovered = *all;
    latest = log.latest_epoch();
    end = log.end_offset();
    auto a = log.append(make_batch(1, 3, "after"));
    if (a.ok()) appended_after = *a;
  });
  const NodeId id = b.id();
  sim.add_node("ctl", [&](SimRuntime& rt) {
    while (!flushed) rt.sleep_for(Duration::micros(100));
    sim.crash(id);
    rt.sleep_for(Duration::millis(1));
    sim.restart(id);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(boots == 2);
  REQUIRE(rep.has_value());
  CHECK(rep->batches == 12);
  CHECK(rep->segments > 1);
  CHECK(!rep->truncated_corrupt_tail);
  CHECK(same_batches(recovered, model));
  CHECK(latest == 2);
  CHECK(end == model.back().next_offset());
  CHECK(appended_after == end);
}

TEST_CASE("kafka log: a crash without flush loses exactly the unflushed batches", "[kafka_log]") {
  Failures f;
  int boots = 0;
  std::vector<Batch> model, recovered;
  std::optional<RecoveryReport> rep;
  uint64_t unflushed_before_crash = 0;
  size_t files_before_crash = 0, files_after = 0;
  bool ready = false;
  Simulation sim(14);  // no torn writes: every unsynced byte is lost
  auto& b = sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 600});
    auto r = log.recover();
    EXPECT_IN_SIM(f, r.ok());
    if (++boots == 1) {
      for (int i = 0; i < 3; ++i) {
        Batch batch = make_batch(2, 0, tagged("kept", i), 100);
        model_append(model, batch);
        EXPECT_IN_SIM(f, log.append(batch).ok());
      }
      EXPECT_IN_SIM(f, log.flush().ok());
      // Unflushed: the tail of a flushed segment and a new segment whose name
      // was never made durable.
      for (int i = 0; i < 4; ++i) EXPECT_IN_SIM(f, log.append(make_batch(2, 1, tagged("lost", i), 100)).ok());
      unflushed_before_crash = log.unflushed_bytes();
      files_before_crash = rt.storage().list(std::string(kDir) + "/").size();
      ready = true;
      rt.sleep_for(Duration::seconds(10));
      return;
    }
    if (r.ok()) rep = *r;
    auto all = log.read(0, kAll);
    if (all.ok()) recovered = *all;
    files_after = rt.storage().list(std::string(kDir) + "/").size();
  });
  const NodeId id = b.id();
  sim.add_node("ctl", [&](SimRuntime& rt) {
    while (!ready) rt.sleep_for(Duration::micros(100));
    sim.crash(id);
    rt.sleep_for(Duration::millis(1));
    sim.restart(id);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(boots == 2);
  CHECK(unflushed_before_crash > 0);
  CHECK(files_before_crash > files_after);
  REQUIRE(rep.has_value());
  CHECK(rep->batches == 3);
  CHECK(!rep->truncated_corrupt_tail);  // nothing torn: the unsynced bytes are simply gone
  CHECK(same_batches(recovered, model));
}

TEST_CASE("kafka log: recovery cuts corrupt, non-contiguous and orphaned data", "[kafka_log]") {
  // Segment files written by hand: a valid batch, a CRC-valid batch whose offset
  // leaves a gap, then a second segment that no longer follows the first.
  Failures f;
  std::optional<RecoveryReport> rep1, rep2;
  std::vector<Batch> recovered;
  uint64_t seg0_size = 0, valid_bytes = 0, after_size = 0;
  bool orphan_exists = true, foreign_exists = false;
  bool finished = false;
  Simulation sim(15);
  sim.add_node("b", [&](SimRuntime& rt) {
    Storage& disk = rt.storage();
    const std::string seg0 = std::string(kDir) + "/00000000000000000000.log";
    const std::string seg1 = std::string(kDir) + "/00000000000000000007.log";
    const std::string foreign = std::string(kDir) + "-other/00000000000000000000.log";
    Batch a = make_batch(2, 0, "a");
    a.base_offset = 0;
    Batch gap = make_batch(3, 0, "gap");
    gap.base_offset = 4;  // should be 2
    std::string bytes;
    frame_record(bytes, encode_batch(a));
    valid_bytes = bytes.size();
    frame_record(bytes, encode_batch(gap));
    EXPECT_IN_SIM(f, disk.write(seg0, 0, bytes).ok());
    Batch later = make_batch(1, 0, "later");
    later.base_offset = 7;
    std::string later_bytes;
    frame_record(later_bytes, encode_batch(later));
    EXPECT_IN_SIM(f, disk.write(seg1, 0, later_bytes).ok());
    EXPECT_IN_SIM(f, disk.write(foreign, 0, "not ours").ok());
    {
      PartitionLog log(disk, {kDir, 4096});
      auto r = log.recover();
      if (r.ok()) rep1 = *r;
      auto all = log.read(0, kAll);
      if (all.ok()) recovered = *all;
      EXPECT_IN_SIM(f, log.end_offset() == 2);
      // Appends continue right after the cut, in the cut segment.
      auto ap = log.append(make_batch(1, 0, "next"));
      EXPECT_IN_SIM(f, ap.ok() && *ap == 2);
      // Garbage after the last batch (a torn frame) is cut too.
      EXPECT_IN_SIM(f, log.flush().ok());
    }
    seg0_size = disk.size(seg0).value();
    EXPECT_IN_SIM(f, disk.append(seg0, std::string("\x05\x00\x00\x00torn", 8)).ok());
    // A later segment that would be contiguous goes too: the log broke before it.
    const std::string seg3 = std::string(kDir) + "/00000000000000000003.log";
    Batch after = make_batch(1, 0, "after");
    after.base_offset = 3;
    std::string after_bytes;
    frame_record(after_bytes, encode_batch(after));
    after_size = after_bytes.size();
    EXPECT_IN_SIM(f, disk.write(seg3, 0, after_bytes).ok());
    orphan_exists = disk.exists(seg1);
    foreign_exists = disk.exists(foreign);
    PartitionLog log2(disk, {kDir, 4096});
    auto r2 = log2.recover();
    if (r2.ok()) rep2 = *r2;
    EXPECT_IN_SIM(f, log2.end_offset() == 3 && log2.batch_count() == 2);
    EXPECT_IN_SIM(f, disk.size(seg0).value() == seg0_size);
    EXPECT_IN_SIM(f, !disk.exists(seg3));
    finished = true;
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(finished);
  REQUIRE(rep1.has_value());
  CHECK(rep1->truncated_corrupt_tail);
  CHECK(rep1->batches == 1);
  CHECK(rep1->segments == 1);
  CHECK(rep1->bytes_cut > 0);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].base_offset == 0);
  CHECK(!orphan_exists);
  CHECK(foreign_exists);
  CHECK(seg0_size > valid_bytes);
  REQUIRE(rep2.has_value());
  CHECK(rep2->truncated_corrupt_tail);
  CHECK(rep2->bytes_cut == 8 + after_size);
  CHECK(rep2->segments == 1);
  CHECK(rep2->batches == 2);
}

namespace {

struct LogOp {
  enum Kind { append, flush, truncate, crash } kind;
  int records;     // append: 1..4 records
  int epoch_step;  // append: epoch = latest + 0..2
  int amount;      // truncate: offset = amount % (end + 1); crash: delay in microseconds
};

std::ostream& operator<<(std::ostream& os, const LogOp& op) {
  static const char* const names[] = {"append", "flush", "truncate", "crash"};
  return os << "{" << names[op.kind] << " records=" << op.records << " step=" << op.epoch_step
            << " amount=" << op.amount << "}";
}

rc::Gen<LogOp> gen_op() {
  return rc::gen::exec([] {
    LogOp op{};
    op.kind = *rc::gen::weightedElement<LogOp::Kind>(
        {{11, LogOp::append}, {4, LogOp::flush}, {2, LogOp::truncate}, {3, LogOp::crash}});
    op.records = uniform_in(1, 5);
    op.epoch_step = *rc::gen::element(0, 0, 0, 1, 2);
    op.amount = uniform_in(0, 3000);
    return op;
  });
}

}  // namespace

TEST_CASE("kafka log: after any crash the log is a prefix of what was appended and holds all it flushed",
          "[kafka_log]") {
  static uint64_t runs_with_cut = 0;
  static uint64_t runs_losing_data = 0;
  runs_with_cut = 0;
  runs_losing_data = 0;
  rc::prop("random append/flush/truncate/crash with torn writes and bit flips", [] {
    std::vector<LogOp> ops = *rc::gen::resize(40, rc::gen::container<std::vector<LogOp>>(gen_op()));
    ops.push_back(LogOp{LogOp::crash, 1, 0, 0});  // every run ends with a recovery check
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();

    Failures f;
    std::vector<Batch> attempted;  // every batch whose append started, in log order
    size_t floor = 0;              // batches known durable (flushed, truncated or recovered)
    size_t cursor = 0;
    std::optional<Instant> crash_at;
    bool done = false;
    int boots = 0, crashes = 0;
    bool saw_cut = false, lost = false;

    Simulation sim(seed, faulty_disk());
    auto& node = sim.add_node("b", [&](SimRuntime& rt) {
      ++boots;
      PartitionLog log(rt.storage(), {kDir, 256});
      auto rep = log.recover();
      EXPECT_IN_SIM(f, rep.ok());
      if (!rep.ok()) {
        done = true;
        return;
      }
      if (rep->truncated_corrupt_tail) saw_cut = true;
      auto all = log.read(0, kAll);
      EXPECT_IN_SIM(f, all.ok());
      if (!all.ok()) {
        done = true;
        return;
      }
      const std::vector<Batch>& got = *all;
      EXPECT_IN_SIM(f, got.size() == log.batch_count() && got.size() == rep->batches);
      EXPECT_IN_SIM(f, got.size() <= attempted.size());
      EXPECT_IN_SIM(f, got.size() >= floor);
      for (size_t i = 0; i < got.size() && i < attempted.size(); ++i) {
        EXPECT_IN_SIM(f, batches_equal(got[i], attempted[i]));
      }
      if (got.size() < attempted.size()) lost = true;
      // The epoch cache matches the recovered batches.
      EXPECT_IN_SIM(f, log.end_offset() == (got.empty() ? 0 : got.back().next_offset()));
      EXPECT_IN_SIM(f, log.latest_epoch() == (got.empty() ? -1 : got.back().leader_epoch));
      for (size_t i = 0; i < got.size(); ++i) {
        if (i > 0 && got[i].leader_epoch == got[i - 1].leader_epoch) continue;
        size_t j = i;
        while (j < got.size() && got[j].leader_epoch == got[i].leader_epoch) ++j;
        const int64_t end = j < got.size() ? got[j].base_offset : log.end_offset();
        EXPECT_IN_SIM(f, log.end_offset_for_epoch(got[i].leader_epoch) == std::make_pair(got[i].leader_epoch, end));
      }
      attempted.resize(std::min(attempted.size(), got.size()));
      floor = attempted.size();  // recovery leaves what it kept durable

      while (cursor < ops.size()) {
        const LogOp op = ops[cursor++];
        switch (op.kind) {
          case LogOp::append: {
            Batch b = make_batch(op.records, std::max(log.latest_epoch(), 0) + op.epoch_step,
                                 tagged("op", cursor), 20);
            b.base_offset = log.end_offset();
            attempted.push_back(b);
            auto r = log.append(b);
            EXPECT_IN_SIM(f, r.ok() && *r == b.base_offset);
            break;
          }
          case LogOp::flush:
            EXPECT_IN_SIM(f, log.flush().ok());
            floor = log.batch_count();
            break;
          case LogOp::truncate: {
            const int64_t offset = op.amount % (log.end_offset() + 1);
            size_t kept = 0;
            while (kept < attempted.size() && attempted[kept].next_offset() <= offset) ++kept;
            // A crash during the truncation may already have cut flushed batches.
            floor = std::min(floor, kept);
            auto r = log.truncate_to(offset);
            const int64_t want = kept == 0 ? 0 : attempted[kept - 1].next_offset();
            EXPECT_IN_SIM(f, r.ok() && *r == want && log.end_offset() == want && log.batch_count() == kept);
            // A real cut is durable when truncate_to returns; a cut at or past the
            // end changes (and flushes) nothing.
            if (kept < attempted.size()) floor = kept;
            attempted.resize(kept);
            break;
          }
          case LogOp::crash:
            if (!crash_at) crash_at = rt.now() + Duration::micros(op.amount);
            break;
        }
      }
      if (!crash_at) done = true;
    });
    const NodeId id = node.id();
    sim.add_node("ctl", [&](SimRuntime& rt) {
      for (;;) {
        while (!crash_at && !done) rt.sleep_for(Duration::micros(50));
        if (done) return;
        if (*crash_at > rt.now()) rt.sleep_until(*crash_at);
        sim.crash(id);
        ++crashes;
        crash_at.reset();
        rt.sleep_for(Duration::millis(1));
        sim.restart(id);
      }
    });
    RC_ASSERT(sim.run() == RunStop::quiescent);
    RC_LOG() << "failures:";
    for (const auto& s : f.list) RC_LOG() << " " << s;
    RC_ASSERT(f.list.empty());
    RC_ASSERT(done);
    RC_ASSERT(boots == crashes + 1);
    if (saw_cut) ++runs_with_cut;
    if (lost) ++runs_losing_data;
  });
  // The faults really happened: some runs lost unflushed batches and some had a
  // torn or flipped tail cut off.
  CHECK(runs_with_cut > 0);
  CHECK(runs_losing_data > 0);
}

TEST_CASE("kafka log: truncate_to cuts at a batch boundary, durably, and recovery agrees", "[kafka_log]") {
  Failures f;
  int boots = 0;
  std::vector<Batch> model, recovered;
  std::vector<std::string> files_before, files_after;
  int64_t t_mid = -1, t_noop = -1, t_end = -1, full_end = -1;
  uint64_t cut_segment_size = 0, expected_cut_size = 0;
  bool negative_rejected = false;
  int64_t end_after_recovery = -1;
  int32_t latest_after_recovery = -2;
  std::optional<RecoveryReport> rep;
  bool ready = false;
  Simulation sim(16, faulty_disk());
  auto& b = sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 512});
    auto r = log.recover();
    EXPECT_IN_SIM(f, r.ok());
    if (++boots == 1) {
      for (int i = 0; i < 16; ++i) {
        Batch batch = make_batch(1 + i % 3, i / 4, tagged("t", i), 60);
        model_append(model, batch);
        EXPECT_IN_SIM(f, log.append(batch).ok());
      }
      EXPECT_IN_SIM(f, log.flush().ok());
      files_before = rt.storage().list(std::string(kDir) + "/");
      // Cut inside batch 7 (two records, in an earlier segment than the last).
      full_end = log.end_offset();
      const Batch& victim = model[7];
      const int64_t mid = victim.base_offset + static_cast<int64_t>(victim.records.size()) - 1;
      t_noop = log.truncate_to(log.end_offset() + 5).value();
      auto neg = log.truncate_to(-1);
      negative_rejected = !neg.ok() && neg.error() == LogErrc::offset_out_of_range;
      auto t = log.truncate_to(mid);
      if (t.ok()) t_mid = *t;
      model.resize(7);
      t_end = log.end_offset();
      files_after = rt.storage().list(std::string(kDir) + "/");
      // The segment holding the cut now ends exactly where batch 6 started.
      const std::string& seg = files_after.back();
      cut_segment_size = rt.storage().size(seg).value();
      const int64_t seg_base = std::stoll(seg.substr(std::string(kDir).size() + 1, 20));
      for (const Batch& m : model) {
        if (m.base_offset >= seg_base) {
          std::string framed;
          frame_record(framed, encode_batch(m));
          expected_cut_size += framed.size();
        }
      }
      // New appends after the cut are never flushed: the crash loses them
      // (or keeps a valid prefix), and the cut records must not come back.
      for (int i = 0; i < 3; ++i) {
        Batch batch = make_batch(2, 7, tagged("new", i), 60);
        EXPECT_IN_SIM(f, log.append(batch).ok());
      }
      ready = true;
      rt.sleep_for(Duration::seconds(10));
      return;
    }
    if (r.ok()) rep = *r;
    auto all = log.read(0, kAll);
    if (all.ok()) recovered = *all;
    end_after_recovery = log.end_offset();
    latest_after_recovery = log.latest_epoch();
  });
  const NodeId id = b.id();
  sim.add_node("ctl", [&](SimRuntime& rt) {
    while (!ready) rt.sleep_for(Duration::micros(100));
    sim.crash(id);
    rt.sleep_for(Duration::millis(1));
    sim.restart(id);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(boots == 2);
  CHECK(negative_rejected);
  REQUIRE(model.size() == 7);
  CHECK(t_noop == full_end);  // truncate_to past the end changes nothing
  CHECK(t_mid == model.back().next_offset());
  CHECK(t_end == t_mid);
  CHECK(files_after.size() < files_before.size());
  CHECK(cut_segment_size == expected_cut_size);
  REQUIRE(rep.has_value());
  // What survived: the kept prefix plus maybe some of the unflushed new batches.
  REQUIRE(recovered.size() >= 7);
  CHECK(recovered.size() <= 10);
  recovered.resize(7);
  CHECK(same_batches(recovered, model));
  CHECK(end_after_recovery >= t_mid);
  CHECK((latest_after_recovery == 1 || latest_after_recovery == 7));
}

TEST_CASE("kafka log: truncate_to(0) empties the log and appends start again at 0", "[kafka_log]") {
  Failures f;
  int64_t end = -1, again = -1;
  int32_t latest = -2;
  size_t count = 99;
  std::vector<std::string> files;
  Simulation sim(17);
  sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 256});
    EXPECT_IN_SIM(f, log.recover().ok());
    for (int i = 0; i < 8; ++i) EXPECT_IN_SIM(f, log.append(make_batch(2, i, tagged("z", i), 50)).ok());
    auto t = log.truncate_to(0);
    if (t.ok()) end = *t;
    latest = log.latest_epoch();
    count = log.batch_count();
    files = rt.storage().list(std::string(kDir) + "/");
    auto a = log.append(make_batch(1, 0, "fresh"));
    if (a.ok()) again = *a;
    EXPECT_IN_SIM(f, !log.end_offset_for_epoch(3).has_value() || log.end_offset_for_epoch(3)->first == 0);
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(end == 0);
  CHECK(latest == -1);
  CHECK(count == 0);
  CHECK(files == std::vector<std::string>{std::string(kDir) + "/00000000000000000000.log"});
  CHECK(again == 0);
}

// ---------------------------------------------------------------------------
// Leader-epoch cache

TEST_CASE("kafka log: end_offset_for_epoch follows KIP-101", "[kafka_log]") {
  using EpochEnd = std::optional<std::pair<int32_t, int64_t>>;
  Failures f;
  int boots = 0;
  std::vector<EpochEnd> answers, after_restart, after_truncate, after_truncate2;
  EpochEnd on_empty = std::pair<int32_t, int64_t>{-9, -9};
  EpochEnd below_first = std::pair<int32_t, int64_t>{-9, -9};
  int32_t latest = -2, latest_restart = -2, latest_t1 = -2, latest_t2 = -2, latest_empty = -2;
  bool ready = false;
  const std::vector<int32_t> queries = {-1, 0, 1, 2, 3, 5, 7};
  auto ask = [&](const PartitionLog& log) {
    std::vector<EpochEnd> out;
    for (int32_t q : queries) out.push_back(log.end_offset_for_epoch(q));
    return out;
  };
  Simulation sim(18, faulty_disk());
  auto& b = sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 4096});
    EXPECT_IN_SIM(f, log.recover().ok());
    if (++boots == 1) {
      on_empty = log.end_offset_for_epoch(0);
      latest_empty = log.latest_epoch();
      // Batches of two records in epochs 0, 0, 2, 2, 5: epoch 0 starts at 0,
      // epoch 2 at 4, epoch 5 at 8; the end offset is 10.
      for (int32_t e : {0, 0, 2, 2, 5}) EXPECT_IN_SIM(f, log.append(make_batch(2, e, "e")).ok());
      latest = log.latest_epoch();
      answers = ask(log);
      EXPECT_IN_SIM(f, log.flush().ok());
      ready = true;
      rt.sleep_for(Duration::seconds(10));
      return;
    }
    // Rebuilt from the segments after a crash.
    latest_restart = log.latest_epoch();
    after_restart = ask(log);
    EXPECT_IN_SIM(f, log.truncate_to(9).ok());  // inside the epoch-5 batch: epoch 5 goes
    latest_t1 = log.latest_epoch();
    after_truncate = ask(log);
    EXPECT_IN_SIM(f, log.truncate_to(4).ok());  // epoch 2 started at 4: it goes too
    latest_t2 = log.latest_epoch();
    after_truncate2 = ask(log);
    // A follower appending in a higher epoch after the cut.
    Batch rep = make_batch(1, 6, "replica");
    rep.base_offset = 4;
    EXPECT_IN_SIM(f, log.append_replica(rep).ok());
    EXPECT_IN_SIM(f, log.end_offset_for_epoch(3) == std::make_pair(0, int64_t{4}));
    EXPECT_IN_SIM(f, log.end_offset_for_epoch(6) == std::make_pair(6, int64_t{5}));
  });
  const NodeId id = b.id();
  sim.add_node("ctl", [&](SimRuntime& rt) {
    while (!ready) rt.sleep_for(Duration::micros(100));
    sim.crash(id);
    rt.sleep_for(Duration::millis(1));
    sim.restart(id);
  });
  // A log whose first epoch is 3 knows nothing about epoch 1.
  sim.add_node("c", [&](SimRuntime& rt) {
    PartitionLog log(rt.storage(), {kDir, 4096});
    EXPECT_IN_SIM(f, log.recover().ok());
    EXPECT_IN_SIM(f, log.append(make_batch(3, 3, "late")).ok());
    below_first = log.end_offset_for_epoch(1);
    EXPECT_IN_SIM(f, log.end_offset_for_epoch(3) == std::make_pair(3, int64_t{3}));
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(boots == 2);
  CHECK(on_empty == std::nullopt);
  CHECK(latest_empty == -1);
  CHECK(below_first == std::nullopt);
  CHECK(latest == 5);
  using P = std::pair<int32_t, int64_t>;
  // Queries -1, 0, 1, 2, 3, 5, 7.
  const std::vector<EpochEnd> want = {std::nullopt, P{0, 4}, P{0, 4}, P{2, 8}, P{2, 8}, P{5, 10}, P{5, 10}};
  CHECK(answers == want);
  CHECK(latest_restart == 5);
  CHECK(after_restart == want);
  CHECK(latest_t1 == 2);
  CHECK(after_truncate ==
        std::vector<EpochEnd>{std::nullopt, P{0, 4}, P{0, 4}, P{2, 8}, P{2, 8}, P{2, 8}, P{2, 8}});
  CHECK(latest_t2 == 0);
  CHECK(after_truncate2 ==
        std::vector<EpochEnd>{std::nullopt, P{0, 4}, P{0, 4}, P{0, 4}, P{0, 4}, P{0, 4}, P{0, 4}});
}

// Batch::records is shared copy-on-write: the leader stamps its offset and
// epoch on a copy of the producer's batch without copying any record, and a
// change through one copy is never visible through another.
TEST_CASE("kafka log: copying a batch shares its records until one copy changes them", "[kafka_log]") {
  Batch a = make_batch(3, 0, "cow");
  Batch b = a;
  REQUIRE(b.records.TEST_shares_with(a.records));
  b.base_offset = 42;  // header fields are the copy's own
  CHECK(a.base_offset != 42);
  // Reading through a non-const copy does not detach it.
  size_t seen = 0;
  for (const Record& r : b.records) seen += r.value ? 1 : 0;
  CHECK(seen == 3);
  CHECK(b.records.TEST_shares_with(a.records));
  // Changing one copy detaches it first.
  b.records.own()[0].value = "changed";
  CHECK_FALSE(b.records.TEST_shares_with(a.records));
  CHECK(a.records[0].value != std::optional<std::string>("changed"));
  CHECK(b.records[0].value == std::optional<std::string>("changed"));
  b.records.push_back(Record{});
  CHECK(a.records.size() == 3);
  CHECK(b.records.size() == 4);
  // An encoding of the untouched original is unchanged by all of this.
  CHECK(encode_batch(a) == encode_batch(make_batch(3, 0, "cow")));
  Batch empty;
  CHECK(empty.records.empty());
  CHECK(empty.records.begin() == empty.records.end());
  empty.records.clear();
  CHECK(empty.records.size() == 0);
}

// A follower writes the leader's sealed batch with the size and checksum the
// leader computed (not recomputed per replica): its segment must be the
// leader's byte for byte, and a copy cut to fewer records (the fetch path's
// cut at the high watermark) must be sized afresh, not with the stale size.
TEST_CASE("kafka log: a follower's segment from the leader's sealed batches equals the leader's", "[kafka_log]") {
  Failures f;
  std::string leader_bytes, follower_bytes, cut_bytes;
  uint64_t sizes_ok = 0, cut_end = 0, frames_shared = 0;
  Simulation sim(19);
  sim.add_node("b", [&](SimRuntime& rt) {
    PartitionLog leader(rt.storage(), {"kafka/l-0", 1 << 20});
    PartitionLog follower(rt.storage(), {"kafka/f-0", 1 << 20});
    PartitionLog cut(rt.storage(), {"kafka/c-0", 1 << 20});
    EXPECT_IN_SIM(f, leader.recover().ok() && follower.recover().ok() && cut.recover().ok());
    for (int n : {5, 1, 7}) EXPECT_IN_SIM(f, leader.append(make_batch(n, 2, tagged("f", n), 40)).ok());
    auto shared = leader.read_shared(0, kAll);
    EXPECT_IN_SIM(f, shared.ok() && shared->size() == 3);
    if (!shared.ok()) return;
    for (const BatchPtr& b : *shared) {
      sizes_ok += b->encoded_bytes == encode_batch(b->batch).size() ? 1 : 0;
      // The follower's disk takes a reference to the leader's frame, not a copy.
      const long refs = b->frame.data.use_count();
      EXPECT_IN_SIM(f, follower.append_replica(b).ok());
      frames_shared += b->frame.size > 0 && b->frame.data.use_count() == refs + 1 ? 1 : 0;
    }
    // The first batch cut to two records, as Replica::read does at the high watermark.
    auto c = std::make_shared<SealedBatch>(*shared->front());
    c->batch.records.resize(2);
    c->encoded_bytes = 0;
    c->frame = {};
    c->frame_crc = frame_crc(encode_batch(c->batch));
    EXPECT_IN_SIM(f, cut.append_replica(BatchPtr(c)).ok());
    cut_end = static_cast<uint64_t>(cut.end_offset());
    auto lb = rt.storage().read_all("kafka/l-0/00000000000000000000.log");
    auto fb = rt.storage().read_all("kafka/f-0/00000000000000000000.log");
    auto cb = rt.storage().read_all("kafka/c-0/00000000000000000000.log");
    EXPECT_IN_SIM(f, lb.ok() && fb.ok() && cb.ok());
    if (lb.ok()) leader_bytes = *lb;
    if (fb.ok()) follower_bytes = *fb;
    if (cb.ok()) cut_bytes = *cb;
  });
  REQUIRE(sim.run() == RunStop::quiescent);
  CHECK(f.list == std::vector<std::string>{});
  CHECK(sizes_ok == 3);
  CHECK(frames_shared == 3);
  CHECK(!leader_bytes.empty());
  CHECK(follower_bytes == leader_bytes);
  CHECK(cut_end == 2);
  // The cut frame holds exactly the two-record encoding.
  Batch two = make_batch(5, 2, "f5", 40);
  two.records.resize(2);
  CHECK(cut_bytes.size() == 8 + encode_batch(two).size());
}
