// HeaderCache: the packet headers a receiver keeps for LIP 1.1 compact messages
// (docs/protocol.md §12, common/wire/compact_packet.h), per caller, bounded.
//
// A packet that sets header_id puts its header here under (caller, header_id); a CompactPacket
// finds it by the same key, so one caller can never use, replace or evict by name another
// caller's headers. Memory is bounded two ways: each caller keeps at most
// `max_headers_per_caller` headers and `max_bytes_per_caller` bytes (its least recently used
// headers go first), and all callers together at most `max_total_bytes` (the least recently
// active caller's oldest header goes first). A header larger than a caller's byte budget is not
// kept at all. An evicted header costs its caller one HEADER_NOT_CACHED answer and a full resend,
// never a wrong answer.
//
// Thread-safety: all methods may be called from several threads at once. Headers are handed
// out as shared pointers, so one evicted while a message uses it stays valid for that message.
#ifndef LIP_SERVER_RECEIVER_HEADER_CACHE_H_
#define LIP_SERVER_RECEIVER_HEADER_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "lip/v1/packet.pb.h"

namespace lip {

struct HeaderCacheOptions {
  size_t max_headers_per_caller = 64;
  size_t max_bytes_per_caller = size_t{1} << 20;  // 1 MiB
  size_t max_total_bytes = size_t{64} << 20;      // 64 MiB over all callers
};

class HeaderCache {
 public:
  explicit HeaderCache(HeaderCacheOptions options = {});

  HeaderCache(const HeaderCache&) = delete;
  HeaderCache& operator=(const HeaderCache&) = delete;

  // Keeps `header` for `caller` under `header_id` (replacing what was there), evicting as the
  // class comment says. Returns false, keeping nothing, when the header alone is over
  // max_bytes_per_caller.
  bool Put(const std::string& caller, uint64_t header_id, lip::v1::LipPacket header);

  // The header `caller` put under `header_id`, or null. A hit counts as a use (LRU).
  std::shared_ptr<const lip::v1::LipPacket> Find(const std::string& caller, uint64_t header_id);

  // What the cache holds now: headers and their accounted bytes, over all callers.
  size_t size() const;
  size_t total_bytes() const;

  // The bytes a header is accounted at: its serialized size plus a fixed per-entry overhead.
  static size_t AccountedBytes(const lip::v1::LipPacket& header);

 private:
  struct Entry {
    uint64_t header_id;
    size_t bytes;
    std::shared_ptr<const lip::v1::LipPacket> header;
  };
  struct CallerHeaders {
    std::list<Entry> lru;  // front = most recently used
    std::map<uint64_t, std::list<Entry>::iterator> by_id;
    size_t bytes = 0;
    std::list<std::string>::iterator activity;  // this caller's place in callers_
  };
  // Drops the least recently used header of a caller (which must have one).
  void DropOldestLocked(CallerHeaders& headers);
  // DropOldestLocked, and removes the caller when it has no header left.
  void EvictOldestLocked(std::map<std::string, CallerHeaders>::iterator caller);
  void TouchCallerLocked(CallerHeaders& headers);

  const HeaderCacheOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, CallerHeaders> callers_by_name_;
  std::list<std::string> callers_;  // front = most recently active caller
  size_t total_bytes_ = 0;
  size_t size_ = 0;
};

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_HEADER_CACHE_H_
