#include <streamsim/sim/kernel.h>

#include "stack_pool.h"

#include <streamsim/core/assert.h>

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/algo/round_robin.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/properties.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

namespace streamsim::sim {

namespace bf = boost::fibers;

constexpr uint64_t kSlotBits = 24;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;

struct Task {
  enum class State { ready, running, parked, unwind_wait, done };
  TaskId id = 0;
  uint32_t group = 0;
  std::string name;
  std::function<void()> fn;
  bf::context* ctx = nullptr;
  char* stack_lo = nullptr;  // lowest usable address of the task's fiber stack
  State state = State::ready;
  size_t ready_index = SIZE_MAX;  // position in the algorithm's ready vector
  uint64_t park_gen = 0;
  bool cancelled = false;
  bool timed_out = false;
  TaskStatus status = TaskStatus::running;
  std::vector<TaskId> joiners;
  std::shared_ptr<class SimTaskControl> ctl;
};

class SimTaskControl final : public TaskControl {
 public:
  SimTaskControl(Kernel& k, TaskId id, std::string name) : k_(k), id_(id), name_(std::move(name)) {}
  TaskId id() const override { return id_; }
  const std::string& name() const override { return name_; }
  TaskStatus status() const override { return status_; }
  TaskStatus join() override;
  void cancel() override;

  Kernel& k_;
  TaskId id_;
  std::string name_;
  TaskStatus status_ = TaskStatus::running;
  Task* task_ = nullptr;  // null once the task has ended
};

// Per-fiber properties: the link from a Boost context back to its Task.
struct TaskProps : bf::fiber_properties {
  using bf::fiber_properties::fiber_properties;
  Task* task = nullptr;
};

// The scheduling algorithm. Ready tasks are kept in a vector and the next one is
// chosen uniformly by the seeded scheduler stream. The thread's main context
// (which runs Kernel::run) and Boost's dispatcher context are only chosen when no
// task is ready, so a whole burst of task work happens without returning to the
// main loop.
class DeterministicAlgorithm final : public bf::algo::algorithm_with_properties<TaskProps> {
 public:
  explicit DeterministicAlgorithm(Kernel& k) : k_(k) {}

  void awakened(bf::context* ctx, TaskProps& props) noexcept override {
    if (ctx->is_context(bf::type::pinned_context)) {
      if (ctx->is_context(bf::type::main_context)) main_ = ctx; else dispatcher_ = ctx;
      return;
    }
    Task* t = props.task;
    if (t == nullptr) {
      // A fiber being launched by Kernel::spawn: bind it to its Task.
      t = k_.launching_;
      SS_ASSERT(t != nullptr, "a fiber not spawned by the kernel became ready (raw boost::fibers::fiber?)");
      props.task = t;
      t->ctx = ctx;
      k_.launching_ = nullptr;
    }
    SS_ASSERT(t->state == Task::State::ready, "a task became ready without going through the kernel");
    Kernel::Group& g = k_.groups_[t->group];
    if (g.paused) {
      // A stopped process: the task is ready but does not run until its group
      // resumes (a wake-up, a delivered message or a new task all land here).
      g.deferred.push_back(t->id);
      return;
    }
    add(t);
  }

