// The simulated disk: current and durable content per file, an unsynced op log,
// and a current and a durable namespace. See disk.h for the crash semantics.
#include <streamsim/core/assert.h>
#include <streamsim/sim/disk.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <utility>

namespace streamsim::sim {
namespace {

// Writes data at offset, zero-filling any gap past the end. Appends (the hot
// path for logs) go through std::string::append, so they are amortised O(len).
void apply_write(std::string& content, uint64_t offset, std::string_view data) {
  if (offset == content.size()) {
    content.append(data);
    return;
  }
  const uint64_t end = offset + data.size();
  if (end > content.size()) content.resize(end, '\0');  // also zero-fills offset > size
  std::memcpy(content.data() + offset, data.data(), data.size());
}

void apply_truncate(std::string& content, uint64_t size) { content.resize(size, '\0'); }

// Byte ranges [first, second) written or zero-filled by replayed ops: the bytes a
// bit flip may damage. Truncates need no clipping here: a byte cut off by a
// truncate only exists again if a later write or zero-fill recreates it, and that
// recreation is itself recorded, so the union clipped to the final size is exact.
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

void note_write(Ranges& touched, uint64_t size_before, uint64_t offset, uint64_t len) {
  const uint64_t first = std::min(offset, size_before);  // include the zero-filled gap
  const uint64_t last = offset + len;
  if (first < last) touched.emplace_back(first, last);
}

void note_truncate(Ranges& touched, uint64_t size_before, uint64_t size) {
  if (size > size_before) touched.emplace_back(size_before, size);
}

// Sorts and merges the ranges, clipped to [0, limit); returns the total length.
uint64_t normalise(Ranges& ranges, uint64_t limit) {
  std::sort(ranges.begin(), ranges.end());
  Ranges merged;
  for (auto [a, b] : ranges) {
    b = std::min(b, limit);
    if (a >= b) continue;
    if (!merged.empty() && a <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, b);
    } else {
      merged.emplace_back(a, b);
    }
  }
  uint64_t total = 0;
  for (auto [a, b] : merged) total += b - a;
  ranges = std::move(merged);
  return total;
}

// Returns false when [offset, offset + len) cannot be represented as a file size,
// so a corrupt offset is reported as invalid_argument instead of a huge allocation
// or an overflow.
bool range_fits(uint64_t offset, uint64_t len) {
  const uint64_t max = std::string().max_size();
  return len <= max && offset <= max - len;
}

// FNV-1a 64, streamed: the digest must not depend on std::hash, which differs
// between standard library implementations.
struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  }
  void u64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    bytes(std::string_view(b, 8));
  }
};

}  // namespace

Result<void, IoErrc> DiskModel::write(std::string_view path, uint64_t offset, std::string_view data) {
  if (path.empty() || !range_fits(offset, data.size())) return unexpected(IoErrc::invalid_argument);
  auto it = names_.find(path);
  if (it == names_.end()) it = names_.emplace(std::string(path), std::make_shared<File>()).first;
  // An empty write changes nothing (as with pwrite of zero bytes, it does not
  // extend the file), so it leaves no op to replay or tear.
  if (data.empty()) return {};
  File& f = *it->second;
  // Private bytes go into `current`, which must then be the whole file.
  flatten(f);
  const bool append_only = offset >= f.current.size();
  // Rewriting bytes that lazy ops still point at would change what they replay.
  if (!append_only) materialise_lazy_ops(f);
  apply_write(f.current, offset, data);
  if (append_only) {
    f.unsynced.push_back(Op{Op::write, offset, data.size(), {}, true});
    f.has_lazy = true;
  } else {
    f.unsynced.push_back(Op{Op::write, offset, data.size(), std::string(data), false});
  }
  f.unsynced_bytes += data.size();
  return {};
}

