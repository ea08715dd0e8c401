// HeaderCache (server/receiver/header_cache.h): per-caller keys, LRU within a caller's count and
// byte budgets, the total budget over callers, and headers staying valid after eviction.
#include "server/receiver/header_cache.h"

#include <string>

#include "gtest/gtest.h"

namespace lip {
namespace {

lip::v1::LipPacket Header(const std::string& bridge, size_t label_bytes = 8) {
  lip::v1::LipPacket header;
  header.mutable_bridge()->set_name(bridge);
  header.mutable_task()->mutable_classify()->add_labels(std::string(label_bytes, 'x'));
  return header;
}

TEST(HeaderCacheTest, FindsWhatTheSameCallerPut) {
  HeaderCache cache;
  EXPECT_TRUE(cache.Put("alice", 1, Header("a")));
  ASSERT_NE(cache.Find("alice", 1), nullptr);
  EXPECT_EQ(cache.Find("alice", 1)->bridge().name(), "a");
  EXPECT_EQ(cache.Find("alice", 2), nullptr);
  EXPECT_EQ(cache.Find("bob", 1), nullptr) << "another caller's header is not reachable by its id";
  EXPECT_TRUE(cache.Put("bob", 1, Header("b")));
  EXPECT_EQ(cache.Find("alice", 1)->bridge().name(), "a") << "bob's id 1 did not replace alice's";
  EXPECT_EQ(cache.Find("bob", 1)->bridge().name(), "b");
  EXPECT_EQ(cache.size(), 2u);
}

TEST(HeaderCacheTest, PutReplacesTheSameId) {
  HeaderCache cache;
  cache.Put("alice", 1, Header("a"));
  cache.Put("alice", 1, Header("a2"));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("alice", 1)->bridge().name(), "a2");
  EXPECT_EQ(cache.total_bytes(), HeaderCache::AccountedBytes(Header("a2")));
}

TEST(HeaderCacheTest, CallerCountBudgetEvictsLeastRecentlyUsed) {
  HeaderCacheOptions options;
  options.max_headers_per_caller = 2;
  HeaderCache cache(options);
  cache.Put("alice", 1, Header("a"));
  cache.Put("alice", 2, Header("b"));
  ASSERT_NE(cache.Find("alice", 1), nullptr);  // 1 is now more recent than 2
  cache.Put("alice", 3, Header("c"));
  EXPECT_NE(cache.Find("alice", 1), nullptr);
  EXPECT_EQ(cache.Find("alice", 2), nullptr);
  EXPECT_NE(cache.Find("alice", 3), nullptr);
  cache.Put("bob", 1, Header("x"));
  cache.Put("bob", 2, Header("y"));
  EXPECT_EQ(cache.size(), 4u) << "bob's headers do not count against alice's budget";
}

TEST(HeaderCacheTest, CallerByteBudgetBoundsOneCaller) {
  HeaderCacheOptions options;
  options.max_bytes_per_caller = 3 * HeaderCache::AccountedBytes(Header("a", 100));
  HeaderCache cache(options);
  for (uint64_t id = 1; id <= 10; ++id) EXPECT_TRUE(cache.Put("alice", id, Header("a", 100)));
  EXPECT_LE(cache.total_bytes(), options.max_bytes_per_caller);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_NE(cache.Find("alice", 10), nullptr);
  EXPECT_EQ(cache.Find("alice", 7), nullptr);
  EXPECT_FALSE(cache.Put("alice", 11, Header("huge", 10000))) << "larger than the caller's budget";
  EXPECT_EQ(cache.Find("alice", 11), nullptr);
  EXPECT_EQ(cache.size(), 3u) << "a refused header evicts nothing";
}

TEST(HeaderCacheTest, TotalBudgetTakesFromTheLeastRecentlyActiveCaller) {
  const size_t one = HeaderCache::AccountedBytes(Header("a", 100));
  HeaderCacheOptions options;
  options.max_total_bytes = 4 * one;
  HeaderCache cache(options);
  cache.Put("alice", 1, Header("a", 100));
  cache.Put("alice", 2, Header("a", 100));
  cache.Put("bob", 1, Header("b", 100));
  cache.Put("bob", 2, Header("b", 100));
  ASSERT_NE(cache.Find("alice", 2), nullptr);  // alice is now the most recently active
  cache.Put("carol", 1, Header("c", 100));
  EXPECT_LE(cache.total_bytes(), options.max_total_bytes);
  EXPECT_EQ(cache.Find("bob", 1), nullptr) << "bob was least recently active: his oldest header went";
  EXPECT_NE(cache.Find("bob", 2), nullptr);
  EXPECT_NE(cache.Find("alice", 1), nullptr);
  EXPECT_NE(cache.Find("carol", 1), nullptr);
  // A flood from one caller cannot grow the cache past the total either.
  for (uint64_t id = 10; id < 100; ++id) cache.Put("mallory", id, Header("m", 100));
  EXPECT_LE(cache.total_bytes(), options.max_total_bytes);
}

TEST(HeaderCacheTest, AHeaderInUseSurvivesItsEviction) {
  HeaderCacheOptions options;
  options.max_headers_per_caller = 1;
  HeaderCache cache(options);
  cache.Put("alice", 1, Header("a"));
  std::shared_ptr<const lip::v1::LipPacket> held = cache.Find("alice", 1);
  cache.Put("alice", 2, Header("b"));
  EXPECT_EQ(cache.Find("alice", 1), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->bridge().name(), "a");
}

}  // namespace
}  // namespace lip
