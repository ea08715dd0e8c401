#include "bridge/tokenizer/bpe_model.h"

#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace lip {

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const nlohmann::json& spec) {
  auto model = std::unique_ptr<BpeModel>(new BpeModel());
  if (auto it = spec.find("dropout"); it != spec.end() && !it->is_null() && it->get<double>() > 0.0) {
    return absl::UnimplementedError(absl::StrCat("BPE model: dropout ", it->dump(), " is not supported"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (auto it = spec.find(key); it != spec.end() && it->is_string() && !it->get<std::string>().empty()) {
      return absl::UnimplementedError(
          absl::StrCat("BPE model: ", key, " = ", it->dump(), " is not supported (only empty or null)"));
    }
  }
  auto flag = [&](const char* key) {
    auto it = spec.find(key);
    return it != spec.end() && it->is_boolean() && it->get<bool>();
  };
  model->fuse_unk_ = flag("fuse_unk");
  model->byte_fallback_ = flag("byte_fallback");
  model->ignore_merges_ = flag("ignore_merges");

  auto vocab_it = spec.find("vocab");
  if (vocab_it == spec.end() || !vocab_it->is_object()) {
    return absl::InvalidArgumentError("BPE model: \"vocab\" is missing or not an object");
  }
  model->vocab_.reserve(vocab_it->size());
  int32_t max_id = -1;
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("BPE model: vocab entry \"", it.key(), "\" has id ", it.value().dump()));
    }
    const int32_t id = it.value().get<int32_t>();
    model->vocab_.emplace(it.key(), id);
    max_id = std::max(max_id, id);
  }
  model->id_to_token_.resize(max_id + 1);
  model->id_present_.assign(max_id + 1, false);
  for (const auto& [token, id] : model->vocab_) {
    model->id_to_token_[id] = token;
    model->id_present_[id] = true;
  }

  if (auto it = spec.find("unk_token"); it != spec.end() && it->is_string()) {
    auto id = model->TokenToId(it->get<std::string>());
    if (!id) {
      return absl::InvalidArgumentError(
          absl::StrCat("BPE model: unk_token ", it->dump(), " is not in the vocabulary"));
    }
    model->unk_id_ = *id;
  }
  for (int b = 0; b < 256; ++b) {
    model->byte_ids_[b] = model->TokenToId(absl::StrFormat("<0x%02X>", b)).value_or(-1);
  }

  auto merges_it = spec.find("merges");
  if (merges_it == spec.end() || !merges_it->is_array()) {
    return absl::InvalidArgumentError("BPE model: \"merges\" is missing or not an array");
  }
  model->merges_.reserve(merges_it->size());
  int32_t rank = 0;
  for (const auto& merge : *merges_it) {
    std::string left, right;
    if (merge.is_string()) {
      const std::string& line = merge.get_ref<const std::string&>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("BPE model: merge ", rank, " \"", line, "\" is not two tokens separated by one space"));
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat("BPE model: merge ", rank, " is ", merge.dump()));
    }
    auto left_id = model->TokenToId(left);
    auto right_id = model->TokenToId(right);
    auto merged_id = model->TokenToId(left + right);
    if (!left_id || !right_id || !merged_id) {
      return absl::InvalidArgumentError(absl::StrCat("BPE model: merge ", rank, " (\"", left, "\", \"", right,
                                                     "\") uses a token that is not in the vocabulary"));
    }
    // The first (lowest-rank) occurrence of a pair wins, as in tokenizers.
    model->merges_.try_emplace(PairKey(*left_id, *right_id), Merge{rank, *merged_id});
    ++rank;
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(absl::string_view(token.data(), token.size()));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(id_to_token_.size()) || !id_present_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const {
  bool previous_was_unk = false;
  size_t i = 0;
  while (i < word.size()) {
    const unsigned char b0 = static_cast<unsigned char>(word[i]);
    size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    n = std::min(n, word.size() - i);
    const std::string_view ch = word.substr(i, n);
    i += n;
    if (auto id = TokenToId(ch)) {
      symbols->push_back(*id);
      previous_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes = true;
      for (unsigned char b : ch) all_bytes = all_bytes && byte_ids_[b] >= 0;
      if (all_bytes) {
        for (unsigned char b : ch) symbols->push_back(byte_ids_[b]);
        previous_was_unk = false;
        continue;
      }
    }
    if (unk_id_) {
      if (!(fuse_unk_ && previous_was_unk)) symbols->push_back(*unk_id_);
      previous_was_unk = true;
    }
  }
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (word.size() > kMaxCachedWordBytes) {
    MergeWord(word, ids);
    return;
  }
  const absl::string_view key(word.data(), word.size());
  CacheShard& shard = cache_[absl::Hash<absl::string_view>()(key) % kCacheShards];
  {
    absl::MutexLock lock(&shard.mutex);
    auto it = shard.words.find(key);
    if (it != shard.words.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = ids->size();
  MergeWord(word, ids);
  absl::MutexLock lock(&shard.mutex);
  if (shard.words.size() >= kCacheShardCapacity) shard.words.clear();
  shard.words.try_emplace(std::string(word), ids->begin() + first, ids->end());
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>* ids) const {
  if (ignore_merges_) {
    if (auto id = TokenToId(word)) {
      ids->push_back(*id);
      return;
    }
  }
  std::vector<int32_t> symbol_ids;
  symbol_ids.reserve(word.size());
  InitialSymbols(word, &symbol_ids);
  const int n = static_cast<int>(symbol_ids.size());
  if (n <= 1) {
    ids->insert(ids->end(), symbol_ids.begin(), symbol_ids.end());
    return;
  }

  // Doubly linked list of symbols; merged-away symbols are marked dead.
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int k = 0; k < n; ++k) {
    prev[k] = k - 1;
    next[k] = k + 1 < n ? k + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    auto it = merges_.find(PairKey(symbol_ids[left], symbol_ids[right]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.merged_id});
  };
  for (int k = 0; k + 1 < n; ++k) consider(k);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    if (!alive[c.pos] || next[c.pos] < 0) continue;
    const int right = next[c.pos];
    auto it = merges_.find(PairKey(symbol_ids[c.pos], symbol_ids[right]));
    if (it == merges_.end() || it->second.merged_id != c.merged_id || it->second.rank != c.rank) continue;
    symbol_ids[c.pos] = c.merged_id;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[c.pos] >= 0) prev[next[c.pos]] = c.pos;
    if (prev[c.pos] >= 0) consider(prev[c.pos]);
    consider(c.pos);
  }
  for (int k = 0; k >= 0; k = next[k]) ids->push_back(symbol_ids[k]);
}

}  // namespace lip
