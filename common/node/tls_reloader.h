// TlsReloader: lets a running node take a new certificate, key or CA bundle
// without a restart.
//
// It hands gRPC the node's TLS material through one
// grpc::experimental::FileWatcherCertificateProvider (gRPC 1.51 re-reads its
// files every second and uses what it read for every later handshake, as
// server and as client). The files it watches are private in-memory files
// (memfd, reached as /proc/self/fd/N): the key is never copied to disk, and a
// new version replaces the old in one step (dup3), so gRPC never reads half a
// rotation or a key of one version with the certificate of another.
//
// The node's configured cert, key and CA files are compared (size, mtime,
// inode) every `check_interval`, and at once after SIGHUP. When they changed,
// they are loaded and validated exactly as at start-up (LoadTlsMaterial: PEM
// parses, the key matches the certificate, the certificate chains to the CA
// and is within its validity period); only material that passes is swapped
// in. Anything else is logged and ignored: the node keeps serving with what it
// has (e.g. an expired certificate, or a key written before its certificate:
// the next check, after the certificate is written too, takes the pair).
// Connections already open keep their session; new handshakes use the new
// material within about a second of the swap.
//
// Ownership: shared; TlsOptions::reloader holds it, so every credential made
// from those options keeps it alive. Thread-safety: all methods are safe.
#ifndef LIP_COMMON_NODE_TLS_RELOADER_H_
#define LIP_COMMON_NODE_TLS_RELOADER_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/security/tls_certificate_provider.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/node/tls_credentials.h"

namespace lip {

class TlsReloader {
 public:
  // Validates `files` (cert, key, CA paths; not insecure), puts them into the in-memory files
  // and starts watching. Errors as LoadTlsMaterial; INTERNAL when memfd is unavailable.
  // Installs the process's SIGHUP handler (once): SIGHUP then makes every reloader check at once.
  static absl::StatusOr<std::shared_ptr<TlsReloader>> Start(const TlsOptions& files,
                                                            absl::Duration check_interval);
  ~TlsReloader();  // stops the watch thread
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // What gRPC credentials watch (root certificates and the identity pair, unnamed).
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider() const {
    return provider_;
  }
  // Checks the files now: true when new material was validated and swapped in, false when
  // nothing changed; the validation error (old material kept) otherwise.
  absl::StatusOr<bool> CheckNow();
  // How many times new material was swapped in.
  uint64_t reloads() const { return reloads_.load(); }
  const TlsOptions& files() const { return files_; }

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp& other) const;
  };
  struct Stamps {
    FileStamp cert, key, ca;
    bool operator==(const Stamps& other) const;
  };

  TlsReloader(TlsOptions files, absl::Duration check_interval);
  Stamps CurrentStamps() const;
  // Writes the material into fresh memfds and swaps them in place of the served ones.
  absl::Status Publish(const TlsMaterial& material);
  void Loop();

  const TlsOptions files_;
  const absl::Duration check_interval_;
  int identity_fd_ = -1;  // key + certificate chain, PEM
  int ca_fd_ = -1;        // CA bundle, PEM
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_;
  std::atomic<uint64_t> reloads_{0};

  std::mutex check_mu_;  // one check at a time; guards the fields below
  Stamps checked_;       // the files as last checked (taken or refused)
  std::string served_;   // the material served now, concatenated (to skip no-op swaps)

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lip

#endif  // LIP_COMMON_NODE_TLS_RELOADER_H_