  bf::context* pick_next() noexcept override {
    check_suspension();
    // Boost frees ended fibers (and their stacks) only in its dispatcher. A busy
    // simulation may never run out of ready tasks, so hand the dispatcher a turn
    // after every batch of ended tasks; otherwise ended fibers pile up.
    if (dispatcher_ && unreleased_ >= kReleaseBatch) {
      unreleased_ = 0;
      need_dispatch_ = false;
      k_.current_ = nullptr;
      bf::context* c = nullptr;
      std::swap(c, dispatcher_);
      return c;
    }
    if (!ready_.empty() && !k_.must_return_to_main()) {
      if (++k_.stats_.steps > k_.limits_.max_steps) k_.limit_hit_ = true;
      size_t n = ready_.size();
      size_t i = n == 1 ? 0 : static_cast<size_t>(k_.sched_rng_.uniform(n));
      Task* t = ready_[i];
      remove_at(i);
      t->state = Task::State::running;
      k_.current_ = t;
      ++k_.stats_.switches;
      k_.tracer_.record(k_.now_, k_.groups_[t->group].trace_node, TraceKind::schedule, t->id >> kSlotBits, n);
      return t->ctx;
    }
    k_.current_ = nullptr;
    bf::context* c = nullptr;
    if (dispatcher_ && (need_dispatch_ || !main_)) {
      std::swap(c, dispatcher_);
      need_dispatch_ = false;
      unreleased_ = 0;
    } else if (main_) {
      std::swap(c, main_);
    } else if (!ready_.empty()) {
      // Neither pinned context is ready (main is being resumed elsewhere): keep
      // running tasks rather than returning nothing.
      Task* t = ready_.back();
      remove_at(ready_.size() - 1);
      t->state = Task::State::running;
      k_.current_ = t;
      return t->ctx;
    }
    return c;
  }

  bool has_ready_fibers() const noexcept override { return !ready_.empty() || main_ || dispatcher_; }

  void suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept override {
    if (tp != std::chrono::steady_clock::time_point::max()) {
      SS_PANIC("a Boost.Fiber timed wait (sleep_for, wait_for, try_lock_for, ...) reached the real steady "
               "clock; simulated code must wait through Runtime::sleep_* or core/sync.h");
    }
    SS_PANIC("the simulation's main context blocked on a Boost.Fiber primitive; nothing can wake it");
  }
  void notify() noexcept override {}

  bool has_ready_tasks() const { return !ready_.empty(); }
  void request_dispatch() { need_dispatch_ = true; }
  void task_ended() {
    need_dispatch_ = true;
    ++unreleased_;
  }

  void remove(Task* t) {
    SS_ASSERT(t->ready_index < ready_.size() && ready_[t->ready_index] == t, "task not in the ready queue");
    remove_at(t->ready_index);
  }
  bool queued(const Task* t) const { return t->ready_index < ready_.size() && ready_[t->ready_index] == t; }
  // Appends a ready task that Boost already considers scheduled (a resumed task).
  void add(Task* t) {
    SS_ASSERT(t->state == Task::State::ready, "only a ready task joins the ready queue");
    SS_ASSERT(t->ready_index == SIZE_MAX, "task already in the ready queue");
    t->ready_index = ready_.size();
    ready_.push_back(t);
  }

 private:
  void remove_at(size_t i) {
    Task* t = ready_[i];
    ready_[i] = ready_.back();
    ready_[i]->ready_index = i;
    ready_.pop_back();
    t->ready_index = SIZE_MAX;
  }
  // The task that is giving up the CPU must have said why: parked, yielded or
  // ended. Anything else is a suspension inside Boost.Fiber itself, which would
  // make the run depend on the real clock or on Boost's own queue order.
  void check_suspension() {
    Task* t = k_.current_;
    if (t != nullptr && t->state == Task::State::running) {
      std::fprintf(stderr, "streamsim: task '%s' suspended outside the kernel\n", t->name.c_str());
      SS_PANIC("a task suspended through a raw Boost.Fiber call (sleep_for, condition_variable, mutex, "
               "channel, future or yield); use Runtime and core/sync.h so the wait runs in virtual time");
    }
  }

