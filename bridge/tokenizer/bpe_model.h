// BpeModel: the "BPE" model of a tokenizer.json — turns one pre-tokenized word into token ids by
// applying merges in rank order (lowest rank first, leftmost first among equal ranks), as
// `tokenizers` does.
//
// Options honoured: vocab, merges (both the "a b" string and the ["a","b"] pair forms), unk_token,
// fuse_unk, byte_fallback (<0xXX> tokens for characters outside the vocabulary), ignore_merges
// (a word that is itself in the vocabulary is one token: Llama-3). Refused with UNIMPLEMENTED:
// dropout > 0, non-empty continuing_subword_prefix / end_of_word_suffix. A merge naming a token
// that is not in the vocabulary is INVALID_ARGUMENT. Characters that are neither in the vocabulary,
// nor byte-fallback-able, nor covered by an unk token are dropped, exactly as `tokenizers` does.
// Memory: O(vocab + merges) plus a bounded cache of recent words; merging a word of n symbols is
// O(n log n). Thread-safe: the vocabulary is immutable after construction and the word cache is
// sharded behind mutexes.
#ifndef LIP_BRIDGE_TOKENIZER_BPE_MODEL_H_
#define LIP_BRIDGE_TOKENIZER_BPE_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

class BpeModel {
 public:
  // Builds the model from a tokenizer.json "model" object of type BPE.
  static absl::StatusOr<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& spec);

  // Appends the ids of `word` (valid UTF-8, already pre-tokenized) to `ids`.
  void Tokenize(std::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token of `id`, or nullptr if the vocabulary has no such id. Owned by the model.
  const std::string* IdToToken(int32_t id) const;
  // Number of entries in the vocabulary.
  int32_t size() const { return static_cast<int32_t>(vocab_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  // The initial symbols of `word`: one per character, byte-fallback or unk as configured.
  void InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const;
  // Tokenize without the cache.
  void MergeWord(std::string_view word, std::vector<int32_t>* ids) const;

  // Words up to kMaxCachedWordBytes; a shard that reaches kCacheShardCapacity is emptied.
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheShardCapacity = 4096;
  static constexpr size_t kMaxCachedWordBytes = 64;
  struct CacheShard {
    absl::Mutex mutex;
    absl::flat_hash_map<std::string, std::vector<int32_t>> words ABSL_GUARDED_BY(mutex);
  };
  mutable std::unique_ptr<CacheShard[]> cache_ = std::make_unique<CacheShard[]>(kCacheShards);

  absl::flat_hash_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;      // "" where an id is unused
  std::vector<bool> id_present_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int32_t byte_ids_[256];                    // <0xXX> ids for byte_fallback, -1 if missing
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_BPE_MODEL_H_
