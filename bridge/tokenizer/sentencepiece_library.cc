#include "bridge/tokenizer/sentencepiece_library.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if defined(__SANITIZE_ADDRESS__)
#define LIP_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LIP_UNDER_ASAN 1
#endif
#endif

namespace lip {

const char kSentencePieceShimFileName[] = "liblip_sentencepiece_shim.so";
const char kSentencePieceShimEnvVar[] = "LIP_SENTENCEPIECE_SHIM";

namespace {

template <typename Function>
bool Resolve(void* handle, const char* name, Function* function, std::vector<std::string>* missing) {
  *function = reinterpret_cast<Function>(dlsym(handle, name));
  if (*function == nullptr) missing->push_back(name);
  return *function != nullptr;
}

}  // namespace

std::vector<std::string> SentencePieceLibrary::CandidatePaths() {
  const char* env = std::getenv(kSentencePieceShimEnvVar);
  if (env != nullptr && env[0] != '\0') return {env};
  std::vector<std::string> paths;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.has_parent_path()) paths.push_back((exe.parent_path() / kSentencePieceShimFileName).string());
#ifdef LIP_SENTENCEPIECE_SHIM_BUILD_PATH
  if (std::find(paths.begin(), paths.end(), LIP_SENTENCEPIECE_SHIM_BUILD_PATH) == paths.end()) {
    paths.push_back(LIP_SENTENCEPIECE_SHIM_BUILD_PATH);
  }
#endif
  paths.push_back(kSentencePieceShimFileName);
  return paths;
}

absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> SentencePieceLibrary::Open(const std::string& path) {
#ifdef LIP_UNDER_ASAN
  return absl::UnimplementedError(absl::StrCat(
      "tokenizer.model cannot be read in an AddressSanitizer build: ", path,
      " must be loaded with RTLD_DEEPBIND, which the sanitizer runtime refuses; use the model's tokenizer.json"));
#else
  // RTLD_LOCAL keeps the shim's symbols (and libsentencepiece's protobuf copy) out of the global
  // scope; RTLD_DEEPBIND makes the shim and libsentencepiece look in their own objects before the
  // global scope, so their protobuf references stay inside libsentencepiece.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (handle == nullptr) {
    const char* why = dlerror();
    std::string message = why != nullptr ? why : "dlopen failed";
    if (message.find(path) == std::string::npos) message = absl::StrCat(path, ": ", message);
    return absl::FailedPreconditionError(message);
  }
  auto library = std::make_unique<SentencePieceLibrary>();
  library->path = path;
  std::vector<std::string> missing;
  Resolve(handle, "lip_sp_abi_version", &library->abi_version, &missing);
  Resolve(handle, "lip_sp_load", &library->load, &missing);
  Resolve(handle, "lip_sp_free_model", &library->free_model, &missing);
  Resolve(handle, "lip_sp_encode", &library->encode, &missing);
  Resolve(handle, "lip_sp_decode", &library->decode, &missing);
  Resolve(handle, "lip_sp_piece_size", &library->piece_size, &missing);
  Resolve(handle, "lip_sp_bos_id", &library->bos_id, &missing);
  Resolve(handle, "lip_sp_eos_id", &library->eos_id, &missing);
  Resolve(handle, "lip_sp_unk_id", &library->unk_id, &missing);
  Resolve(handle, "lip_sp_is_control", &library->is_control, &missing);
  Resolve(handle, "lip_sp_id_to_piece", &library->id_to_piece, &missing);
  Resolve(handle, "lip_sp_piece_to_id", &library->piece_to_id, &missing);
  Resolve(handle, "lip_sp_free", &library->free, &missing);
  // The handle is not closed on failure either: whatever it loaded may already be in use elsewhere.
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a LIP sentencepiece shim: it lacks ", absl::StrJoin(missing, ", ")));
  }
  if (library->abi_version() != LIP_SP_SHIM_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat(path, " has shim ABI version ", library->abi_version(),
                                                      ", this build needs ", LIP_SP_SHIM_ABI_VERSION));
  }
  return library;
#endif
}

absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> SentencePieceLibrary::OpenFirst(
    const std::vector<std::string>& paths) {
  std::vector<std::string> failures;
  for (const std::string& path : paths) {
    auto library = Open(path);
    if (library.ok() || library.status().code() == absl::StatusCode::kUnimplemented) return library;
    failures.push_back(std::string(library.status().message()));  // each names its path
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "reading a tokenizer.model needs ", kSentencePieceShimFileName,
      " (CMake target lip_sentencepiece_shim, built beside the LIP binaries), and none could be loaded; tried ",
      absl::StrJoin(failures, "; "), ". Set ", kSentencePieceShimEnvVar,
      " to the shim's path, or use the model's tokenizer.json"));
}

absl::StatusOr<const SentencePieceLibrary*> SentencePieceLibrary::Get() {
  static std::mutex mutex;
  static const SentencePieceLibrary* loaded = nullptr;  // never freed, like the shim itself
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded == nullptr) {
    auto library = OpenFirst(CandidatePaths());
    if (!library.ok()) return library.status();
    loaded = library->release();
  }
  return loaded;
}

}  // namespace lip