  Kernel& k_;
  std::vector<Task*> ready_;
  bf::context* main_ = nullptr;
  bf::context* dispatcher_ = nullptr;
  bool need_dispatch_ = false;
  uint32_t unreleased_ = 0;  // tasks ended since the dispatcher last ran
  static constexpr uint32_t kReleaseBatch = 64;
};

// Only one kernel may own a thread's scheduling algorithm at a time.
static thread_local Kernel* t_owner = nullptr;

const char* to_string(RunStop s) {
  switch (s) {
    case RunStop::quiescent: return "quiescent";
    case RunStop::reached: return "reached";
    case RunStop::stopped: return "stopped";
    case RunStop::step_limit: return "step_limit";
    case RunStop::time_limit: return "time_limit";
    case RunStop::task_failed: return "task_failed";
  }
  return "unknown";
}

Kernel::Kernel(uint64_t seed, Tracer& tracer, KernelLimits limits, TimeSource* real_time)
    : seed_(seed), tracer_(tracer), limits_(limits), sched_rng_(Rng::stream(seed, "kernel/scheduler")),
      real_time_(real_time),
      stacks_(std::make_unique<StackPool>(limits.stack_bytes)) {
  SS_ASSERT(t_owner == nullptr, "only one sim::Kernel may exist per thread at a time");
  SS_ASSERT(!bf::context::active()->is_context(bf::type::worker_context), "a Kernel must be created on the main context");
  t_owner = this;
  algo_ = new DeterministicAlgorithm(*this);
  algo_ref_ = bf::algo::algorithm::ptr_t(algo_);
  bf::context::active()->get_scheduler()->set_algo(algo_ref_);
  tracer_.record(now_, 0, TraceKind::run_start, seed_);
}

Kernel::~Kernel() {
  shutdown();
  // Let Boost's dispatcher release the terminated fibers (and return their
  // stacks to the pool) before the pool goes away.
  algo_->request_dispatch();
  boost::this_fiber::yield();
  reap();
  bf::context::active()->get_scheduler()->set_algo(bf::algo::algorithm::ptr_t(new bf::algo::round_robin()));
  algo_ = nullptr;
  algo_ref_.reset();
  SS_ASSERT(stacks_->outstanding() == 0, "fiber stacks still in use after kernel shutdown");
  t_owner = nullptr;
}

size_t Kernel::stacks_in_use() const { return stacks_->outstanding(); }

bool Kernel::must_return_to_main() const { return stop_requested_ || limit_hit_ || !failure_.empty(); }

uint32_t Kernel::add_group(uint32_t trace_node) {
  groups_.push_back(Group{trace_node, false, {}, false, {}});
  return static_cast<uint32_t>(groups_.size() - 1);
}

Task* Kernel::find(TaskId id) const {
  uint64_t slot = id & kSlotMask;
  if (slot >= slots_.size()) return nullptr;
  Task* t = slots_[slot].get();
  return (t != nullptr && t->id == id) ? t : nullptr;
}

std::shared_ptr<TaskControl> Kernel::spawn(uint32_t group, std::string name, std::function<void()> fn) {
  SS_ASSERT(group < groups_.size(), "spawn into an unknown group");
  SS_ASSERT(fn != nullptr, "spawn of an empty function");
  SS_ASSERT(stats_.tasks_live < limits_.max_tasks, "too many live tasks (KernelLimits::max_tasks)");
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    SS_ASSERT(slot <= kSlotMask, "task slot space exhausted");
    slots_.emplace_back();
  }
  auto t = std::make_unique<Task>();
  t->id = (next_serial_++ << kSlotBits) | slot;
  t->group = group;
  t->name = std::move(name);
  t->fn = std::move(fn);
  t->ctl = std::make_shared<SimTaskControl>(*this, t->id, t->name);
  t->ctl->task_ = t.get();
  Group& g = groups_[group];
  // A task spawned into a crashing process starts cancelled: it will only unwind.
  if (g.unwinding) t->cancelled = true;
  g.live.insert(t->id);
  Task* tp = t.get();
  slots_[slot] = std::move(t);
  ++stats_.tasks_spawned;
  stats_.tasks_live_peak = std::max(stats_.tasks_live_peak, ++stats_.tasks_live);
  tracer_.record(now_, g.trace_node, TraceKind::spawn, tp->id >> kSlotBits, 0, 0, tp->name);

  launching_ = tp;
  bf::fiber f(bf::launch::post, std::allocator_arg, PooledStack{stacks_.get()}, [this, tp] { task_main(tp); });
  SS_ASSERT(launching_ == nullptr, "the new fiber was not handed to the deterministic algorithm");
  const auto& sctx = stacks_->last_allocated();
  tp->stack_lo = static_cast<char*>(sctx.sp) - sctx.size;
  f.detach();
  return tp->ctl;
}

