#include <streamsim/core/sync.h>

namespace streamsim {

WaitQueue::~WaitQueue() {
  // Detach waiters instead of asserting: during a crash the queue's owner may
  // unwind before the tasks parked on it. They stay parked until cancelled.
  for (Node* n = head_; n != nullptr;) {
    Node* next = n->next;
    n->owner = nullptr;
    n->prev = n->next = nullptr;
    n = next;
  }
}

void WaitQueue::unlink(Node* n) {
  SS_ASSERT(n->owner == this, "unlinking a waiter from a queue it is not on");
  if (n->prev) n->prev->next = n->next; else head_ = n->next;
  if (n->next) n->next->prev = n->prev; else tail_ = n->prev;
  n->prev = n->next = nullptr;
  n->owner = nullptr;
}

WakeReason WaitQueue::wait(Runtime& rt, Instant deadline) {
  Node n{&rt, rt.current_task(), tail_, nullptr, this, false};
  if (tail_) tail_->next = &n; else head_ = &n;
  tail_ = &n;
  // The guard removes the node when the wait ends by timeout or by TaskCancelled;
  // a notify has already removed it (owner == nullptr).
  struct Guard {
    Node& n;
    ~Guard() {
      if (n.owner) n.owner->unlink(&n);
    }
  } guard{n};
  for (;;) {
    WakeReason r = rt.park(deadline);
    if (n.notified) return WakeReason::notified;
    if (r == WakeReason::timed_out) return WakeReason::timed_out;
    // Woken by an unpark that was not ours: park again until ours or the deadline.
  }
}

bool WaitQueue::notify_one() {
  Node* n = head_;
  if (!n) return false;
  unlink(n);
  n->notified = true;
  n->rt->unpark(n->task);
  return true;
}

size_t WaitQueue::notify_all() {
  size_t k = 0;
  while (notify_one()) ++k;
  return k;
}

void Mutex::lock(Runtime& rt) {
  bool ok = try_lock_until(rt, Instant::never());
  SS_ASSERT(ok, "untimed lock returned without the mutex");
}

bool Mutex::try_lock(Runtime& rt) {
  if (locked_) return false;
  locked_ = true;
  owner_ = rt.current_task();
  return true;
}

bool Mutex::try_lock_until(Runtime& rt, Instant deadline) {
  SS_ASSERT(!(locked_ && owner_ == rt.current_task()), "Mutex is not recursive");
  while (locked_) {
    if (waiters_.wait(rt, deadline) == WakeReason::timed_out && locked_) return false;
  }
  locked_ = true;
  owner_ = rt.current_task();
  return true;
}

void Mutex::unlock(Runtime& rt) {
  SS_ASSERT(locked_, "unlock of an unlocked mutex");
  SS_ASSERT(owner_ == rt.current_task(), "unlock by a task that does not own the mutex");
  locked_ = false;
  owner_ = 0;
  waiters_.notify_one();
}

WakeReason CondVar::wait_until(UniqueLock& lk, Instant deadline) {
  SS_ASSERT(lk.owns_, "condition wait without holding the lock");
  Runtime& rt = lk.rt_;
  // No task can run between the unlock and the park below (they do not suspend),
  // so a notify cannot slip in between: unlock-and-wait is atomic here.
  lk.m_.unlock(rt);
  lk.owns_ = false;
  WakeReason r;
  try {
    r = q_.wait(rt, deadline);
  } catch (const TaskCancelled&) {
    lk.owns_ = lk.m_.try_lock(rt);
    throw;
  }
  lk.m_.lock(rt);
  lk.owns_ = true;
  return r;
}

}  // namespace streamsim