Result<void, IoErrc> DiskModel::write_shared(std::string_view path, uint64_t offset, const SharedBytes& bytes) {
  SS_ASSERT(bytes.size == 0 || bytes.data != nullptr, "write_shared: bytes without a buffer");
  if (path.empty() || !range_fits(offset, bytes.size)) return unexpected(IoErrc::invalid_argument);
  auto it = names_.find(path);
  const uint64_t size = it == names_.end() ? 0 : file_size(*it->second);
  // Anything but a non-empty append at the end of the file (a new file's first
  // write included) is a plain write: a rewrite, or a gap to zero-fill.
  if (bytes.size == 0 || offset != size) return write(path, offset, bytes.view());
  if (it == names_.end()) it = names_.emplace(std::string(path), std::make_shared<File>()).first;
  File& f = *it->second;
  f.tail.push_back(bytes);
  f.tail_bytes += bytes.size;
  // Lazy: the op's bytes are the file's own at [offset, offset + size), which
  // stay there until something flattens the file and possibly rewrites them.
  f.unsynced.push_back(Op{Op::write, offset, bytes.size, {}, true});
  f.has_lazy = true;
  f.unsynced_bytes += bytes.size;
  SS_ASSERT(file_size(f) == offset + bytes.size, "write_shared: the file did not grow by the bytes");
  return {};
}

void DiskModel::flatten(File& f) {
  if (f.tail.empty()) return;
  const uint64_t size = file_size(f);
  f.current.reserve(size);
  for (const SharedBytes& b : f.tail) f.current.append(b.view());
  f.tail.clear();
  f.tail_bytes = 0;
  SS_ASSERT(f.current.size() == size, "flatten: the file changed size");
}

std::string_view DiskModel::op_data(const File& f, const Op& op) {
  SS_ASSERT(op.kind == Op::write, "DiskModel: only writes carry data");
  if (!op.lazy) return op.data;
  SS_ASSERT(f.tail.empty(), "DiskModel: a lazy op read before its file was flattened");
  SS_ASSERT(op.offset + op.len <= f.current.size(), "DiskModel: a lazy op's bytes were cut from the file");
  return std::string_view(f.current).substr(op.offset, op.len);
}

void DiskModel::materialise_lazy_ops(File& f) {
  if (!f.has_lazy) return;
  for (Op& op : f.unsynced) {
    if (op.kind != Op::write || !op.lazy) continue;
    op.data = std::string(op_data(f, op));
    op.lazy = false;
  }
  f.has_lazy = false;
}

Result<void, IoErrc> DiskModel::append(std::string_view path, std::string_view data) {
  if (path.empty()) return unexpected(IoErrc::invalid_argument);
  auto it = names_.find(path);
  const uint64_t offset = it == names_.end() ? 0 : file_size(*it->second);
  // Recorded as a write at the current end, so a replay onto the durable content
  // puts the bytes where they were at the time of the append.
  return write(path, offset, data);
}

Result<void, IoErrc> DiskModel::truncate(std::string_view path, uint64_t size) {
  auto it = names_.find(path);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  if (!range_fits(size, 0)) return unexpected(IoErrc::invalid_argument);
  File& f = *it->second;
  if (size == file_size(f)) return {};  // no change, nothing to lose in a crash
  flatten(f);
  if (size < f.current.size()) materialise_lazy_ops(f);
  apply_truncate(f.current, size);
  f.unsynced.push_back(Op{Op::truncate, size, 0, {}, false});
  return {};
}

Result<void, IoErrc> DiskModel::fsync(std::string_view path) {
  auto it = names_.find(path);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  File& f = *it->second;
  if (f.unsynced.empty()) return {};
  // Replaying lazy ops reads the file's bytes by offset, from `current` alone.
  flatten(f);
  // Replaying the log costs what was written since the last fsync, while copying
  // costs the whole file; a log that fsyncs after each append must not pay the
  // file size every time, so copy only when the log is larger than the file.
  if (f.unsynced_bytes > f.current.size()) {
    f.durable = f.current;
  } else {
    for (const Op& op : f.unsynced) {
      if (op.kind == Op::write) {
        apply_write(f.durable, op.offset, op_data(f, op));
      } else {
        apply_truncate(f.durable, op.offset);
      }
    }
    SS_ASSERT(f.durable.size() == f.current.size(), "DiskModel: op log replay diverged");
  }
  f.unsynced.clear();
  f.unsynced_bytes = 0;
  f.has_lazy = false;
  return {};
}

