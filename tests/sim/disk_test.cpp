// DiskModel: POSIX-like calls, and crash semantics checked against a reference
// model written independently here (no op-log sharing with the implementation).
#include <streamsim/core/checksum.h>
#include <streamsim/core/random.h>
#include <streamsim/sim/disk.h>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace streamsim;
using streamsim::sim::CrashReport;
using streamsim::sim::DiskFaultConfig;
using streamsim::sim::DiskModel;
using streamsim::SharedBytes;

namespace {

// ---------------------------------------------------------------------------
// Reference model. Files are numbered inodes; every change since the last fsync
// is kept as an op so that the set of possible torn states can be enumerated.

struct RefOp {
  bool is_truncate;
  uint64_t offset;  // write offset or new size
  std::string data;
};

struct RefFile {
  std::string current;
  std::string durable;
  std::vector<RefOp> log;
  uint64_t unsynced = 0;
};

// A possible post-crash content and which of its bytes came from unsynced ops.
struct Candidate {
  std::string content;
  std::vector<bool> touched;
};

void ref_write(Candidate& c, uint64_t off, std::string_view d) {
  if (d.empty()) return;
  if (c.content.size() < off + d.size()) {
    const uint64_t old = c.content.size();
    c.content.resize(off + d.size(), '\0');
    c.touched.resize(c.content.size(), false);
    for (uint64_t i = old; i < off; ++i) c.touched[i] = true;  // zero-filled gap
  }
  for (uint64_t i = 0; i < d.size(); ++i) {
    c.content[off + i] = d[i];
    c.touched[off + i] = true;
  }
}

void ref_truncate(Candidate& c, uint64_t n) {
  const uint64_t old = c.content.size();
  c.content.resize(n, '\0');
  c.touched.resize(n, false);
  for (uint64_t i = old; i < n; ++i) c.touched[i] = true;
}

void ref_apply(Candidate& c, const RefOp& op) {
  if (op.is_truncate) {
    ref_truncate(c, op.offset);
  } else {
    ref_write(c, op.offset, op.data);
  }
}

// Every state a torn crash may leave: the first k whole ops (k < n) plus a
// strict prefix of op k+1.
std::vector<Candidate> torn_candidates(const RefFile& f) {
  std::vector<Candidate> out;
  Candidate base{f.durable, std::vector<bool>(f.durable.size(), false)};
  for (const RefOp& op : f.log) {
    if (op.is_truncate) {
      out.push_back(base);
    } else {
      for (uint64_t j = 0; j < op.data.size(); ++j) {
        Candidate c = base;
        ref_write(c, op.offset, std::string_view(op.data).substr(0, j));
        out.push_back(std::move(c));
      }
    }
    ref_apply(base, op);
  }
  return out;
}

struct RefDisk {
  std::vector<RefFile> inodes;
  std::map<std::string, size_t> names;
  std::map<std::string, size_t> durable_names;

  bool write(const std::string& p, uint64_t off, const std::string& d) {
    auto it = names.find(p);
    if (it == names.end()) {
      inodes.emplace_back();
      it = names.emplace(p, inodes.size() - 1).first;
    }
    if (d.empty()) return true;
    RefFile& f = inodes[it->second];
    Candidate c{f.current, std::vector<bool>(f.current.size())};
    ref_write(c, off, d);
    f.current = c.content;
    f.log.push_back({false, off, d});
    f.unsynced += d.size();
    return true;
  }
  bool append(const std::string& p, const std::string& d) {
    auto it = names.find(p);
    return write(p, it == names.end() ? 0 : inodes[it->second].current.size(), d);
  }
  bool truncate(const std::string& p, uint64_t n) {
    auto it = names.find(p);
    if (it == names.end()) return false;
    RefFile& f = inodes[it->second];
    if (n == f.current.size()) return true;
    f.current.resize(n, '\0');
    f.log.push_back({true, n, {}});
    return true;
  }
  bool fsync(const std::string& p) {
    auto it = names.find(p);
    if (it == names.end()) return false;
    RefFile& f = inodes[it->second];
    f.durable = f.current;
    f.log.clear();
    f.unsynced = 0;
    return true;
  }
  bool rename(const std::string& a, const std::string& b) {
    auto it = names.find(a);
    if (it == names.end()) return false;
    if (a == b) return true;
    const size_t id = it->second;
    names.erase(it);
    names[b] = id;
    return true;
  }
  bool remove(const std::string& p) { return names.erase(p) == 1; }
  void sync_dir() { durable_names = names; }

