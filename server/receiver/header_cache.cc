#include "server/receiver/header_cache.h"

#include <utility>

namespace lip {
namespace {

// Map nodes, list nodes and the shared pointer's control block, roughly.
constexpr size_t kEntryOverheadBytes = 128;

}  // namespace

HeaderCache::HeaderCache(HeaderCacheOptions options) : options_(options) {}

size_t HeaderCache::AccountedBytes(const lip::v1::LipPacket& header) {
  return header.ByteSizeLong() + kEntryOverheadBytes;
}

void HeaderCache::TouchCallerLocked(CallerHeaders& headers) {
  callers_.splice(callers_.begin(), callers_, headers.activity);
}

void HeaderCache::DropOldestLocked(CallerHeaders& headers) {
  const Entry& oldest = headers.lru.back();
  headers.bytes -= oldest.bytes;
  total_bytes_ -= oldest.bytes;
  --size_;
  headers.by_id.erase(oldest.header_id);
  headers.lru.pop_back();
}

void HeaderCache::EvictOldestLocked(std::map<std::string, CallerHeaders>::iterator caller) {
  CallerHeaders& headers = caller->second;
  DropOldestLocked(headers);
  if (headers.lru.empty()) {
    callers_.erase(headers.activity);
    callers_by_name_.erase(caller);
  }
}

bool HeaderCache::Put(const std::string& caller, uint64_t header_id, lip::v1::LipPacket header) {
  const size_t bytes = AccountedBytes(header);
  if (bytes > options_.max_bytes_per_caller || bytes > options_.max_total_bytes ||
      options_.max_headers_per_caller == 0) {
    return false;
  }
  auto shared = std::make_shared<const lip::v1::LipPacket>(std::move(header));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callers_by_name_.find(caller);
  if (it == callers_by_name_.end()) {
    callers_.push_front(caller);
    it = callers_by_name_.emplace(caller, CallerHeaders()).first;
    it->second.activity = callers_.begin();
  } else {
    TouchCallerLocked(it->second);
  }
  CallerHeaders& headers = it->second;
  if (auto old = headers.by_id.find(header_id); old != headers.by_id.end()) {
    headers.bytes -= old->second->bytes;
    total_bytes_ -= old->second->bytes;
    --size_;
    headers.lru.erase(old->second);
    headers.by_id.erase(old);
  }
  // Room within this caller's own budget first (the caller exists throughout: the new header is
  // not in yet, so an emptied caller is re-added below).
  while (!headers.lru.empty() && (headers.lru.size() + 1 > options_.max_headers_per_caller ||
                                  headers.bytes + bytes > options_.max_bytes_per_caller)) {
    DropOldestLocked(headers);
  }
  headers.lru.push_front(Entry{header_id, bytes, std::move(shared)});
  headers.by_id[header_id] = headers.lru.begin();
  headers.bytes += bytes;
  total_bytes_ += bytes;
  ++size_;
  // Then room over all callers: the least recently active caller gives up its oldest header
  // (this caller is the most recently active, so it goes last, and its new header stays).
  while (total_bytes_ > options_.max_total_bytes) {
    auto victim = callers_by_name_.find(callers_.back());
    EvictOldestLocked(victim);
  }
  return true;
}

std::shared_ptr<const lip::v1::LipPacket> HeaderCache::Find(const std::string& caller, uint64_t header_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callers_by_name_.find(caller);
  if (it == callers_by_name_.end()) return nullptr;
  CallerHeaders& headers = it->second;
  auto entry = headers.by_id.find(header_id);
  if (entry == headers.by_id.end()) return nullptr;
  headers.lru.splice(headers.lru.begin(), headers.lru, entry->second);
  TouchCallerLocked(headers);
  return entry->second->header;
}

size_t HeaderCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

size_t HeaderCache::total_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_bytes_;
}

}  // namespace lip