Result<void, IoErrc> DiskModel::rename(std::string_view from, std::string_view to) {
  auto it = names_.find(from);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  if (to.empty()) return unexpected(IoErrc::invalid_argument);
  if (from == to) return {};  // POSIX: renaming a file onto itself does nothing
  std::shared_ptr<File> f = it->second;
  names_.erase(it);
  // Replaces any file already named `to`; that inode stays alive if the durable
  // namespace still names it, so a crash can bring it back.
  names_.insert_or_assign(std::string(to), std::move(f));
  return {};
}

Result<void, IoErrc> DiskModel::remove(std::string_view path) {
  auto it = names_.find(path);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  names_.erase(it);
  return {};
}

Result<void, IoErrc> DiskModel::sync_dir() {
  durable_names_ = names_;  // shares the File objects: names, not data, become durable
  return {};
}

Result<std::string, IoErrc> DiskModel::read(std::string_view path, uint64_t offset, uint64_t len) const {
  auto it = names_.find(path);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  const File& f = *it->second;
  const uint64_t size = file_size(f);
  if (offset >= size) return std::string();
  const uint64_t n = std::min<uint64_t>(len, size - offset);
  std::string out;
  out.reserve(n);
  // Walk `current` and then the tail, copying the part of each that overlaps
  // [offset, offset + n).
  uint64_t at = 0;
  auto take = [&](std::string_view piece) {
    const uint64_t lo = std::max(offset, at), hi = std::min(offset + n, at + piece.size());
    if (lo < hi) out.append(piece.substr(lo - at, hi - lo));
    at += piece.size();
  };
  take(f.current);
  for (const SharedBytes& b : f.tail) {
    if (at >= offset + n) break;
    take(b.view());
  }
  SS_ASSERT(out.size() == n, "read: short read inside the file");
  return out;
}

Result<std::string, IoErrc> DiskModel::read_all(std::string_view path) const {
  auto it = names_.find(path);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  const File& f = *it->second;
  if (f.tail.empty()) return f.current;
  std::string out;
  out.reserve(file_size(f));
  out.append(f.current);
  for (const SharedBytes& b : f.tail) out.append(b.view());
  return out;
}

Result<uint64_t, IoErrc> DiskModel::size(std::string_view path) const {
  auto it = names_.find(path);
  if (it == names_.end()) return unexpected(IoErrc::not_found);
  return file_size(*it->second);
}

bool DiskModel::exists(std::string_view path) const { return names_.find(path) != names_.end(); }

