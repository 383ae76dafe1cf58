#include <streamsim/live/live_runtime.h>

#include <streamsim/core/assert.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

namespace fs = std::filesystem;

namespace streamsim::live {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

IoErrc from_errno(int e) {
  switch (e) {
    case ENOENT: return IoErrc::not_found;
    case EEXIST: return IoErrc::exists;
    case EINVAL:
    case EISDIR:
    case ENOTDIR:
    case ENAMETOOLONG: return IoErrc::invalid_argument;
    default: return IoErrc::io_error;
  }
}

// Closes a file descriptor on every path out of a function.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool fsync_path(const std::string& p, int flags) {
  Fd f{::open(p.c_str(), flags)};
  if (f.fd < 0) return false;
  return ::fsync(f.fd) == 0;
}

}  // namespace

SteadyTimeSource::SteadyTimeSource() : epoch_ns_(steady_ns()) {}

Instant SteadyTimeSource::now() { return Instant::from_ns(steady_ns() - epoch_ns_); }

void SteadyTimeSource::sleep_until(Instant t) {
  int64_t wait = t.ns() - (steady_ns() - epoch_ns_);
  if (wait <= 0) return;
  // Bounded slices keep the thread responsive to timers added meanwhile by
  // librdkafka polls (there is no cross-thread wake-up).
  std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(wait, 50'000'000)));
}

FileStorage::FileStorage(std::string root) : root_(std::move(root)) {
  SS_ASSERT(!root_.empty(), "FileStorage needs a root directory");
  std::error_code ec;
  fs::create_directories(root_, ec);
  SS_ASSERT(!ec, "cannot create the storage root directory");
}

Result<std::string, IoErrc> FileStorage::full(std::string_view path, bool create_parents) {
  if (path.empty() || path.front() == '/') return unexpected(IoErrc::invalid_argument);
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return unexpected(IoErrc::invalid_argument);
    start = end + 1;
  }
  std::string p = root_ + "/" + std::string(path);
  if (create_parents) {
    std::error_code ec;
    fs::create_directories(fs::path(p).parent_path(), ec);
    if (ec) return unexpected(IoErrc::io_error);
  }
  return p;
}

