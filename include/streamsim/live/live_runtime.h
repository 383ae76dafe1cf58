// The live runtime: the same Runtime contract on real time, real files and real
// entropy, for soak runs against a real (or librdkafka's mock) Kafka cluster.
//
// It reuses the simulation kernel's scheduler with a real clock (sim::TimeSource):
// tasks are fibers on the calling thread, waits are timers in the kernel's heap,
// and when nothing is ready the thread sleeps until the next timer. So core/sync.h,
// spawn/join/cancel and every timeout behave exactly as in simulation, only not
// reproducibly. Code that talks to librdkafka polls it without blocking and waits
// on this runtime between polls.
//
// Threading: one LiveRuntime per thread; run() from the thread's main context.
#pragma once

#include <streamsim/core/runtime.h>
#include <streamsim/core/trace.h>
#include <streamsim/sim/kernel.h>

#include <memory>
#include <string>

namespace spdlog::sinks {
class sink;
}

namespace streamsim::live {

// Monotonic real time since construction.
class SteadyTimeSource final : public sim::TimeSource {
 public:
  SteadyTimeSource();
  Instant now() override;
  void sleep_until(Instant t) override;

 private:
  int64_t epoch_ns_;
};

// Storage in a directory of real files. Paths are relative, '/'-separated, and
// may not contain ".." or start with '/'. fsync and sync_dir call the real
// fsync(2) on the file and on every directory under the root.
class FileStorage final : public Storage {
 public:
  explicit FileStorage(std::string root);
  Result<void, IoErrc> write(std::string_view path, uint64_t offset, std::string_view data) override;
  Result<void, IoErrc> append(std::string_view path, std::string_view data) override;
  Result<void, IoErrc> truncate(std::string_view path, uint64_t size) override;
  Result<void, IoErrc> fsync(std::string_view path) override;
  Result<void, IoErrc> rename(std::string_view from, std::string_view to) override;
  Result<void, IoErrc> remove(std::string_view path) override;
  Result<void, IoErrc> sync_dir() override;
  Result<std::string, IoErrc> read(std::string_view path, uint64_t offset, uint64_t len) override;
  Result<std::string, IoErrc> read_all(std::string_view path) override;
  Result<uint64_t, IoErrc> size(std::string_view path) override;
  bool exists(std::string_view path) override;
  std::vector<std::string> list(std::string_view prefix) override;

 private:
  Result<std::string, IoErrc> full(std::string_view path, bool create_parents);
  std::string root_;
};

struct LiveOptions {
  std::string name = "live";
  uint64_t seed = 0;            // 0: drawn from std::random_device
  std::string storage_dir;      // where storage() keeps files
  std::string log_level = "info";
  std::shared_ptr<spdlog::sinks::sink> log_sink;  // default: stderr
};

class LiveProcess;

class LiveRuntime final : public Runtime {
 public:
  explicit LiveRuntime(LiveOptions opt);
  ~LiveRuntime() override;

  const std::string& node_name() const override { return opt_.name; }
  Instant now() const override { return kernel_->now(); }
  void sleep_until(Instant t) override;
  void yield() override { kernel_->yield(); }
  TaskHandle spawn(std::string name, std::function<void()> fn) override;
  Rng& random() override { return rng_; }
  Storage& storage() override { return storage_; }
  spdlog::logger& log() override { return *logger_; }
  WakeReason park(Instant deadline) override { return kernel_->park(deadline); }
  void unpark(TaskId task) override { kernel_->unpark(task); }
  TaskId current_task() const override { return kernel_->current_task(); }

  uint64_t seed() const { return seed_; }
  // Runs the tasks until none is left (quiescent), `limit` of real time passes
  // (reached), or request_stop() (stopped). From the main context.
  sim::RunStop run(Duration limit = Duration::max());
  void request_stop() { kernel_->request_stop(); }
  sim::Kernel& kernel() { return *kernel_; }
  // A process inside this runtime (an engine instance in live mode): the same
  // clock, random source, storage and logger, but the tasks it spawns form a
  // kernel group of their own, which LiveProcess::crash() unwinds youngest
  // first, exactly as a simulated node crash does (so a component's helper
  // tasks end before the component's destructor joins them). The runtime must
  // outlive the process.
  std::unique_ptr<LiveProcess> process(std::string name);

 private:
  LiveOptions opt_;
  uint64_t seed_;
  SteadyTimeSource clock_;
  Tracer tracer_;
  std::unique_ptr<sim::Kernel> kernel_;
  uint32_t group_;
  Rng rng_;
  FileStorage storage_;
  std::shared_ptr<spdlog::logger> logger_;
};

class LiveProcess final : public Runtime {
 public:
  LiveProcess(LiveRuntime& rt, std::string name, uint32_t group) : rt_(rt), name_(std::move(name)), group_(group) {}
  const std::string& node_name() const override { return name_; }
  Instant now() const override { return rt_.now(); }
  void sleep_until(Instant t) override { rt_.sleep_until(t); }
  void yield() override { rt_.yield(); }
  TaskHandle spawn(std::string name, std::function<void()> fn) override;
  Rng& random() override { return rt_.random(); }
  Storage& storage() override { return rt_.storage(); }
  spdlog::logger& log() override { return rt_.log(); }
  WakeReason park(Instant deadline) override { return rt_.park(deadline); }
  void unpark(TaskId task) override { rt_.unpark(task); }
  TaskId current_task() const override { return rt_.current_task(); }
  // Unwinds every task of this process, youngest first (each throws
  // TaskCancelled at its next suspension). Does not suspend. The process can
  // spawn again afterwards (a restart).
  void crash();
  size_t live_tasks() const;

 private:
  LiveRuntime& rt_;
  std::string name_;
  uint32_t group_;
};

}  // namespace streamsim::live