void Kernel::task_main(Task* t) {
  SS_ASSERT(current_ == t, "task started while another is current");
  // After an exception unwound frames of this stack, clear what lies below this
  // frame (see asan_unpoison); free in builds without AddressSanitizer.
  auto forget_unwound_frames = [t] {
    char* here = static_cast<char*>(__builtin_frame_address(0));
    if (t->stack_lo != nullptr && here > t->stack_lo + 256) asan_unpoison(t->stack_lo, static_cast<size_t>(here - 256 - t->stack_lo));
  };
  if (!t->cancelled) {
    try {
      t->fn();
      t->status = TaskStatus::finished;
    } catch (const TaskCancelled&) {
      forget_unwound_frames();
      t->status = TaskStatus::cancelled;
    } catch (const std::exception& e) {
      forget_unwound_frames();
      t->status = TaskStatus::failed;
      if (failure_.empty()) failure_ = "task '" + t->name + "' threw: " + e.what();
    } catch (...) {
      forget_unwound_frames();
      t->status = TaskStatus::failed;
      if (failure_.empty()) failure_ = "task '" + t->name + "' threw a non-standard exception";
    }
  } else {
    t->status = TaskStatus::cancelled;
  }
  // Destroy the task's captured state now, on its own stack, while the objects
  // it may reference are still alive.
  t->fn = nullptr;
  task_ended(t);
}

void Kernel::task_ended(Task* t) {
  Group& g = groups_[t->group];
  size_t erased = g.live.erase(t->id);
  SS_ASSERT(erased == 1, "ended task was not live in its group");
  t->state = Task::State::done;
  --stats_.tasks_live;
  tracer_.record(now_, g.trace_node, TraceKind::task_end, t->id >> kSlotBits, static_cast<uint64_t>(t->status));
  t->ctl->status_ = t->status;
  t->ctl->task_ = nullptr;
  for (TaskId j : t->joiners) unpark(j);
  t->joiners.clear();
  if (g.unwinding) kick_unwind(g);
  algo_->task_ended();
  // The Task object stays alive until its fiber has switched away for good.
  uint64_t slot = t->id & kSlotMask;
  dead_.push_back(std::move(slots_[slot]));
  free_slots_.push_back(static_cast<uint32_t>(slot));
}

void Kernel::reap() { dead_.clear(); }

void Kernel::make_ready(Task* t) {
  SS_ASSERT(t->ctx != nullptr, "task has no fiber");
  SS_ASSERT(t->ctx != bf::context::active(), "a task cannot make itself ready");
  t->state = Task::State::ready;
  bf::context::active()->schedule(t->ctx);
}

WakeReason Kernel::park(Instant deadline) {
  Task* t = current_;
  SS_ASSERT(t != nullptr, "park() called outside a task");
  SS_ASSERT(t->state == Task::State::running, "park() by a task that is not running");
  if (t->cancelled) throw TaskCancelled{};
  if (deadline <= now()) return WakeReason::timed_out;
  ++t->park_gen;
  t->timed_out = false;
  if (!deadline.is_never()) timers_.push(Timer{deadline, timer_seq_++, nullptr, t->id, t->park_gen});
  t->state = Task::State::parked;
  bf::context::active()->suspend();
  SS_ASSERT(current_ == t, "a parked task resumed while another was current");
  if (t->cancelled) throw TaskCancelled{};
  return t->timed_out ? WakeReason::timed_out : WakeReason::notified;
}

void Kernel::unpark(TaskId id) {
  Task* t = find(id);
  if (t == nullptr || t->state != Task::State::parked) return;
  ++t->park_gen;  // the pending deadline timer, if any, no longer applies
  make_ready(t);
}

void Kernel::yield() {
  Task* t = current_;
  SS_ASSERT(t != nullptr, "yield() called outside a task");
  if (t->cancelled) throw TaskCancelled{};
  t->state = Task::State::ready;
  boost::this_fiber::yield();
  SS_ASSERT(current_ == t, "a yielding task resumed while another was current");
  if (t->cancelled) throw TaskCancelled{};
}

