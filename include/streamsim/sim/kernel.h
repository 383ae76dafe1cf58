// The deterministic kernel: fibers, a seeded scheduler, virtual time and timers.
//
// All tasks are Boost.Fiber fibers on the calling OS thread. The kernel installs
// a custom boost::fibers::algo::algorithm whose choice among ready tasks is drawn
// from the seeded generator (stream "kernel/scheduler"), so different seeds explore
// different interleavings and the same seed replays the same one.
//
// Virtual time is an int64 of nanoseconds. Timers live in a heap ordered by
// (time, sequence number); when no task is ready, run() jumps time to the next
// timer. Nothing here reads a real clock. A task may suspend only through the
// kernel (park, yield, and what is built on them in core/sync.h): a task that
// suspends any other way -- a Boost.Fiber sleep_for, timed wait, mutex or yield,
// all of which read the real steady clock or bypass the seeded choice -- stops the
// process with a message naming the task, because its run could not replay.
//
// Processes: tasks belong to a group (one group per simulated node incarnation).
// cancel_group() unwinds every task of a group, youngest first, so state owned by
// an older task's stack outlives the younger tasks that may reference it.
//
// Ownership and threading: one Kernel per thread at a time (it owns the thread's
// fiber scheduling algorithm while alive). Not thread-safe.
#pragma once

#include <streamsim/core/random.h>
#include <streamsim/core/runtime.h>
#include <streamsim/core/trace.h>

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/intrusive_ptr.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

namespace streamsim::sim {

class DeterministicAlgorithm;
class SimTaskControl;
class StackPool;
struct Task;

// Receives kernel timers that are not task wake-ups (for example a network
// delivery). Called on the kernel's main context: must not suspend.
class TimerTarget {
 public:
  virtual ~TimerTarget() = default;
  virtual void on_timer(uint64_t arg) = 0;
};

// Where time comes from. Absent (the default), time is virtual: it stands still
// while tasks run and jumps to the next timer when none is ready. A live runtime
// supplies the real monotonic clock instead; the kernel then sleeps the thread
// until the next timer. The scheduling, parking and crash machinery is the same.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  // Monotonic; never goes backwards.
  virtual Instant now() = 0;
  // Blocks the OS thread until now() >= t or an implementation-defined wake-up.
  virtual void sleep_until(Instant t) = 0;
};

struct KernelLimits {
  uint64_t max_steps = 200'000'000;  // scheduling decisions plus timer firings
  Duration max_time = Duration::seconds(24 * 3600);
  size_t stack_bytes = 64 * 1024;    // per task, plus a guard page
  size_t max_tasks = 1'000'000;      // live tasks at once
};

enum class RunStop {
  quiescent,    // no task ready and no timer pending
  reached,      // virtual time reached the requested instant
  stopped,      // request_stop() was called
  step_limit,   // KernelLimits::max_steps exhausted (runaway run)
  time_limit,   // KernelLimits::max_time exhausted
  task_failed,  // a task ended with an exception other than TaskCancelled
};
const char* to_string(RunStop s);

struct KernelStats {
  uint64_t steps = 0;
  uint64_t switches = 0;       // tasks resumed by the scheduler
  uint64_t timers_fired = 0;
  uint64_t tasks_spawned = 0;
  uint64_t tasks_live = 0;
  uint64_t tasks_live_peak = 0;
};

class Kernel {
 public:
  Kernel(uint64_t seed, Tracer& tracer, KernelLimits limits = {}, TimeSource* real_time = nullptr);
  // Cancels and unwinds every remaining task first.
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  Instant now() const {
    if (real_time_ != nullptr) {
      Instant t = real_time_->now();
      if (t > now_) now_ = t;
    }
    return now_;
  }
  bool virtual_time() const { return real_time_ == nullptr; }
  Tracer& tracer() { return tracer_; }
  const KernelStats& stats() const { return stats_; }
  const KernelLimits& limits() const { return limits_; }

  // A group is a process: its tasks can be cancelled together. trace_node is the
  // tracer's node index used for the group's events.
  uint32_t add_group(uint32_t trace_node);
  // Starts a task in group. It becomes ready at once; it runs when chosen.
  // Does not suspend. May be called before run() or from a task.
  std::shared_ptr<TaskControl> spawn(uint32_t group, std::string name, std::function<void()> fn);