  std::set<size_t> reachable() const {
    std::set<size_t> s;
    for (const auto& [n, id] : names) s.insert(id);
    for (const auto& [n, id] : durable_names) s.insert(id);
    return s;
  }
  uint64_t unsynced_bytes() const {
    uint64_t total = 0;
    for (size_t id : reachable()) total += inodes[id].unsynced;
    return total;
  }
  uint64_t names_differing() const {
    std::set<std::string> all;
    for (const auto& [n, id] : names) all.insert(n);
    for (const auto& [n, id] : durable_names) all.insert(n);
    uint64_t count = 0;
    for (const auto& n : all) {
      auto a = names.find(n);
      auto b = durable_names.find(n);
      if (a == names.end() || b == durable_names.end() || a->second != b->second) ++count;
    }
    return count;
  }
};

// Compares everything a reader of DiskModel can see with the reference.
void require_same_view(const DiskModel& disk, const RefDisk& ref) {
  std::vector<std::string> expected_names;
  for (const auto& [n, id] : ref.names) expected_names.push_back(n);
  RC_ASSERT(disk.list("") == expected_names);
  for (const auto& [n, id] : ref.names) {
    auto r = disk.read_all(n);
    RC_ASSERT(r.ok());
    const std::string& cur = ref.inodes[id].current;
    RC_ASSERT(*r == cur);
    RC_ASSERT(disk.size(n).ok() && *disk.size(n) == cur.size());
    // Ranged reads cross the boundaries between private and shared bytes.
    for (uint64_t off : {uint64_t{0}, uint64_t{1}, cur.size() / 2, cur.size() > 0 ? cur.size() - 1 : 0, cur.size() + 1}) {
      for (uint64_t len : {uint64_t{1}, uint64_t{3}, cur.size()}) {
        auto got = disk.read(n, off, len);
        RC_ASSERT(got.ok());
        RC_ASSERT(*got == (off >= cur.size() ? std::string() : cur.substr(off, len)));
      }
    }
  }
  RC_ASSERT(disk.unsynced_bytes() == ref.unsynced_bytes());
}

struct Cmd {
  int kind = 0;
  int file = 0;
  int file2 = 0;
  uint64_t offset = 0;
  std::string data;
  uint64_t seed = 0;
  int faults = 0;  // for crashes: 0 clean, 1 torn writes, 2 torn writes and bit flips
};

std::string file_name(int i) { return "f" + std::to_string(i); }

rc::Gen<std::vector<Cmd>> commands(bool crash_with_faults) {
  auto cmd = rc::gen::build<Cmd>(
      // Writes and appends are drawn more often so files get content worth losing.
      rc::gen::set(&Cmd::kind, rc::gen::weightedElement<int>({{4, 0}, {4, 1}, {1, 2}, {2, 3}, {1, 4},
                                                               {1, 5}, {2, 6}, {1, 7}, {2, 8}, {4, 9}})),
      rc::gen::set(&Cmd::file, rc::gen::inRange(0, 3)), rc::gen::set(&Cmd::file2, rc::gen::inRange(0, 3)),
      rc::gen::set(&Cmd::offset, rc::gen::inRange<uint64_t>(0, 24)),
      rc::gen::set(&Cmd::data, rc::gen::resize(10, rc::gen::string<std::string>())),
      rc::gen::set(&Cmd::seed, rc::gen::arbitrary<uint64_t>()),
      rc::gen::set(&Cmd::faults, crash_with_faults ? rc::gen::inRange(0, 3) : rc::gen::just(0)));
  return rc::gen::container<std::vector<Cmd>>(cmd);
}

int hamming(const std::string& a, const std::string& b, const std::vector<bool>& touched, bool* in_touched) {
  int d = 0;
  *in_touched = true;
  for (size_t i = 0; i < a.size(); ++i) {
    const int bits = __builtin_popcount(static_cast<unsigned char>(a[i] ^ b[i]));
    if (bits > 0 && !touched[i]) *in_touched = false;
    d += bits;
  }
  return d;
}

void crash_both(DiskModel& disk, RefDisk& ref, const Cmd& c) {
  const DiskFaultConfig faults{c.faults >= 1 ? 1.0 : 0.0, c.faults >= 2 ? 1.0 : 0.0};
  const uint64_t unsynced_before = ref.unsynced_bytes();
  const uint64_t names_reverted = ref.names_differing();
  std::set<size_t> survivors;
  for (const auto& [n, id] : ref.durable_names) survivors.insert(id);
  uint64_t lost_vanished = 0;
  for (const auto& [n, id] : ref.names) {
    if (!survivors.contains(id)) lost_vanished += ref.inodes[id].unsynced;
  }

  Rng rng(c.seed);
  const CrashReport rep = disk.crash(rng, faults);

  RC_ASSERT(rep.names_reverted == names_reverted);
  ref.names = ref.durable_names;
  std::vector<std::string> expected_names;
  for (const auto& [n, id] : ref.names) expected_names.push_back(n);
  RC_ASSERT(disk.list("") == expected_names);

  uint64_t dirty = 0;
  int min_flips = 0;
  for (const auto& [n, id] : ref.durable_names) {
    RefFile& f = ref.inodes[id];
    const std::string got = *disk.read_all(n);
    if (f.log.empty()) {
      // Nothing unsynced: the crash must not touch the file at all.
      RC_ASSERT(got == f.durable);
    } else {
      ++dirty;
      if (c.faults == 0) {
        RC_ASSERT(got == f.durable);
      } else {
        // The content must be one of the torn states, up to one flipped bit that
        // lies in bytes the surviving unsynced ops wrote.
        int best = 2;
        for (const Candidate& cand : torn_candidates(f)) {
          if (cand.content.size() != got.size()) continue;
          bool in_touched = false;
          const int d = hamming(cand.content, got, cand.touched, &in_touched);
          if (d <= 1 && in_touched) best = std::min(best, d);
        }
        RC_ASSERT(best <= (c.faults == 2 ? 1 : 0));
        min_flips += best;
      }
    }
    f.current = got;
    f.durable = got;
    f.log.clear();
    f.unsynced = 0;
  }
  RC_ASSERT(rep.files_reverted == dirty);
  RC_ASSERT(rep.files_torn == (c.faults == 0 ? 0 : dirty));
  if (c.faults == 0) {
    RC_ASSERT(rep.bytes_lost == unsynced_before);
    RC_ASSERT(rep.bits_flipped == 0u);
  } else {
    RC_ASSERT(rep.bytes_lost >= lost_vanished);
    RC_ASSERT(rep.bytes_lost <= unsynced_before);
    RC_ASSERT(static_cast<uint64_t>(min_flips) <= rep.bits_flipped);
    RC_ASSERT(rep.bits_flipped <= (c.faults == 2 ? rep.files_torn : 0));
  }
  // Inodes not named by the durable namespace are gone for good.
  RC_ASSERT(disk.unsynced_bytes() == 0u);
}

SharedBytes shared_of(const std::string& s) {
  auto buf = std::make_shared<char[]>(s.size() + 1);
  std::copy(s.begin(), s.end(), buf.get());
  return SharedBytes{std::move(buf), s.size()};
}

void run_commands(const std::vector<Cmd>& cmds) {
  DiskModel disk;
  RefDisk ref;
  // Every buffer handed to write_shared, with the bytes it held: whatever the
  // disk did (rewrites, truncates, torn crashes with flipped bits), the shared
  // bytes themselves must never change.
  std::vector<std::pair<SharedBytes, std::string>> shared;
  for (const Cmd& c : cmds) {
    const std::string a = file_name(c.file);
    const std::string b = file_name(c.file2);
    switch (c.kind) {
      case 0: RC_ASSERT(disk.write(a, c.offset, c.data).ok() == ref.write(a, c.offset, c.data)); break;
      case 1: RC_ASSERT(disk.append(a, c.data).ok() == ref.append(a, c.data)); break;
      case 2: {
        auto r = disk.truncate(a, c.offset);
        RC_ASSERT(r.ok() == ref.truncate(a, c.offset));
        if (!r.ok()) RC_ASSERT(r.error() == IoErrc::not_found);
        break;
      }
      case 3: {
        auto r = disk.fsync(a);
        RC_ASSERT(r.ok() == ref.fsync(a));
        if (!r.ok()) RC_ASSERT(r.error() == IoErrc::not_found);
        break;
      }
      case 4: {
        auto r = disk.rename(a, b);
        RC_ASSERT(r.ok() == ref.rename(a, b));
        if (!r.ok()) RC_ASSERT(r.error() == IoErrc::not_found);
        break;
      }
      case 5: {
        auto r = disk.remove(a);
        RC_ASSERT(r.ok() == ref.remove(a));
        if (!r.ok()) RC_ASSERT(r.error() == IoErrc::not_found);
        break;
      }
      case 6:
        RC_ASSERT(disk.sync_dir().ok());
        ref.sync_dir();
        break;
      case 7: crash_both(disk, ref, c); break;
      case 8: {
        // A shared write anywhere: past the end (a gap), inside, or an append.
        shared.emplace_back(shared_of(c.data), c.data);
        RC_ASSERT(disk.write_shared(a, c.offset, shared.back().first).ok() == ref.write(a, c.offset, c.data));
        break;
      }
      case 9: {
        // A shared append, often of a buffer another file already holds (as a
        // follower appends its leader's frame).
        if (shared.empty() || c.data.size() % 2 == 1) shared.emplace_back(shared_of(c.data), c.data);
        const auto& [bytes, copy] = shared[c.seed % shared.size()];
        auto size = disk.size(a);
        const uint64_t end = size.ok() ? *size : 0;
        RC_ASSERT(disk.write_shared(a, end, bytes).ok() == ref.write(a, end, copy));
        break;
      }
    }
    require_same_view(disk, ref);
  }
  for (const auto& [bytes, copy] : shared) RC_ASSERT(std::string(bytes.view()) == copy);
  // Always end with a clean crash: whatever the sequence did, exactly the durable
  // state must remain.
  Cmd final_crash;
  final_crash.kind = 7;
  crash_both(disk, ref, final_crash);
  require_same_view(disk, ref);
}

// A disk whose durable file "log" holds the framed synced records.
DiskModel make_disk_with_log(const std::vector<std::string>& synced, std::string* durable) {
  DiskModel disk;
  RC_ASSERT(disk.write("log", 0, "").ok());
  RC_ASSERT(disk.sync_dir().ok());
  std::string framed;
  for (const auto& p : synced) frame_record(framed, p);
  RC_ASSERT(disk.append("log", framed).ok());
  RC_ASSERT(disk.fsync("log").ok());
  *durable = framed;
  return disk;
}

}  // namespace