TaskId Kernel::current_task() const {
  SS_ASSERT(current_ != nullptr, "current_task() called outside a task");
  return current_->id;
}

uint32_t Kernel::current_group() const {
  SS_ASSERT(current_ != nullptr, "current_group() called outside a task");
  return current_->group;
}

void Kernel::schedule_timer(Instant t, TimerTarget* target, uint64_t arg) {
  SS_ASSERT(target != nullptr, "timer without a target");
  SS_ASSERT(t >= now_, "timer in the past");
  timers_.push(Timer{t, timer_seq_++, target, arg, 0});
}

void Kernel::pause_group(uint32_t group) {
  SS_ASSERT(group < groups_.size(), "pause of an unknown group");
  Group& g = groups_[group];
  SS_ASSERT(!g.paused, "pause of a paused group");
  if (g.unwinding) return;  // a crashing process is not stopped: it only unwinds
  g.paused = true;
  SS_ASSERT(g.deferred.empty(), "a running group has no deferred tasks");
  // Tasks already in the ready queue leave it, in id (spawn) order so the
  // resumed order does not depend on the queue's internal layout.
  for (TaskId id : g.live) {
    Task* t = find(id);
    SS_ASSERT(t != nullptr, "live task missing from its slot");
    if (t->state == Task::State::ready && algo_->queued(t)) {
      algo_->remove(t);
      g.deferred.push_back(id);
    }
  }
  tracer_.record(now_, g.trace_node, TraceKind::custom, g.deferred.size(), 0, 0, "pause");
}

void Kernel::resume_group(uint32_t group) {
  SS_ASSERT(group < groups_.size(), "resume of an unknown group");
  Group& g = groups_[group];
  if (!g.paused) return;
  g.paused = false;
  std::vector<TaskId> deferred;
  deferred.swap(g.deferred);
  tracer_.record(now_, g.trace_node, TraceKind::custom, deferred.size(), 0, 0, "resume");
  for (TaskId id : deferred) {
    Task* t = find(id);
    // Only tasks still waiting for the CPU; anything else moved on meanwhile.
    if (t != nullptr && t->state == Task::State::ready && !algo_->queued(t)) algo_->add(t);
  }
  SS_ASSERT(g.deferred.empty(), "resuming defers nothing new");
}

bool Kernel::group_paused(uint32_t group) const {
  SS_ASSERT(group < groups_.size(), "unknown group");
  return groups_[group].paused;
}

void Kernel::cancel_group(uint32_t group) {
  SS_ASSERT(group < groups_.size(), "cancel of an unknown group");
  Group& g = groups_[group];
  // A stopped process can still be killed: its deferred tasks rejoin the ready
  // queue first, so the unwinding below finds every task where it expects it.
  resume_group(group);
  g.unwinding = true;
  for (TaskId id : g.live) {
    Task* t = find(id);
    SS_ASSERT(t != nullptr, "live task missing from its slot");
    t->cancelled = true;
    switch (t->state) {
      case Task::State::ready:
        algo_->remove(t);
        t->state = Task::State::unwind_wait;
        break;
      case Task::State::parked:
        ++t->park_gen;
        t->state = Task::State::unwind_wait;
        break;
      default:  // running (a task crashing its own node) or already waiting
        break;
    }
  }
  kick_unwind(g);
}

// Resumes the youngest live task of an unwinding group if it is waiting for its
// turn. Each task's end kicks the next, so a group unwinds youngest first.
void Kernel::kick_unwind(Group& g) {
  if (g.live.empty()) return;
  Task* t = find(*g.live.rbegin());
  SS_ASSERT(t != nullptr, "live task missing from its slot");
  if (t->state == Task::State::unwind_wait) make_ready(t);
}

size_t Kernel::live_tasks(uint32_t group) const {
  SS_ASSERT(group < groups_.size(), "unknown group");
  return groups_[group].live.size();
}

