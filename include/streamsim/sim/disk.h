// The simulated disk of one node: pure state, no time and no tasks.
//
// DiskModel keeps, per file, the current content (what reads see) and the durable
// content (what survives a crash), and a namespace (name -> file) in a current and
// a durable version. sim::SimStorage wraps it as a streamsim::Storage, charging
// virtual-time latency per call; the crash and fault hooks are called by the
// simulation when a node crashes.
//
// Crash semantics (see storage.h for the user-facing contract):
// - the namespace reverts to the last sync_dir(); a file whose creation was never
//   made durable disappears, a rename that was never made durable is undone;
// - each surviving file reverts to its last fsynced content, except that with
//   torn writes enabled a prefix of the unsynced operations survives: the first k
//   whole operations plus a random-length prefix of operation k+1 (k random);
// - with bit flips enabled, each surviving torn prefix gets one flipped bit in its
//   non-durable bytes with the configured probability.
// Durable bytes are never altered by a crash: only unsynced data can be damaged.
#pragma once

#include <streamsim/core/random.h>
#include <streamsim/core/storage.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace streamsim::sim {

struct DiskFaultConfig {
  double torn_write_probability = 0.0;  // per file with unsynced changes, at crash
  double bit_flip_probability = 0.0;    // per torn file, at crash
};

struct CrashReport {
  uint64_t files_reverted = 0;      // files whose content lost unsynced changes
  uint64_t files_torn = 0;          // files left with a torn prefix
  uint64_t bits_flipped = 0;
  uint64_t bytes_lost = 0;          // unsynced bytes that did not survive
  uint64_t names_reverted = 0;      // namespace entries changed back
};

class DiskModel {
 public:
  DiskModel() = default;

  Result<void, IoErrc> write(std::string_view path, uint64_t offset, std::string_view data);
  Result<void, IoErrc> append(std::string_view path, std::string_view data);
  // write(path, offset, bytes.view()) in every observable way (content, crash
  // semantics, digest). An append (offset at the end of the file) keeps a
  // reference to the bytes instead of copying them, so disks that write the same
  // frame share one copy; any call that must change or replay those bytes (a
  // rewrite, a truncate, an fsync, a crash) first gives the file its own copy.
  Result<void, IoErrc> write_shared(std::string_view path, uint64_t offset, const SharedBytes& bytes);
  Result<void, IoErrc> truncate(std::string_view path, uint64_t size);
  Result<void, IoErrc> fsync(std::string_view path);
  Result<void, IoErrc> rename(std::string_view from, std::string_view to);
  Result<void, IoErrc> remove(std::string_view path);
  Result<void, IoErrc> sync_dir();
  Result<std::string, IoErrc> read(std::string_view path, uint64_t offset, uint64_t len) const;
  Result<std::string, IoErrc> read_all(std::string_view path) const;
  Result<uint64_t, IoErrc> size(std::string_view path) const;
  bool exists(std::string_view path) const;
  std::vector<std::string> list(std::string_view prefix) const;

  // Applies crash semantics. rng decides torn prefixes and flipped bits.
  CrashReport crash(Rng& rng, const DiskFaultConfig& faults);
  // Loses everything, durable or not (a replaced disk).
  void wipe();

  // Bytes written but not yet fsynced, over all files (for metrics and tests).
  uint64_t unsynced_bytes() const;
  // A deterministic digest of the current content and namespace (for tests).
  uint64_t digest() const;

 private:
  // One unsynced change, replayable onto the durable content. A write at or
  // past the end of the file (an append, the common case for logs) does not copy
  // its bytes: they stay readable in `current` at [offset, offset + len) until
  // something rewrites or cuts that range, and any such change first copies the
  // bytes of every lazy op into its own data (materialise_lazy_ops). That keeps
  // a never-fsynced log (Kafka's default) at one copy of its bytes, not two.
  struct Op {
    enum Kind { write, truncate } kind;
    uint64_t offset;  // write offset, or new size for truncate
    uint64_t len = 0;  // bytes written (writes)
    std::string data;  // the bytes, unless lazy
    bool lazy = false;
  };
  // A file's current content is `current` followed by the shared pieces in
  // `tail` (appended by write_shared, never changed in place). Only reads, size
  // and digest look through the tail; everything else flattens it first.
  struct File {
    std::string current;
    std::vector<SharedBytes> tail;
    uint64_t tail_bytes = 0;  // sum of the tail's sizes
    std::string durable;
    std::vector<Op> unsynced;  // ops applied to current since the last fsync
    uint64_t unsynced_bytes = 0;  // sum of data sizes in unsynced, kept so metrics are O(files)
    bool has_lazy = false;        // some op in unsynced is lazy
  };
  static uint64_t file_size(const File& f) { return f.current.size() + f.tail_bytes; }
  // Copies the tail's bytes onto the end of `current` and empties the tail.
  static void flatten(File& f);
  static std::string_view op_data(const File& f, const Op& op);
  static void materialise_lazy_ops(File& f);
  // Files are shared between namespace versions (an inode), so a rename moves a
  // name, not the data.
  std::map<std::string, std::shared_ptr<File>, std::less<>> names_;
  std::map<std::string, std::shared_ptr<File>, std::less<>> durable_names_;
};

}  // namespace streamsim::sim