// ---------------------------------------------------------------------------
// Basic calls.

TEST_CASE("disk: write, append, read and size", "[disk]") {
  DiskModel d;
  CHECK_FALSE(d.exists("a"));
  REQUIRE(d.write("a", 0, "hello").ok());
  CHECK(d.exists("a"));
  REQUIRE(d.append("a", " world").ok());
  CHECK(*d.read_all("a") == "hello world");
  CHECK(*d.read("a", 6, 100) == "world");  // short read at end of file
  CHECK(*d.read("a", 11, 5) == "");
  CHECK(*d.read("a", 50, 5) == "");
  CHECK(*d.size("a") == 11u);
  REQUIRE(d.write("a", 14, "!").ok());  // past the end: zero-filled gap
  CHECK(*d.read_all("a") == std::string("hello world\0\0\0!", 15));
  REQUIRE(d.write("a", 0, "J").ok());
  CHECK(d.read_all("a")->substr(0, 5) == "Jello");
  REQUIRE(d.append("new", "x").ok());  // append creates
  CHECK(*d.read_all("new") == "x");
}

TEST_CASE("disk: missing files are not_found", "[disk]") {
  DiskModel d;
  CHECK(d.read("m", 0, 1).error() == IoErrc::not_found);
  CHECK(d.read_all("m").error() == IoErrc::not_found);
  CHECK(d.size("m").error() == IoErrc::not_found);
  CHECK(d.fsync("m").error() == IoErrc::not_found);
  CHECK(d.rename("m", "n").error() == IoErrc::not_found);
  CHECK(d.remove("m").error() == IoErrc::not_found);
  CHECK(d.truncate("m", 0).error() == IoErrc::not_found);
  CHECK_FALSE(d.exists("n"));
  CHECK(std::string(to_string(IoErrc::not_found)) == "not_found");
  CHECK(std::string(to_string(IoErrc::io_error)) == "io_error");
}