void Kernel::fire_due_timers() {
  while (!timers_.empty() && timers_.top().at <= now_) {
    Timer tm = timers_.top();
    timers_.pop();
    ++stats_.timers_fired;
    if (++stats_.steps > limits_.max_steps) limit_hit_ = true;
    if (tm.target != nullptr) {
      tm.target->on_timer(tm.arg);
      continue;
    }
    Task* t = find(tm.arg);
    if (t == nullptr || t->state != Task::State::parked || t->park_gen != tm.gen) continue;  // stale
    t->timed_out = true;
    ++t->park_gen;
    tracer_.record(now_, groups_[t->group].trace_node, TraceKind::wake, t->id >> kSlotBits);
    make_ready(t);
  }
}

RunStop Kernel::run(Instant until) {
  SS_ASSERT(current_ == nullptr, "Kernel::run() called from a task");
  SS_ASSERT(!running_, "Kernel::run() re-entered");
  running_ = true;
  stop_requested_ = false;
  const Instant hard_limit = Instant::epoch() + limits_.max_time;
  RunStop result;
  for (;;) {
    if (algo_->has_ready_tasks() && !must_return_to_main()) {
      // Returns once every task is parked (the algorithm prefers tasks to main).
      boost::this_fiber::yield();
      reap();
      continue;
    }
    reap();
    if (!failure_.empty()) { result = RunStop::task_failed; break; }
    if (limit_hit_) { result = RunStop::step_limit; break; }
    if (stop_requested_) { result = RunStop::stopped; break; }
    if (timers_.empty() || timers_.top().at > until) {
      // Nothing can wake a task any more (real time has no other wake-up source).
      if (until.is_never() || (real_time_ != nullptr && timers_.empty())) { result = RunStop::quiescent; break; }
      if (until > hard_limit) { result = RunStop::time_limit; break; }
      if (real_time_ != nullptr && now() < until) {
        real_time_->sleep_until(std::min(until, timers_.top().at));
        continue;
      }
      if (until > now_) now_ = until;
      result = RunStop::reached;
      break;
    }
    Instant t = timers_.top().at;
    if (t > hard_limit) { result = RunStop::time_limit; break; }
    if (real_time_ != nullptr) {
      // Real time: wait for the timer's moment instead of jumping to it.
      if (t > now()) {
        real_time_->sleep_until(t);
        continue;
      }
      fire_due_timers();
      continue;
    }
    SS_ASSERT(t >= now_, "virtual time would go backwards");
    now_ = t;
    fire_due_timers();
  }
  running_ = false;
  return result;
}

void Kernel::shutdown() {
  SS_ASSERT(current_ == nullptr, "shutdown() called from a task");
  for (uint32_t g = 0; g < groups_.size(); ++g) {
    if (!groups_[g].live.empty()) cancel_group(g);
  }
  // Unwinding must not be cut short by the limits that stopped the run.
  limit_hit_ = false;
  failure_.clear();
  limits_.max_steps = stats_.steps + 10'000'000;
  for (;;) {
    if (stats_.tasks_live == 0) break;
    RunStop s = run();
    if (stats_.tasks_live == 0) break;
    if (s == RunStop::step_limit) SS_PANIC("a task does not unwind when cancelled (it swallows TaskCancelled?)");
    if (s == RunStop::quiescent) SS_PANIC("tasks remain after every group was cancelled");
  }
  while (!timers_.empty()) timers_.pop();
}

TaskStatus SimTaskControl::join() {
  while (status_ == TaskStatus::running) {
    SS_ASSERT(task_ != nullptr, "running task without a Task");
    SS_ASSERT(task_->id != k_.current_task(), "a task cannot join itself");
    task_->joiners.push_back(k_.current_task());
    k_.park(Instant::never());
  }
  return status_;
}

void SimTaskControl::cancel() {
  if (task_ == nullptr) return;
  Task* t = task_;
  SS_ASSERT(!k_.in_task() || k_.current_task() != t->id, "a task cannot cancel itself; return or throw instead");
  t->cancelled = true;
  if (t->state == Task::State::parked) k_.unpark(t->id);
}

}  // namespace streamsim::sim