std::vector<std::string> DiskModel::list(std::string_view prefix) const {
  std::vector<std::string> out;
  for (auto it = names_.lower_bound(prefix); it != names_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

CrashReport DiskModel::crash(Rng& rng, const DiskFaultConfig& faults) {
  CrashReport report;

  // The pointer set is only used for membership; every loop that draws from rng
  // walks a std::map in name order, so the draws do not depend on addresses.
  std::unordered_set<const File*> survivors;
  for (const auto& [name, f] : durable_names_) survivors.insert(f.get());

  // A file whose name was never made durable vanishes with all its unsynced data.
  for (const auto& [name, f] : names_) {
    if (!survivors.contains(f.get())) report.bytes_lost += f->unsynced_bytes;
  }

  // Count namespace entries that differ between the two versions (a merge walk
  // over the two sorted maps).
  {
    auto a = names_.begin();
    auto b = durable_names_.begin();
    while (a != names_.end() || b != durable_names_.end()) {
      if (b == durable_names_.end() || (a != names_.end() && a->first < b->first)) {
        ++report.names_reverted;
        ++a;
      } else if (a == names_.end() || b->first < a->first) {
        ++report.names_reverted;
        ++b;
      } else {
        if (a->second != b->second) ++report.names_reverted;
        ++a;
        ++b;
      }
    }
  }

  // Each inode appears at most once in durable_names_ (there are no hard links),
  // so every survivor is processed exactly once.
  for (const auto& [name, fp] : durable_names_) {
    File& f = *fp;
    if (f.unsynced.empty()) continue;
    // Torn replays read lazy ops' bytes from `current`, and a flipped bit must
    // land in this disk's own copy, never in bytes another disk shares.
    flatten(f);
    ++report.files_reverted;
    if (rng.bernoulli(faults.torn_write_probability)) {
      ++report.files_torn;
      // The first k whole ops survive, then a prefix of op k+1 shorter than the
      // op, so a torn file always loses part of its unsynced changes (k < n).
      const uint64_t k = rng.uniform(f.unsynced.size());
      std::string torn = f.durable;
      Ranges touched;
      uint64_t kept = 0;
      for (uint64_t i = 0; i < k; ++i) {
        const Op& op = f.unsynced[i];
        if (op.kind == Op::write) {
          note_write(touched, torn.size(), op.offset, op.len);
          apply_write(torn, op.offset, op_data(f, op));
          kept += op.len;
        } else {
          note_truncate(touched, torn.size(), op.offset);
          apply_truncate(torn, op.offset);
        }
      }
      // A truncate cannot be partly applied, so a torn truncate is simply lost.
      const Op& partial = f.unsynced[k];
      if (partial.kind == Op::write) {
        const uint64_t j = rng.uniform(partial.len);  // writes are never empty
        if (j > 0) {
          const std::string_view prefix = op_data(f, partial).substr(0, j);
          note_write(touched, torn.size(), partial.offset, j);
          apply_write(torn, partial.offset, prefix);
          kept += j;
        }
      }
      if (rng.bernoulli(faults.bit_flip_probability)) {
        // Only bytes written by the surviving unsynced ops may be damaged: the
        // durable bytes were on the medium before the crash began.
        const uint64_t total = normalise(touched, torn.size());
        if (total > 0) {
          uint64_t idx = rng.uniform(total);
          const uint64_t bit = rng.uniform(8);
          for (auto [a, b] : touched) {
            if (idx < b - a) {
              torn[a + idx] = static_cast<char>(static_cast<unsigned char>(torn[a + idx]) ^ (1u << bit));
              ++report.bits_flipped;
              break;
            }
            idx -= b - a;
          }
        }
      }
      report.bytes_lost += f.unsynced_bytes - kept;
      f.current = std::move(torn);
    } else {
      report.bytes_lost += f.unsynced_bytes;
      f.current = f.durable;
    }
    // Whatever survived is now on the medium, so it is the new durable content.
    f.durable = f.current;
    f.unsynced.clear();
    f.unsynced_bytes = 0;
    f.has_lazy = false;
  }

  names_ = durable_names_;
  return report;
}

void DiskModel::wipe() {
  names_.clear();
  durable_names_.clear();
}

uint64_t DiskModel::unsynced_bytes() const {
  // Files reachable from either namespace count: a removed file whose removal is
  // not durable still holds data that a crash would bring back. Each inode once.
  std::unordered_set<const File*> seen;
  uint64_t total = 0;
  for (const auto* m : {&names_, &durable_names_}) {
    for (const auto& [name, f] : *m) {
      if (seen.insert(f.get()).second) total += f->unsynced_bytes;
    }
  }
  return total;
}

uint64_t DiskModel::digest() const {
  // Lengths go in before each name and content so that different splits of the
  // same bytes ("ab"+"c" vs "a"+"bc") give different digests.
  Fnv h;
  h.u64(names_.size());
  for (const auto& [name, f] : names_) {
    h.u64(name.size());
    h.bytes(name);
    h.u64(file_size(*f));
    h.bytes(f->current);
    for (const SharedBytes& b : f->tail) h.bytes(b.view());
  }
  return h.h;
}

}  // namespace streamsim::sim