  // Suspends the calling task until unpark() or the deadline. Throws TaskCancelled.
  WakeReason park(Instant deadline);
  void unpark(TaskId id);
  void yield();
  // The running task's id, group and name. Precondition: called from a task.
  TaskId current_task() const;
  uint32_t current_group() const;
  bool in_task() const { return current_ != nullptr; }

  // Schedules target->on_timer(arg) at time t (>= now). Does not suspend.
  void schedule_timer(Instant t, TimerTarget* target, uint64_t arg);

  // Unwinds every task of the group, youngest first; each throws TaskCancelled at
  // its suspension point. Asynchronous: the tasks unwind as the run continues.
  // Does not suspend. Safe to call from a task of another group.
  void cancel_group(uint32_t group);
  size_t live_tasks(uint32_t group) const;

  // Stops a group like SIGSTOP stops a process: none of its tasks runs until
  // resume_group(). A task of the group that becomes ready meanwhile (a timer
  // fired, it was unparked, it was spawned, it yielded) waits, and runs after
  // the resume in the order it became ready; time goes on for every other group.
  // A task of the group that is running when it is paused runs on until it
  // next suspends. cancel_group() on a paused group resumes it first (a stopped
  // process can be killed). Pausing an unwinding group does nothing.
  // Precondition: the group is not paused. Does not suspend.
  void pause_group(uint32_t group);
  // Ends a pause (no effect when the group is not paused). Does not suspend.
  void resume_group(uint32_t group);
  bool group_paused(uint32_t group) const;

  // Runs until virtual time reaches `until` (timers at `until` included), nothing
  // is left to do, a limit is hit, a task failed, or request_stop(). Must be
  // called from the thread's main context, not from a task.
  RunStop run(Instant until = Instant::never());
  // Makes run() return at the next scheduling point. Callable from a task.
  void request_stop() { stop_requested_ = true; }

  // Cancels every task and runs until all have unwound.
  void shutdown();

  // The failure that made run() return task_failed: "task 'x' threw: ...".
  const std::string& failure() const { return failure_; }

  Rng& scheduler_rng() { return sched_rng_; }
  // Fiber stacks currently allocated (live tasks plus ended ones not yet freed).
  size_t stacks_in_use() const;

 private:
  friend class DeterministicAlgorithm;
  friend class SimTaskControl;
  struct Timer {
    Instant at;
    uint64_t seq;
    TimerTarget* target;  // nullptr: wake task `arg` if its park generation is `gen`
    uint64_t arg;
    uint64_t gen;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct Group {
    uint32_t trace_node;
    bool unwinding = false;
    std::set<TaskId> live;  // ordered by creation: ids grow with spawn order
    bool paused = false;
    std::vector<TaskId> deferred;  // ready while paused, in the order they became ready
  };

  Task* find(TaskId id) const;
  bool must_return_to_main() const;
  void task_main(Task* t);
  void task_ended(Task* t);
  void kick_unwind(Group& g);
  void make_ready(Task* t);
  void fire_due_timers();
  void reap();

  uint64_t seed_;
  Tracer& tracer_;
  KernelLimits limits_;
  Rng sched_rng_;
  TimeSource* real_time_ = nullptr;
  mutable Instant now_;  // in real time, the latest reading (kept monotonic)
  uint64_t timer_seq_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<Group> groups_;
  std::vector<std::unique_ptr<Task>> slots_;  // index = low bits of TaskId
  std::vector<uint32_t> free_slots_;
  std::vector<std::unique_ptr<Task>> dead_;   // ended, freed once off their stack
  uint64_t next_serial_ = 1;
  Task* current_ = nullptr;
  Task* launching_ = nullptr;
  bool stop_requested_ = false;
  bool limit_hit_ = false;
  bool running_ = false;
  std::string failure_;
  KernelStats stats_;
  std::unique_ptr<StackPool> stacks_;
  DeterministicAlgorithm* algo_ = nullptr;  // installed in this thread's Boost scheduler
  boost::intrusive_ptr<boost::fibers::algo::algorithm> algo_ref_;
};

}  // namespace streamsim::sim
