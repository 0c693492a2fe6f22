// A CPU allocator for libtorch that keeps large freed buffers for reuse.
//
// A frame's activations are hundreds of MB (720p and up). glibc serves anything over 32 MB with a
// fresh mmap and unmaps it on free, so every frame faulted all of its activation memory in again:
// on a 2-core machine that was about as much (system) time as the convolutions themselves. The same
// shapes recur every frame, so keeping freed blocks of 1 MB and more and handing them out again
// removes those faults. Small blocks go straight to malloc (its heap already reuses them).

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <map>
#include <mutex>

namespace {

constexpr size_t kHeader = 64;  // keeps the data 64-byte aligned, as libtorch's allocator does
constexpr size_t kMinCached = size_t{1} << 20;

struct Header {
  size_t size;  // bytes after the header
};

class ReusingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    char* base = take(n);
    if (base == nullptr) {
      void* fresh = nullptr;
      if (posix_memalign(&fresh, kHeader, kHeader + n) != 0) {
        TORCH_CHECK_WITH(OutOfMemoryError, false, "CPU out of memory allocating ", n, " bytes");
      }
      base = static_cast<char*>(fresh);
      reinterpret_cast<Header*>(base)->size = n;
    }
    // The context is the data pointer itself (oneDNN uses the raw interface, which needs that);
    // the block's size sits in the header just before it.
    char* data = base + kHeader;
    return {data, data, &give_back, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &give_back; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  void set_limit(size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = limit;
    trim();
  }

  size_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t limit = limit_;
    limit_ = 0;
    trim();
    limit_ = limit;
  }

 private:
  // A kept block at least n bytes long and at most a quarter longer, if any.
  char* take(size_t n) {
    if (n < kMinCached) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(n);
    if (it == free_.end() || it->first > n + n / 4) return nullptr;
    char* base = it->second;
    cached_ -= it->first;
    free_.erase(it);
    return base;
  }

  static void give_back(void* data) { instance().keep(static_cast<char*>(data) - kHeader); }

  void keep(char* base) {
    size_t size = reinterpret_cast<Header*>(base)->size;
    if (size < kMinCached) {
      std::free(base);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(size, base);
    cached_ += size;
    trim();
  }

  // Frees the largest kept blocks until at most limit_ bytes are kept (mutex held).
  void trim() {
    while (cached_ > limit_ && !free_.empty()) {
      auto largest = std::prev(free_.end());
      cached_ -= largest->first;
      std::free(largest->second);
      free_.erase(largest);
    }
  }

 public:
  // Never destroyed: tensors freed during process exit still find it.
  static ReusingAllocator& instance() {
    static ReusingAllocator* allocator = new ReusingAllocator();
    return *allocator;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, char*> free_;
  size_t cached_ = 0;
  size_t limit_ = 0;
};

}  // namespace

extern "C" {

// Makes libtorch allocate CPU tensors here, keeping up to `limit` bytes of freed buffers.
// Returns 0, or -1 if a C++ exception stopped it.
int hyperres_reuse_cpu_buffers(size_t limit) {
  try {
    auto& allocator = ReusingAllocator::instance();
    allocator.set_limit(limit);
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
    return 0;
  } catch (...) {
    return -1;
  }
}

// Frees every kept buffer (e.g. when a stream stops or changes size).
void hyperres_release_cpu_buffers() { ReusingAllocator::instance().release(); }

// Bytes of freed buffers currently kept.
size_t hyperres_cached_cpu_bytes() { return ReusingAllocator::instance().cached(); }
}
