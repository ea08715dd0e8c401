#include "common/node/tls_reloader.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/node/logging.h"

namespace lip {
namespace {

constexpr char kComponent[] = "tls";
// How often gRPC re-reads the in-memory files (its minimum, whole seconds).
constexpr unsigned kProviderRefreshSeconds = 1;
// How often the watch thread looks for a SIGHUP between file checks.
constexpr absl::Duration kSignalPoll = absl::Milliseconds(200);

std::atomic<uint64_t> g_sighups{0};  // lock-free: safe to bump in a signal handler

void OnSighup(int /*signal*/) { g_sighups.fetch_add(1, std::memory_order_relaxed); }

void InstallSighupHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action = {};
    action.sa_handler = OnSighup;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &action, nullptr);
  });
}

// An anonymous in-memory file (memfd, close-on-exec) holding `text`; -1 with errno on failure.
int MemoryFile(const char* name, const std::string& text) {
  const int fd = static_cast<int>(memfd_create(name, MFD_CLOEXEC));
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      errno = error;
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

std::string FdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

}  // namespace

bool TlsReloader::FileStamp::operator==(const FileStamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         mtime_ns == other.mtime_ns;
}

bool TlsReloader::Stamps::operator==(const Stamps& other) const {
  return cert == other.cert && key == other.key && ca == other.ca;
}

TlsReloader::TlsReloader(TlsOptions files, absl::Duration check_interval)
    : files_(std::move(files)), check_interval_(check_interval) {}

absl::StatusOr<std::shared_ptr<TlsReloader>> TlsReloader::Start(const TlsOptions& files,
                                                                 absl::Duration check_interval) {
  if (files.insecure) return absl::InvalidArgumentError("TLS reloading needs TLS (not --insecure)");
  TlsOptions watched = files;
  watched.reloader.reset();
  std::shared_ptr<TlsReloader> reloader(new TlsReloader(std::move(watched), check_interval));
  const Stamps stamps = reloader->CurrentStamps();
  auto material = LoadTlsMaterial(reloader->files_);
  if (!material.ok()) return material.status();
  absl::Status published = reloader->Publish(*material);
  if (!published.ok()) return published;
  reloader->checked_ = stamps;
  reloader->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      FdPath(reloader->identity_fd_), FdPath(reloader->identity_fd_), FdPath(reloader->ca_fd_),
      kProviderRefreshSeconds);
  InstallSighupHandler();
  reloader->thread_ = std::thread([raw = reloader.get()] { raw->Loop(); });
  return reloader;
}

TlsReloader::~TlsReloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  provider_.reset();  // gRPC's watcher thread stops before the files close
  if (identity_fd_ >= 0) ::close(identity_fd_);
  if (ca_fd_ >= 0) ::close(ca_fd_);
}

TlsReloader::Stamps TlsReloader::CurrentStamps() const {
  auto stamp = [](const std::string& path) {
    FileStamp out;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      out.device = st.st_dev;
      out.inode = st.st_ino;
      out.size = st.st_size;
      out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    return out;
  };
  return Stamps{stamp(files_.cert_file), stamp(files_.key_file), stamp(files_.ca_file)};
}

absl::Status TlsReloader::Publish(const TlsMaterial& material) {
  // Key first: gRPC reads the private key and the chain from the same file.
  const std::string identity = absl::StrCat(material.private_key_pem, "\n", material.cert_chain_pem);
  const int identity_fd = MemoryFile("lip-tls-identity", identity);
  if (identity_fd < 0) {
    return absl::InternalError(absl::StrCat("memfd_create for TLS material: ", std::strerror(errno)));
  }
  const int ca_fd = MemoryFile("lip-tls-ca", material.ca_pem);
  if (ca_fd < 0) {
    const int error = errno;
    ::close(identity_fd);
    return absl::InternalError(absl::StrCat("memfd_create for TLS material: ", std::strerror(error)));
  }
  if (identity_fd_ < 0) {  // first time: these are the served files
    identity_fd_ = identity_fd;
    ca_fd_ = ca_fd;
  } else {
    // The CA bundle first, so that a node trusts a new CA no later than it presents a
    // certificate from it. dup3 replaces what /proc/self/fd/N opens in one step.
    if (::dup3(ca_fd, ca_fd_, O_CLOEXEC) < 0 || ::dup3(identity_fd, identity_fd_, O_CLOEXEC) < 0) {
      const int error = errno;
      ::close(identity_fd);
      ::close(ca_fd);
      return absl::InternalError(absl::StrCat("swapping TLS material: ", std::strerror(error)));
    }
    ::close(identity_fd);
    ::close(ca_fd);
  }
  served_ = absl::StrCat(identity, "\n", material.ca_pem);
  return absl::OkStatus();
}

absl::StatusOr<bool> TlsReloader::CheckNow() {
  std::lock_guard<std::mutex> lock(check_mu_);
  checked_ = CurrentStamps();
  auto material = LoadTlsMaterial(files_);
  if (!material.ok()) return material.status();
  const std::string identity = absl::StrCat(material->private_key_pem, "\n", material->cert_chain_pem);
  if (absl::StrCat(identity, "\n", material->ca_pem) == served_) return false;
  absl::Status published = Publish(*material);
  if (!published.ok()) return published;
  reloads_.fetch_add(1);
  return true;
}

void TlsReloader::Loop() {
  uint64_t seen_sighups = g_sighups.load();
  absl::Time next_check = absl::Now() + check_interval_;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      const absl::Duration wait =
          check_interval_ > absl::ZeroDuration() ? std::min(kSignalPoll, check_interval_) : kSignalPoll;
      wake_.wait_for(lock, absl::ToChronoMilliseconds(wait), [this] { return stop_; });
      if (stop_) return;
    }
    const uint64_t sighups = g_sighups.load();
    const bool signalled = sighups != seen_sighups;
    seen_sighups = sighups;
    bool due = signalled;
    if (!due && check_interval_ > absl::ZeroDuration() && absl::Now() >= next_check) {
      next_check = absl::Now() + check_interval_;
      std::lock_guard<std::mutex> lock(check_mu_);
      due = !(CurrentStamps() == checked_);
    }
    if (!due) continue;
    auto reloaded = CheckNow();
    if (!reloaded.ok()) {
      LogError(kComponent, "new TLS material refused; keeping the current certificate",
               {{"cert", files_.cert_file}, {"key", files_.key_file}, {"ca", files_.ca_file},
                {"trigger", signalled ? "SIGHUP" : "file change"},
                {"error", reloaded.status().ToString()}});
    } else if (*reloaded) {
      LogInfo(kComponent, "TLS material reloaded",
              {{"cert", files_.cert_file}, {"trigger", signalled ? "SIGHUP" : "file change"},
               {"reloads", reloads_.load()}});
    } else if (signalled) {
      LogInfo(kComponent, "SIGHUP: TLS material unchanged", {{"cert", files_.cert_file}});
    }
  }
}

}  // namespace lip
