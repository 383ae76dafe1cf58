// Synchronisation for tasks of one Runtime: wait queue, mutex, condition
// variable, bounded channel and one-shot event. All built on Runtime::park, so
// every wait -- including every timeout -- runs on the Runtime's clock (virtual
// time in simulation). Boost.Fiber's own timed waits read the real steady clock
// and are therefore banned in this code base (a lint test enforces it, and the
// simulation kernel stops a run whose task suspends outside Runtime::park).
//
// Waiters are woken in FIFO order. None of these objects is thread-safe: they
// belong to tasks of one Runtime (one OS thread).
#pragma once

#include <streamsim/core/assert.h>
#include <streamsim/core/runtime.h>

#include <cstddef>
#include <deque>
#include <optional>

namespace streamsim {

// FIFO queue of parked tasks. Waiter nodes live on the waiters' stacks, so the
// queue never allocates. Destroying a queue with waiters detaches them (they stay
// parked until cancelled or their deadline), which is what a crash needs when the
// queue's owner unwinds before its waiters.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;
  ~WaitQueue();

  // Suspends the calling task until notified or deadline. Throws TaskCancelled.
  WakeReason wait(Runtime& rt, Instant deadline = Instant::never());
  // Wakes the oldest waiter; returns false if there was none. Does not suspend.
  bool notify_one();
  // Wakes every waiter; returns how many. Does not suspend.
  size_t notify_all();
  bool empty() const { return head_ == nullptr; }

 private:
  struct Node {
    Runtime* rt;
    TaskId task;
    Node* prev;
    Node* next;
    WaitQueue* owner;
    bool notified;
  };
  void unlink(Node* n);
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
};

// Non-recursive mutex. lock() suspends while another task holds it.
class Mutex {
 public:
  void lock(Runtime& rt);
  // Returns false on deadline. Suspends.
  bool try_lock_until(Runtime& rt, Instant deadline);
  bool try_lock(Runtime& rt);
  void unlock(Runtime& rt);
  bool locked() const { return locked_; }

 private:
  bool locked_ = false;
  TaskId owner_ = 0;
  WaitQueue waiters_;
};

// Scoped ownership of a Mutex, like std::unique_lock: remembers whether it owns
// the mutex, so a wait that ends in cancellation (and could not relock) does not
// make the destructor release a mutex some other task holds.
class UniqueLock {
 public:
  UniqueLock(Runtime& rt, Mutex& m) : rt_(rt), m_(m) {
    m_.lock(rt_);
    owns_ = true;
  }
  ~UniqueLock() {
    if (owns_) m_.unlock(rt_);
  }
  UniqueLock(const UniqueLock&) = delete;
  UniqueLock& operator=(const UniqueLock&) = delete;
  void unlock() {
    SS_ASSERT(owns_, "UniqueLock::unlock without ownership");
    m_.unlock(rt_);
    owns_ = false;
  }
  void lock() {
    SS_ASSERT(!owns_, "UniqueLock::lock while owning");
    m_.lock(rt_);
    owns_ = true;
  }
  bool owns_lock() const { return owns_; }
  Mutex& mutex() { return m_; }
  Runtime& runtime() { return rt_; }

 private:
  friend class CondVar;
  Runtime& rt_;
  Mutex& m_;
  bool owns_ = false;
};

// Condition variable. As with every condition variable, wait in a loop on the
// predicate: a notify may precede the predicate becoming true for this waiter.
class CondVar {
 public:
  // Unlocks, waits, relocks. Suspends. On TaskCancelled the lock is retaken only
  // if that needs no wait (lk.owns_lock() tells), then the exception propagates.
  void wait(UniqueLock& lk) { wait_until(lk, Instant::never()); }
  // Returns timed_out if the deadline passed first (relocked either way).
  WakeReason wait_until(UniqueLock& lk, Instant deadline);
  WakeReason wait_for(UniqueLock& lk, Duration d) { return wait_until(lk, lk.runtime().now() + d); }
  // Untimed and timed waits for code that needs no mutex (single-threaded tasks).
  void wait(Runtime& rt) { q_.wait(rt); }
  WakeReason wait_until(Runtime& rt, Instant deadline) { return q_.wait(rt, deadline); }
  void notify_one() { q_.notify_one(); }
  void notify_all() { q_.notify_all(); }

 private:
  WaitQueue q_;
};

// One-shot event: set() wakes all current and future waiters.
class Event {
 public:
  void set() {
    set_ = true;
    q_.notify_all();
  }
  bool is_set() const { return set_; }
  // Returns true if set, false on deadline. Suspends; throws TaskCancelled.
  bool wait(Runtime& rt, Instant deadline = Instant::never()) {
    while (!set_) {
      if (q_.wait(rt, deadline) == WakeReason::timed_out) return set_;
    }
    return true;
  }

 private:
  bool set_ = false;
  WaitQueue q_;
};

enum class ChannelErrc { closed = 1, timed_out, full };

// Bounded multi-producer multi-consumer FIFO channel. Bounded because every
// queue in streamsim is (a producer that outruns its consumer must block, not grow
// memory without limit).
template <class T>
class Channel {
 public:
  explicit Channel(size_t capacity) : capacity_(capacity) { SS_ASSERT(capacity > 0, "channel capacity must be positive"); }

  // Suspends while full. Returns closed if the channel is or becomes closed, or
  // timed_out at the deadline.
  Result<void, ChannelErrc> push(Runtime& rt, T value, Instant deadline = Instant::never()) {
    while (!closed_ && items_.size() >= capacity_) {
      if (not_full_.wait(rt, deadline) == WakeReason::timed_out && items_.size() >= capacity_ && !closed_)
        return unexpected(ChannelErrc::timed_out);
    }
    if (closed_) return unexpected(ChannelErrc::closed);
    items_.push_back(std::move(value));
    not_empty_.notify_one();
    return {};
  }
  // Never suspends: full if there is no room.
  Result<void, ChannelErrc> try_push(T value) {
    if (closed_) return unexpected(ChannelErrc::closed);
    if (items_.size() >= capacity_) return unexpected(ChannelErrc::full);
    items_.push_back(std::move(value));
    not_empty_.notify_one();
    return {};
  }
  // Suspends while empty. After close(), remaining items are still delivered,
  // then pop returns closed.
  Result<T, ChannelErrc> pop(Runtime& rt, Instant deadline = Instant::never()) {
    while (items_.empty() && !closed_) {
      if (not_empty_.wait(rt, deadline) == WakeReason::timed_out && items_.empty() && !closed_)
        return unexpected(ChannelErrc::timed_out);
    }
    if (items_.empty()) return unexpected(ChannelErrc::closed);
    T v = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return v;
  }
  std::optional<T> try_pop() {
    if (items_.empty()) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return v;
  }
  void close() {
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  bool closed() const { return closed_; }
  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  WaitQueue not_empty_;
  WaitQueue not_full_;
};

}  // namespace streamsim