TEST_CASE("disk: truncate shrinks and zero-extends", "[disk]") {
  DiskModel d;
  REQUIRE(d.write("a", 0, "abcdef").ok());
  REQUIRE(d.truncate("a", 2).ok());
  CHECK(*d.read_all("a") == "ab");
  REQUIRE(d.truncate("a", 4).ok());
  CHECK(*d.read_all("a") == std::string("ab\0\0", 4));
}

TEST_CASE("disk: rename replaces the target and list is sorted by prefix", "[disk]") {
  DiskModel d;
  REQUIRE(d.write("dir/b", 0, "B").ok());
  REQUIRE(d.write("dir/a", 0, "A").ok());
  REQUIRE(d.write("other", 0, "O").ok());
  CHECK(d.list("dir/") == std::vector<std::string>{"dir/a", "dir/b"});
  REQUIRE(d.rename("dir/a", "dir/b").ok());
  CHECK(d.list("dir/") == std::vector<std::string>{"dir/b"});
  CHECK(*d.read_all("dir/b") == "A");
  REQUIRE(d.rename("dir/b", "dir/b").ok());  // onto itself: no change
  CHECK(*d.read_all("dir/b") == "A");
  CHECK(d.list("") == std::vector<std::string>{"dir/b", "other"});
}

TEST_CASE("disk: unsynced_bytes counts writes since fsync", "[disk]") {
  DiskModel d;
  REQUIRE(d.append("a", "1234").ok());
  REQUIRE(d.write("b", 2, "xy").ok());
  CHECK(d.unsynced_bytes() == 6u);
  REQUIRE(d.fsync("a").ok());
  CHECK(d.unsynced_bytes() == 2u);
  REQUIRE(d.fsync("b").ok());
  CHECK(d.unsynced_bytes() == 0u);
}