Result<void, IoErrc> FileStorage::write(std::string_view path, uint64_t offset, std::string_view data) {
  auto p = full(path, true);
  if (!p.ok()) return unexpected(p.error());
  Fd f{::open(p->c_str(), O_WRONLY | O_CREAT, 0644)};
  if (f.fd < 0) return unexpected(from_errno(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(f.fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) return unexpected(from_errno(errno));
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void, IoErrc> FileStorage::append(std::string_view path, std::string_view data) {
  auto p = full(path, true);
  if (!p.ok()) return unexpected(p.error());
  Fd f{::open(p->c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644)};
  if (f.fd < 0) return unexpected(from_errno(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
    if (n < 0) return unexpected(from_errno(errno));
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void, IoErrc> FileStorage::truncate(std::string_view path, uint64_t size) {
  auto p = full(path, false);
  if (!p.ok()) return unexpected(p.error());
  if (::truncate(p->c_str(), static_cast<off_t>(size)) != 0) return unexpected(from_errno(errno));
  return {};
}

Result<void, IoErrc> FileStorage::fsync(std::string_view path) {
  auto p = full(path, false);
  if (!p.ok()) return unexpected(p.error());
  if (!fsync_path(*p, O_RDONLY)) return unexpected(from_errno(errno));
  return {};
}

Result<void, IoErrc> FileStorage::rename(std::string_view from, std::string_view to) {
  auto a = full(from, false);
  auto b = full(to, true);
  if (!a.ok()) return unexpected(a.error());
  if (!b.ok()) return unexpected(b.error());
  if (::rename(a->c_str(), b->c_str()) != 0) return unexpected(from_errno(errno));
  return {};
}

Result<void, IoErrc> FileStorage::remove(std::string_view path) {
  auto p = full(path, false);
  if (!p.ok()) return unexpected(p.error());
  if (::unlink(p->c_str()) != 0) return unexpected(from_errno(errno));
  return {};
}

Result<void, IoErrc> FileStorage::sync_dir() {
  // Every directory under the root, so nested names are durable too.
  if (!fsync_path(root_, O_RDONLY | O_DIRECTORY)) return unexpected(from_errno(errno));
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && !fsync_path(it->path().string(), O_RDONLY | O_DIRECTORY)) {
      return unexpected(from_errno(errno));
    }
  }
  if (ec) return unexpected(IoErrc::io_error);
  return {};
}

Result<std::string, IoErrc> FileStorage::read(std::string_view path, uint64_t offset, uint64_t len) {
  auto p = full(path, false);
  if (!p.ok()) return unexpected(p.error());
  Fd f{::open(p->c_str(), O_RDONLY)};
  if (f.fd < 0) return unexpected(from_errno(errno));
  std::string out;
  out.resize(static_cast<size_t>(len));
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(f.fd, out.data() + done, static_cast<size_t>(len) - done, static_cast<off_t>(offset + done));
    if (n < 0) return unexpected(from_errno(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Result<std::string, IoErrc> FileStorage::read_all(std::string_view path) {
  auto s = size(path);
  if (!s.ok()) return unexpected(s.error());
  return read(path, 0, *s);
}

Result<uint64_t, IoErrc> FileStorage::size(std::string_view path) {
  auto p = full(path, false);
  if (!p.ok()) return unexpected(p.error());
  struct stat st;
  if (::stat(p->c_str(), &st) != 0) return unexpected(from_errno(errno));
  if (!S_ISREG(st.st_mode)) return unexpected(IoErrc::invalid_argument);
  return static_cast<uint64_t>(st.st_size);
}

bool FileStorage::exists(std::string_view path) {
  auto p = full(path, false);
  struct stat st;
  return p.ok() && ::stat(p->c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> FileStorage::list(std::string_view prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), root_).generic_string();
    if (rel.compare(0, prefix.size(), prefix) == 0) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

LiveRuntime::LiveRuntime(LiveOptions opt)
    : opt_(std::move(opt)),
      seed_(opt_.seed != 0 ? opt_.seed : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()),
      rng_(Rng::stream(seed_, "live/" + opt_.name)),
      storage_(opt_.storage_dir.empty() ? std::string("streamsim-live-data") : opt_.storage_dir) {
  sim::KernelLimits limits;
  limits.max_time = Duration::max();
  limits.max_steps = UINT64_MAX;
  kernel_ = std::make_unique<sim::Kernel>(seed_, tracer_, limits, &clock_);
  group_ = kernel_->add_group(tracer_.add_node(opt_.name));
  auto sink = opt_.log_sink ? opt_.log_sink : std::make_shared<spdlog::sinks::stderr_sink_st>();
  logger_ = std::make_shared<spdlog::logger>(opt_.name, sink);
  logger_->set_level(spdlog::level::from_str(opt_.log_level));
}

LiveRuntime::~LiveRuntime() { kernel_->shutdown(); }

void LiveRuntime::sleep_until(Instant t) {
  SS_ASSERT(kernel_->in_task(), "sleep outside a task");
  while (kernel_->park(t) != WakeReason::timed_out) {
  }
}

TaskHandle LiveRuntime::spawn(std::string name, std::function<void()> fn) {
  SS_ASSERT(fn != nullptr, "spawn of an empty function");
  return TaskHandle(kernel_->spawn(group_, opt_.name + "/" + name, std::move(fn)));
}

std::unique_ptr<LiveProcess> LiveRuntime::process(std::string name) {
  const uint32_t g = kernel_->add_group(tracer_.add_node(opt_.name + "/" + name));
  return std::make_unique<LiveProcess>(*this, std::move(name), g);
}

TaskHandle LiveProcess::spawn(std::string name, std::function<void()> fn) {
  SS_ASSERT(fn != nullptr, "spawn of an empty function");
  return TaskHandle(rt_.kernel().spawn(group_, name_ + "/" + name, std::move(fn)));
}

void LiveProcess::crash() { rt_.kernel().cancel_group(group_); }

size_t LiveProcess::live_tasks() const { return rt_.kernel().live_tasks(group_); }

sim::RunStop LiveRuntime::run(Duration limit) {
  return kernel_->run(limit == Duration::max() ? Instant::never() : kernel_->now() + limit);
}

}  // namespace streamsim::live
