// SentencePieceLibrary: liblip_sentencepiece_shim.so, loaded in isolation, as a table of its C functions.
//
// libsentencepiece must not share a symbol scope with the system libprotobuf (see
// sentencepiece_shim/sentencepiece_shim.h), so no LIP target links it: the shim that does is
// dlopen()ed here with RTLD_LOCAL | RTLD_DEEPBIND on first use of a tokenizer.model.
//
// Where the shim is looked for, in order (CandidatePaths):
//   1. $LIP_SENTENCEPIECE_SHIM, if set and non-empty (then nothing else is tried);
//   2. liblip_sentencepiece_shim.so beside the running executable;
//   3. the path CMake built it at (LIP_SENTENCEPIECE_SHIM_BUILD_PATH), for binaries and CTest in the
//      build tree;
//   4. the bare file name, through the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache).
// A shim is never unloaded. Thread-safety: Get() may be called concurrently; the table is immutable.
#ifndef LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_LIBRARY_H_
#define LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_LIBRARY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/tokenizer/sentencepiece_shim/sentencepiece_shim.h"

namespace lip {

// File name of the shim and the environment variable that overrides where it is.
extern const char kSentencePieceShimFileName[];
extern const char kSentencePieceShimEnvVar[];

struct SentencePieceLibrary {
  // The process-wide shim, loaded on first call from the first of CandidatePaths() that loads.
  // FAILED_PRECONDITION listing every path tried and why it failed (a failure is not cached).
  static absl::StatusOr<const SentencePieceLibrary*> Get();

  // Loads the shim at exactly `path`. FAILED_PRECONDITION (its message naming `path`) if it cannot be
  // dlopen()ed, lacks one of the functions below, or reports another ABI version; UNIMPLEMENTED in
  // builds with AddressSanitizer, whose runtime refuses RTLD_DEEPBIND.
  static absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> Open(const std::string& path);

  // Where Get() looks, in order (see the comment at the top).
  static std::vector<std::string> CandidatePaths();

  // Open() on each path in turn; the first that loads, or FAILED_PRECONDITION listing every path and
  // why it failed, saying how to point LIP at the shim. Get() is OpenFirst(CandidatePaths()), cached.
  static absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> OpenFirst(const std::vector<std::string>& paths);

  std::string path;  // the file that was loaded

  // The functions of sentencepiece_shim.h.
  decltype(&lip_sp_abi_version) abi_version = nullptr;
  decltype(&lip_sp_load) load = nullptr;
  decltype(&lip_sp_free_model) free_model = nullptr;
  decltype(&lip_sp_encode) encode = nullptr;
  decltype(&lip_sp_decode) decode = nullptr;
  decltype(&lip_sp_piece_size) piece_size = nullptr;
  decltype(&lip_sp_bos_id) bos_id = nullptr;
  decltype(&lip_sp_eos_id) eos_id = nullptr;
  decltype(&lip_sp_unk_id) unk_id = nullptr;
  decltype(&lip_sp_is_control) is_control = nullptr;
  decltype(&lip_sp_id_to_piece) id_to_piece = nullptr;
  decltype(&lip_sp_piece_to_id) piece_to_id = nullptr;
  decltype(&lip_sp_free) free = nullptr;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_LIBRARY_H_