// ---------------------------------------------------------------------------
// Crash semantics.

TEST_CASE("disk: a clean crash keeps exactly fsynced content", "[disk][crash]") {
  DiskModel d;
  REQUIRE(d.write("a", 0, "durable").ok());
  REQUIRE(d.sync_dir().ok());
  REQUIRE(d.fsync("a").ok());
  REQUIRE(d.append("a", "-lost").ok());
  REQUIRE(d.write("a", 0, "D").ok());
  Rng rng(1);
  CrashReport r = d.crash(rng, {});
  CHECK(*d.read_all("a") == "durable");
  CHECK(r.files_reverted == 1u);
  CHECK(r.bytes_lost == 6u);
  CHECK(r.files_torn == 0u);
  CHECK(r.names_reverted == 0u);
  CHECK(d.unsynced_bytes() == 0u);
}

TEST_CASE("disk: namespace changes need sync_dir to survive a crash", "[disk][crash]") {
  Rng rng(7);
  SECTION("a rename without sync_dir is undone") {
    DiskModel d;
    REQUIRE(d.write("old", 0, "x").ok());
    REQUIRE(d.fsync("old").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.rename("old", "new").ok());
    CrashReport r = d.crash(rng, {});
    CHECK(d.list("") == std::vector<std::string>{"old"});
    CHECK(*d.read_all("old") == "x");
    CHECK(r.names_reverted == 2u);
  }
  SECTION("a rename followed by sync_dir survives") {
    DiskModel d;
    REQUIRE(d.write("old", 0, "x").ok());
    REQUIRE(d.fsync("old").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.rename("old", "new").ok());
    REQUIRE(d.sync_dir().ok());
    CrashReport r = d.crash(rng, {});
    CHECK(d.list("") == std::vector<std::string>{"new"});
    CHECK(*d.read_all("new") == "x");
    CHECK(r.names_reverted == 0u);
  }
  SECTION("a rename moves the inode: unsynced data is lost under the new name too") {
    DiskModel d;
    REQUIRE(d.write("tmp", 0, "v1").ok());
    REQUIRE(d.fsync("tmp").ok());
    REQUIRE(d.rename("tmp", "final").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.append("final", "+v2").ok());
    d.crash(rng, {});
    CHECK(*d.read_all("final") == "v1");
  }
  SECTION("a created file that was never sync_dir'd vanishes, even if fsynced") {
    DiskModel d;
    REQUIRE(d.write("a", 0, "kept").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.write("b", 0, "gone").ok());
    REQUIRE(d.fsync("b").ok());
    CrashReport r = d.crash(rng, {});
    CHECK_FALSE(d.exists("b"));
    CHECK(d.list("") == std::vector<std::string>{"a"});
    CHECK(*d.read_all("a") == "");  // the name was durable, the content never fsynced
    CHECK(r.names_reverted == 1u);
  }
  SECTION("a remove without sync_dir comes back after a crash") {
    DiskModel d;
    REQUIRE(d.write("a", 0, "back").ok());
    REQUIRE(d.fsync("a").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.remove("a").ok());
    CHECK_FALSE(d.exists("a"));
    d.crash(rng, {});
    CHECK(*d.read_all("a") == "back");
  }
  SECTION("a rename over an existing file is undone and the old target returns") {
    DiskModel d;
    REQUIRE(d.write("a", 0, "A").ok());
    REQUIRE(d.write("b", 0, "B").ok());
    REQUIRE(d.fsync("a").ok());
    REQUIRE(d.fsync("b").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.rename("a", "b").ok());
    CHECK(*d.read_all("b") == "A");
    d.crash(rng, {});
    CHECK(*d.read_all("a") == "A");
    CHECK(*d.read_all("b") == "B");
  }
}

