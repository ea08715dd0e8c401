// Passages for continuation bridges: plain text (one paragraph per line, the format of the
// ../shared/corpora files, optionally .xz-compressed) split into a prefix the sender reads and the
// continuation the receiver should produce. No LibTorch.
//
// A line becomes a passage when, after light clean-up (wikitext's " @-@ ", " @,@ ", " @.@ "
// joiners are undone), it is not a heading ("= Title =") and has at least prefix_words +
// min_continuation_words whitespace-separated words. prefix = its first prefix_words words joined
// by single spaces; continuation = " " + the rest (so that the receiver's first continuation token
// carries its leading space, as it would after the prefix).
//
// Thread-safety: plain functions; the result is immutable data.
#ifndef LIP_BRIDGE_TRAIN_PASSAGE_CORPUS_H_
#define LIP_BRIDGE_TRAIN_PASSAGE_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

struct Passage {
  std::string prefix;        // what the sender reads
  std::string continuation;  // what follows it, with its leading space
};

struct PassageOptions {
  int64_t prefix_words = 24;             // words the sender reads
  int64_t min_continuation_words = 24;   // the rest must have at least this many words
  int64_t limit = 0;                     // > 0: keep at most this many passages (see below)
  int64_t skip = 0;                      // passages skipped before any is kept
  // With a limit, passages are taken every `stride`-th eligible line (1 = consecutive), so that a
  // limited sample spreads over the file's articles instead of the first one.
  int64_t stride = 1;
};

// Reads `path` (plain UTF-8 text; a name ending in ".xz" is decompressed with `xz -dc`).
// NOT_FOUND when the file is missing; INVALID_ARGUMENT for a bad option; INTERNAL when xz fails.
// An empty result is INVALID_ARGUMENT ("no passage of at least N words in PATH").
absl::StatusOr<std::vector<Passage>> ReadPassages(const std::string& path, const PassageOptions& options);

// Splits one line as described above; false when it is not a passage.
bool SplitPassage(const std::string& line, const PassageOptions& options, Passage* passage);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_PASSAGE_CORPUS_H_
