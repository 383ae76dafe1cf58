// The Runtime: everything a component may use from its environment.
//
// Like LevelDB's Env or TigerBeetle's Time/Storage parameters, a component receives
// a Runtime& and touches no clock, thread, socket, file or random source directly.
// sim::SimRuntime supplies virtual time, seeded randomness and a simulated disk;
// a live runtime supplies the real ones. There are no globals: two simulations can
// live in one process one after the other.
//
// Threading: all tasks of a Runtime run as fibers on one OS thread, one at a time,
// switching only inside the calls marked "suspends". Between two such calls a task
// runs alone, so no locking is needed for data shared by the tasks of one node.
//
// Cancellation: every call marked "suspends" throws TaskCancelled when the task
// has been cancelled (TaskHandle::cancel) or its node crashed. Let it propagate;
// the task's stack then unwinds and its destructors run. Swallowing it is a bug:
// the next suspending call throws again.
#pragma once

#include <streamsim/core/random.h>
#include <streamsim/core/storage.h>
#include <streamsim/core/time.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace streamsim {

// Thrown out of a suspending call when the calling task is cancelled.
struct TaskCancelled {
  const char* what() const noexcept { return "task cancelled"; }
};

// Stable, deterministic task identifier (never reused within a run).
using TaskId = uint64_t;

enum class TaskStatus { running, finished, cancelled, failed };

// Shared control block of a spawned task; implemented by each runtime.
class TaskControl {
 public:
  virtual ~TaskControl() = default;
  virtual TaskId id() const = 0;
  virtual const std::string& name() const = 0;
  virtual TaskStatus status() const = 0;
  // Suspends until the task has ended (finished, cancelled or failed).
  virtual TaskStatus join() = 0;
  // Requests cancellation: the task's next (or current) suspending call throws
  // TaskCancelled. Does not suspend. A task cannot cancel itself this way.
  virtual void cancel() = 0;
};

// A handle to a spawned task. Dropping it does not cancel the task (tasks are
// detached); join() waits for the end, cancel() ends it early.
class TaskHandle {
 public:
  TaskHandle() = default;
  explicit TaskHandle(std::shared_ptr<TaskControl> c) : c_(std::move(c)) {}
  bool valid() const { return c_ != nullptr; }
  TaskId id() const { return c_->id(); }
  TaskStatus status() const { return c_->status(); }
  bool done() const { return c_->status() != TaskStatus::running; }
  TaskStatus join() { return c_->join(); }  // suspends
  void cancel() { c_->cancel(); }

 private:
  std::shared_ptr<TaskControl> c_;
};

enum class WakeReason { notified, timed_out };

class Runtime {
 public:
  virtual ~Runtime() = default;

  // The node this runtime belongs to ("client-1", "broker-0", ...).
  virtual const std::string& node_name() const = 0;

  // Monotonic time since the runtime's epoch. Never goes backwards.
  virtual Instant now() const = 0;
  // Suspends until now() >= t (returns at once if t is not in the future).
  virtual void sleep_until(Instant t) = 0;
  void sleep_for(Duration d) { sleep_until(now() + d); }
  // Suspends and lets other ready tasks run; resumes at the same instant.
  virtual void yield() = 0;

  // Starts a task on this node. It runs when the caller next suspends. The name
  // appears in traces and logs. Does not suspend.
  virtual TaskHandle spawn(std::string name, std::function<void()> fn) = 0;

  // This node's random stream (a named sub-stream of the run seed).
  virtual Rng& random() = 0;
  // This node's durable storage; it survives a crash as described in storage.h.
  virtual Storage& storage() = 0;
  // Logger whose lines carry the runtime's time and the node name.
  virtual spdlog::logger& log() = 0;

  // --- Parking: the one primitive every synchronisation object is built on. ---
  // Like a futex: the calling task suspends until unpark(its id) or the deadline.
  // Precondition: called from a task of this runtime. Suspends; throws TaskCancelled.
  virtual WakeReason park(Instant deadline) = 0;
  // Makes a parked task ready; no effect if it is not parked. Does not suspend.
  virtual void unpark(TaskId task) = 0;
  // The calling task. Precondition: called from a task of this runtime.
  virtual TaskId current_task() const = 0;

  // --- Coverage marks and fault points (FoundationDB's CODE_PROBE and BUGGIFY). ---
  // Records that a named code path was reached ("kafka.leader_epoch_change").
  // A scenario lists the marks it targets (expect.targets); a run reports which
  // were reached, and a sweep in which a target is never reached fails. Names are
  // string literals or otherwise outlive the call only as copies. Does not
  // suspend; never draws randomness. Live runtimes count nothing.
  virtual void probe(std::string_view mark) { (void)mark; }
  // True when the named fault point should misbehave now. Only a simulation
  // with BUGGIFY enabled (scenario faults.buggify) ever says yes: each seed
  // enables a random subset of the points it meets (swarm testing), and an
  // enabled point fires with the configured probability. Code must stay correct
  // when it fires: a point models something real Kafka or a real engine can do
  // (a spurious retriable error, a slow path, an early timeout). Does not suspend.
  virtual bool buggify(std::string_view point) { (void)point; return false; }
};

}  // namespace streamsim