TEST_CASE("disk: wipe loses durable data too", "[disk][crash]") {
  DiskModel d;
  REQUIRE(d.write("a", 0, "x").ok());
  REQUIRE(d.fsync("a").ok());
  REQUIRE(d.sync_dir().ok());
  d.wipe();
  CHECK(d.list("").empty());
  Rng rng(3);
  d.crash(rng, {});
  CHECK(d.list("").empty());
}

TEST_CASE("disk: torn writes replay a prefix of the op log onto durable content", "[disk][crash]") {
  // durable "hello"; unsynced: truncate to 2, then append "XY". A torn crash keeps
  // the first k ops (k < 2) and a strict prefix of the next: "hello" (k = 0, the
  // truncate is lost), "he" or "heX" (k = 1). The full "heXY" is never kept.
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    DiskModel d;
    REQUIRE(d.write("a", 0, "hello").ok());
    REQUIRE(d.fsync("a").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.truncate("a", 2).ok());
    REQUIRE(d.append("a", "XY").ok());
    Rng rng(seed);
    CrashReport r = d.crash(rng, {1.0, 0.0});
    CHECK(r.files_torn == 1u);
    seen.insert(*d.read_all("a"));
  }
  CHECK(seen == std::set<std::string>{"hello", "he", "heX"});
}

TEST_CASE("disk: a torn overwrite is a prefix of the new bytes over the old ones", "[disk][crash]") {
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    DiskModel d;
    REQUIRE(d.write("a", 0, "aaaa").ok());
    REQUIRE(d.fsync("a").ok());
    REQUIRE(d.sync_dir().ok());
    REQUIRE(d.write("a", 0, "bbbb").ok());
    Rng rng(seed);
    CrashReport r = d.crash(rng, {1.0, 0.0});
    const std::string got = *d.read_all("a");
    seen.insert(got);
    const size_t j = got.find('a') == std::string::npos ? 4 : got.find('a');
    CHECK(r.bytes_lost == 4 - j);
  }
  CHECK(seen == std::set<std::string>{"aaaa", "baaa", "bbaa", "bbba"});
}

TEST_CASE("disk: crash against a reference model (random operations)", "[disk][crash]") {
  rc::prop("clean crashes keep exactly the durable state", [] { run_commands(*commands(false)); });
  rc::prop("torn crashes leave a torn state, flips only in unsynced bytes", [] { run_commands(*commands(true)); });
}

