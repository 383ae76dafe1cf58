// Fiber stacks: mmap'd, with a PROT_NONE guard page below each stack so an
// overflow faults at once instead of corrupting a neighbour, and pooled so that
// spawning a task after warm-up costs no system call. Untouched stack pages are
// never made resident, so 10,000 parked fibers cost a few pages each.
#pragma once

#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <vector>

namespace streamsim::sim {

class StackPool {
 public:
  explicit StackPool(size_t stack_bytes, size_t max_cached = 4096);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& sctx) noexcept;
  size_t outstanding() const { return outstanding_; }
  // The stack most recently handed out (Kernel::spawn records it in its task).
  const boost::context::stack_context& last_allocated() const { return last_; }

 private:
  size_t size_;   // usable bytes, page multiple
  size_t guard_;  // one page
  size_t max_cached_;
  size_t outstanding_ = 0;
  std::vector<void*> free_;  // mapping bases
  boost::context::stack_context last_{};
};

// AddressSanitizer does not know fiber stacks, so when an exception unwinds
// frames on one it cannot clear their red zones, and later frames at the same
// addresses are reported as overflows. Clearing the free part of the stack after
// an exception was caught (and every stack when it is handed out) avoids that.
// No-ops without AddressSanitizer.
void asan_unpoison(void* lo, size_t bytes);

// The StackAllocator handed to Boost.Fiber: a copyable reference to the pool.
struct PooledStack {
  StackPool* pool;
  boost::context::stack_context allocate() { return pool->allocate(); }
  void deallocate(boost::context::stack_context& sctx) noexcept { pool->deallocate(sctx); }
};

}  // namespace streamsim::sim
