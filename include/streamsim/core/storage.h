// Durable storage for one node: a flat namespace of files, POSIX-like semantics.
//
// Durability contract (the simulated disk enforces it; a real disk behaves so):
// - write/append/truncate change a file's content at once, but the change is only
//   durable after fsync(path) returns ok.
// - create (an implicit first write), rename and remove change the namespace; the
//   namespace is only durable after sync_dir() returns ok.
// - After a crash, each durable file holds its fsynced content; with torn writes
//   enabled a prefix of the unsynced changes may survive, possibly with flipped
//   bits. Use the framing in checksum.h to detect both.
//
// Every call may suspend the calling task (the simulated disk charges latency),
// and throws TaskCancelled if the task's node crashes meanwhile.
#pragma once

#include <streamsim/core/result.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace streamsim {

enum class IoErrc {
  not_found = 1,
  exists,
  invalid_argument,
  io_error,  // injected disk failure
};
const char* to_string(IoErrc e);

// Immutable bytes that several owners may hold at once (a Kafka batch frame
// that a leader and its followers all write to their disks). Nobody may change
// the bytes once a SharedBytes refers to them.
struct SharedBytes {
  std::shared_ptr<const char[]> data;
  uint64_t size = 0;
  std::string_view view() const { return size == 0 ? std::string_view() : std::string_view(data.get(), size); }
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Writes data at offset, creating the file if missing and zero-filling any gap.
  virtual Result<void, IoErrc> write(std::string_view path, uint64_t offset, std::string_view data) = 0;
  virtual Result<void, IoErrc> append(std::string_view path, std::string_view data) = 0;
  // Exactly write(path, offset, bytes.view()), in effect and in durability; an
  // implementation may keep a reference to the bytes instead of copying them (the
  // simulated disk does, so the replicas of a partition hold one copy of a frame
  // until something needs a private one). Suspends as write() does.
  virtual Result<void, IoErrc> write_shared(std::string_view path, uint64_t offset, const SharedBytes& bytes) {
    return write(path, offset, bytes.view());
  }
  virtual Result<void, IoErrc> truncate(std::string_view path, uint64_t size) = 0;
  virtual Result<void, IoErrc> fsync(std::string_view path) = 0;
  virtual Result<void, IoErrc> rename(std::string_view from, std::string_view to) = 0;
  virtual Result<void, IoErrc> remove(std::string_view path) = 0;
  virtual Result<void, IoErrc> sync_dir() = 0;

  // Reads up to len bytes from offset (short at end of file).
  virtual Result<std::string, IoErrc> read(std::string_view path, uint64_t offset, uint64_t len) = 0;
  virtual Result<std::string, IoErrc> read_all(std::string_view path) = 0;
  virtual Result<uint64_t, IoErrc> size(std::string_view path) = 0;
  virtual bool exists(std::string_view path) = 0;
  // Names in the current namespace that start with prefix, sorted.
  virtual std::vector<std::string> list(std::string_view prefix) = 0;
};

}  // namespace streamsim