TEST_CASE("disk: torn framed log keeps fsynced records and a prefix of the rest", "[disk][crash]") {
  rc::prop("torn log", [](const std::vector<std::string>& synced, const std::vector<std::string>& unsynced,
                          uint64_t seed, bool flips) {
    std::string durable;
    DiskModel disk = make_disk_with_log(synced, &durable);
    // Later records go in as one or two appends each, so op boundaries (where a
    // torn write may stop) fall inside records as well as between them.
    std::string full = durable;
    for (const auto& p : unsynced) {
      std::string rec;
      frame_record(rec, p);
      const size_t cut = *rc::gen::inRange<size_t>(0, rec.size() + 1);
      if (cut > 0) RC_ASSERT(disk.append("log", rec.substr(0, cut)).ok());
      if (cut < rec.size()) RC_ASSERT(disk.append("log", rec.substr(cut)).ok());
      full += rec;
    }
    RC_ASSERT(*disk.read_all("log") == full);

    Rng rng(seed);
    const CrashReport rep = disk.crash(rng, {1.0, flips ? 1.0 : 0.0});
    const std::string after = *disk.read_all("log");

    // Durable bytes are never altered.
    RC_ASSERT(after.size() >= durable.size());
    RC_ASSERT(after.compare(0, durable.size(), durable) == 0);
    RC_ASSERT(after.size() <= full.size());
    if (unsynced.empty()) {
      RC_ASSERT(after == durable);
      RC_ASSERT(rep.files_torn == 0u);
    } else {
      RC_ASSERT(rep.files_torn == 1u);
      RC_ASSERT(after.size() < full.size());  // a torn file always loses something
    }
    // Apart from at most one flipped bit, the file is a prefix of what was written.
    int diff_bits = 0;
    for (size_t i = 0; i < after.size(); ++i) {
      diff_bits += __builtin_popcount(static_cast<unsigned char>(after[i] ^ full[i]));
    }
    RC_ASSERT(static_cast<uint64_t>(diff_bits) == rep.bits_flipped);
    RC_ASSERT(diff_bits <= (flips ? 1 : 0));

    // The scan returns every fsynced record and then some of the written records,
    // always as a prefix of what was written, never a changed payload.
    std::vector<std::string> written = synced;
    written.insert(written.end(), unsynced.begin(), unsynced.end());
    const FramedScan scan = scan_records(after);
    RC_ASSERT(scan.records.size() >= synced.size());
    RC_ASSERT(scan.records.size() <= written.size());
    RC_ASSERT(std::equal(scan.records.begin(), scan.records.end(), written.begin()));
    if (diff_bits == 0) {
      // Without a flip the file is an exact prefix: a record is lost only if cut.
      std::string whole;
      for (size_t i = 0; i < scan.records.size(); ++i) frame_record(whole, written[i]);
      RC_ASSERT(scan.valid_bytes == whole.size());
      RC_ASSERT(scan.corrupt_tail == (after.size() != whole.size()));
    }
  });
}

TEST_CASE("disk: same seed gives the same crash result", "[disk][crash]") {
  auto build = [] {
    DiskModel d;
    for (int i = 0; i < 8; ++i) {
      const std::string name = "f" + std::to_string(i);
      REQUIRE(d.append(name, std::string(100, static_cast<char>('a' + i))).ok());
      if (i % 2 == 0) REQUIRE(d.fsync(name).ok());
    }
    REQUIRE(d.sync_dir().ok());
    for (int i = 0; i < 8; ++i) {
      const std::string name = "f" + std::to_string(i);
      for (int j = 0; j < 5; ++j) REQUIRE(d.append(name, std::string(37, static_cast<char>('A' + j))).ok());
      REQUIRE(d.write(name, 50, "overwrite").ok());
    }
    REQUIRE(d.write("unnamed", 0, "vanishes").ok());
    return d;
  };
  const DiskFaultConfig faults{0.7, 0.5};
  std::set<uint64_t> digests;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    DiskModel a = build();
    DiskModel b = build();
    Rng ra(seed);
    Rng rb(seed);
    const CrashReport x = a.crash(ra, faults);
    const CrashReport y = b.crash(rb, faults);
    CHECK(a.digest() == b.digest());
    CHECK(x.files_torn == y.files_torn);
    CHECK(x.bits_flipped == y.bits_flipped);
    CHECK(x.bytes_lost == y.bytes_lost);
    CHECK(x.names_reverted == y.names_reverted);
    CHECK(ra.next_u64() == rb.next_u64());  // the same number of draws was used
    digests.insert(a.digest());
  }
  // The seed matters: ten seeds do not all produce the same torn state.
  CHECK(digests.size() > 1);
}

