#include "stack_pool.h"

#include <streamsim/core/assert.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace streamsim::sim {

void asan_unpoison(void* lo, size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(lo, bytes);
#else
  (void)lo;
  (void)bytes;
#endif
}

StackPool::StackPool(size_t stack_bytes, size_t max_cached) : max_cached_(max_cached) {
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  SS_ASSERT(page > 0, "page size unknown");
  guard_ = page;
  size_ = (stack_bytes + page - 1) / page * page;
  SS_ASSERT(size_ >= 4 * page, "fiber stack too small");
}

StackPool::~StackPool() {
  SS_ASSERT(outstanding_ == 0, "stack pool destroyed while fibers still own stacks");
  for (void* base : free_) ::munmap(base, size_ + guard_);
}

boost::context::stack_context StackPool::allocate() {
  void* base;
  if (!free_.empty()) {
    base = free_.back();
    free_.pop_back();
  } else {
    base = ::mmap(nullptr, size_ + guard_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    SS_ASSERT(base != MAP_FAILED, "mmap of a fiber stack failed (out of memory?)");
    // Stacks grow down: the guard is the lowest page.
    int rc = ::mprotect(base, guard_, PROT_NONE);
    if (rc != 0) {
      // Usually vm.max_map_count: every guarded stack needs its own mappings.
      std::fprintf(stderr, "streamsim: mprotect failed: %s (live stacks: %zu)\n", std::strerror(errno), outstanding_);
    }
    SS_ASSERT(rc == 0, "mprotect of a fiber stack guard page failed");
  }
  ++outstanding_;
  asan_unpoison(static_cast<char*>(base) + guard_, size_);
  boost::context::stack_context sctx;
  sctx.size = size_;
  sctx.sp = static_cast<char*>(base) + guard_ + size_;
  last_ = sctx;
  return sctx;
}

void StackPool::deallocate(boost::context::stack_context& sctx) noexcept {
  SS_ASSERT(sctx.size == size_, "stack returned to the wrong pool");
  void* base = static_cast<char*>(sctx.sp) - size_ - guard_;
  --outstanding_;
  if (free_.size() < max_cached_) {
    free_.push_back(base);
  } else {
    ::munmap(base, size_ + guard_);
  }
}

}  // namespace streamsim::sim
