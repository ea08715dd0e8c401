#include "bridge/train/passage_corpus.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace lip {
namespace {

// Calls `line_fn` for every line of `path` until it returns false.
template <typename LineFn>
absl::Status ForEachLine(const std::string& path, LineFn line_fn) {
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  if (!absl::EndsWith(path, ".xz")) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    std::string line;
    while (std::getline(in, line)) {
      if (!line_fn(line)) break;
    }
    return absl::OkStatus();
  }
  if (path.find('\'') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("path with a quote character: ", path));
  }
  const std::string command = absl::StrCat("xz -dc -- '", path, "' 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run xz for ", path));
  std::string line;
  char buffer[1 << 16];
  bool stopped = false;
  while (!stopped && std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    line += buffer;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      stopped = !line_fn(line);
      line.clear();
    }
  }
  if (!stopped && !line.empty()) line_fn(line);
  const int rc = pclose(pipe);
  // Stopping early closes the pipe under xz (SIGPIPE): only a full read must succeed.
  if (!stopped && rc != 0) return absl::InternalError(absl::StrCat("xz -dc ", path, " failed (status ", rc, ")"));
  return absl::OkStatus();
}

}  // namespace

bool SplitPassage(const std::string& raw, const PassageOptions& options, Passage* passage) {
  const std::string line = absl::StrReplaceAll(raw, {{" @-@ ", "-"}, {" @,@ ", ","}, {" @.@ ", "."}});
  std::vector<absl::string_view> words = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
  if (words.empty() || words.front().front() == '=') return false;
  if (int64_t(words.size()) < options.prefix_words + options.min_continuation_words) return false;
  passage->prefix = absl::StrJoin(words.begin(), words.begin() + options.prefix_words, " ");
  passage->continuation = absl::StrCat(" ", absl::StrJoin(words.begin() + options.prefix_words, words.end(), " "));
  return true;
}

absl::StatusOr<std::vector<Passage>> ReadPassages(const std::string& path, const PassageOptions& options) {
  if (options.prefix_words < 1 || options.min_continuation_words < 1 || options.stride < 1 || options.limit < 0 ||
      options.skip < 0) {
    return absl::InvalidArgumentError("passage options: prefix_words, min_continuation_words and stride must be "
                                      ">= 1, limit and skip >= 0");
  }
  std::vector<Passage> passages;
  int64_t eligible = 0;
  absl::Status status = ForEachLine(path, [&](const std::string& line) {
    Passage passage;
    if (!SplitPassage(line, options, &passage)) return true;
    const int64_t index = eligible++;
    if (index < options.skip || (index - options.skip) % options.stride != 0) return true;
    passages.push_back(std::move(passage));
    return options.limit == 0 || int64_t(passages.size()) < options.limit;
  });
  if (!status.ok()) return status;
  if (passages.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no passage of at least ",
                                                   options.prefix_words + options.min_continuation_words,
                                                   " words in ", path));
  }
  return passages;
}

}  // namespace lip