TEST_CASE("disk: digest reflects content and names", "[disk]") {
  DiskModel a;
  DiskModel b;
  REQUIRE(a.write("ab", 0, "c").ok());
  REQUIRE(b.write("a", 0, "bc").ok());
  CHECK(a.digest() != b.digest());
  DiskModel c;
  REQUIRE(c.write("ab", 0, "c").ok());
  CHECK(a.digest() == c.digest());
}

TEST_CASE("disk: many small appends with fsyncs stay linear", "[disk][perf]") {
  // 100k appends of 16 bytes, each fsynced: copying the whole file per append or
  // per fsync would move about 80 GB (many seconds); replaying the op log moves
  // 1.6 MB. The bound is loose enough for sanitizer builds on a loaded machine.
  DiskModel d;
  const std::string chunk(16, 'x');
  bool all_ok = true;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) {
    all_ok = all_ok && d.append("log", chunk).ok() && d.fsync("log").ok();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(all_ok);
  CHECK(*d.size("log") == 100000u * 16u);
  CHECK(d.unsynced_bytes() == 0u);
  CHECK(elapsed < std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------
// Shared writes (write_shared): the replicas of a Kafka partition append the
// same frame buffer to their own disks.

TEST_CASE("disk: a shared write reads, sizes and digests as the same plain write", "[disk]") {
  const std::string a = "frame-one|", b = "frame-two, longer|";
  const SharedBytes sa = shared_of(a), sb = shared_of(b);
  DiskModel shared, plain;
  REQUIRE(shared.write("seg", 0, "head|").ok());
  REQUIRE(plain.write("seg", 0, "head|").ok());
  REQUIRE(shared.write_shared("seg", 5, sa).ok());
  REQUIRE(plain.write("seg", 5, a).ok());
  REQUIRE(shared.write_shared("seg", 5 + a.size(), sb).ok());
  REQUIRE(plain.write("seg", 5 + a.size(), b).ok());
  // The disk holds references, not copies.
  CHECK(sa.data.use_count() == 2);
  CHECK(sb.data.use_count() == 2);
  CHECK(*shared.read_all("seg") == *plain.read_all("seg"));
  CHECK(*shared.size("seg") == *plain.size("seg"));
  CHECK(*shared.read("seg", 3, 10) == *plain.read("seg", 3, 10));
  CHECK(shared.digest() == plain.digest());
  CHECK(shared.unsynced_bytes() == plain.unsynced_bytes());
  // A first write to a new file may be shared too; a write that is not an
  // append (here: past the end, leaving a gap) is a plain write.
  REQUIRE(shared.write_shared("new", 0, sa).ok());
  CHECK(sa.data.use_count() == 3);
  REQUIRE(shared.write_shared("gap", 4, sa).ok());
  CHECK(sa.data.use_count() == 3);
  CHECK(*shared.read_all("gap") == std::string(4, '\0') + a);
  // A private write after shared ones gives the file its own copy of them.
  REQUIRE(shared.append("seg", "tail").ok());
  REQUIRE(plain.append("seg", "tail").ok());
  CHECK(*shared.read_all("seg") == *plain.read_all("seg"));
  CHECK(sb.data.use_count() == 1);
}

TEST_CASE("disk: a torn crash with flipped bits never changes bytes another disk shares", "[disk][crash]") {
  std::string frame;
  for (int i = 0; i < 64; ++i) frame_record(frame, "record-" + std::to_string(i));
  const SharedBytes bytes = shared_of(frame);
  uint64_t flipped = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    DiskModel leader, follower;
    for (DiskModel* d : {&leader, &follower}) {
      REQUIRE(d->write("seg", 0, "").ok());
      REQUIRE(d->sync_dir().ok());
      REQUIRE(d->write_shared("seg", 0, bytes).ok());
    }
    Rng rng(seed);
    const CrashReport rep = follower.crash(rng, DiskFaultConfig{1.0, 1.0});
    flipped += rep.bits_flipped;
    // The crashed disk lost or damaged its copy; the other disk and the buffer
    // still hold exactly what was written.
    CHECK(*leader.read_all("seg") == frame);
    CHECK(std::string(bytes.view()) == frame);
    CHECK(follower.read_all("seg")->size() < frame.size());
  }
  CHECK(flipped > 0);  // the flips happened, in the crashed disk's own copy
}
