// tokenizer.model through libsentencepiece, which LIP reaches only through the dlopen()ed shim
// (bridge/tokenizer/sentencepiece_library.h): where the shim is looked for, the errors when it is
// missing or wrong, malformed models, and — with the real files of ../shared — ids equal to the
// tokenizer.json pipeline in a process that also runs the system libprotobuf (this binary uses the
// lip.v1 messages before and after libsentencepiece and its bundled protobuf are loaded).
#include <link.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bridge/tokenizer/sentencepiece_library.h"
#include "bridge/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lip/v1/packet.pb.h"
#include "tests/tokenizer/golden_file.h"

namespace lip {
namespace {

using ::testing::HasSubstr;

const std::string kShared = LIP_SOURCE_DIR "/../shared";

#define SKIP_WITHOUT_SHIM()                                                                                  \
  if (!kBuiltWithShim) {                                                                                     \
    GTEST_SKIP() << "SKIPPED: this build has no lip_sentencepiece_shim (libsentencepiece-dev was not found " \
                 << "at configure time), so tokenizer.model is NOT checked";                                 \
  }                                                                                                          \
  if (kUnderAddressSanitizer) {                                                                              \
    GTEST_SKIP() << "SKIPPED: AddressSanitizer build (deploy/sanitize.sh): the shim needs RTLD_DEEPBIND, "   \
                 << "which the sanitizer runtime refuses, so tokenizer.model is NOT checked here";          \
  }
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAddressSanitizer = true;
#else
constexpr bool kUnderAddressSanitizer = false;
#endif
#else
constexpr bool kUnderAddressSanitizer = false;
#endif
#ifdef LIP_HAVE_SENTENCEPIECE_SHIM
constexpr bool kBuiltWithShim = true;
#else
constexpr bool kBuiltWithShim = false;
#endif

// Sets an environment variable for one scope and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_.empty() ? unsetenv(name_) : setenv(name_, old_.c_str(), 1); }

 private:
  const char* name_;
  std::string old_;
};

// File names of every object mapped into this process.
std::vector<std::string> LoadedObjects() {
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        static_cast<std::vector<std::string>*>(out)->push_back(info->dlpi_name ? info->dlpi_name : "");
        return 0;
      },
      &names);
  return names;
}

bool IsLoaded(const std::string& file_name_part) {
  for (const std::string& name : LoadedObjects()) {
    if (std::filesystem::path(name).filename().string().find(file_name_part) != std::string::npos) return true;
  }
  return false;
}

// A lip.v1 message through the system libprotobuf: serialize, parse back, compare.
void ExpectSystemProtobufWorks() {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  lip::v1::ModelId id;
  id.set_family("llama");
  id.set_name("lip-demo/sender-llama");
  lip::v1::ModelId back;
  ASSERT_TRUE(back.ParseFromString(id.SerializeAsString()));
  EXPECT_EQ(back.name(), "lip-demo/sender-llama");
  EXPECT_EQ(back.family(), "llama");
}

TEST(SentencePieceLibraryTest, EnvironmentVariableReplacesTheSearch) {
  {
    ScopedEnv env(kSentencePieceShimEnvVar, "/opt/elsewhere/libshim.so");
    EXPECT_EQ(SentencePieceLibrary::CandidatePaths(), std::vector<std::string>{"/opt/elsewhere/libshim.so"});
  }
  ScopedEnv env(kSentencePieceShimEnvVar, nullptr);
  const std::vector<std::string> paths = SentencePieceLibrary::CandidatePaths();
  ASSERT_GE(paths.size(), 2u);
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  EXPECT_EQ(paths.front(), (exe.parent_path() / kSentencePieceShimFileName).string());
  EXPECT_EQ(paths.back(), kSentencePieceShimFileName);  // the dynamic loader's own search comes last
}

TEST(SentencePieceLibraryTest, MissingOrWrongShimIsAClearError) {
  if (kUnderAddressSanitizer) {
    GTEST_SKIP() << "SKIPPED: AddressSanitizer build: every shim is refused with one message, checked by "
                 << "the library itself (sentencepiece_library.cc), so the search messages are NOT checked";
  }
  const std::string missing = (std::filesystem::temp_directory_path() / "lip-no-such-dir" /
                               kSentencePieceShimFileName).string();
  auto library = SentencePieceLibrary::OpenFirst({missing, "libm.so.6"});
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(library.status().message());
  EXPECT_THAT(message, HasSubstr(missing));
  EXPECT_THAT(message, HasSubstr("; libm.so.6 is not a LIP sentencepiece shim: it lacks lip_sp_abi_version"));
  EXPECT_THAT(message, HasSubstr(kSentencePieceShimEnvVar));
  EXPECT_THAT(message, HasSubstr("tokenizer.json"));
}

TEST(SentencePieceTokenizerTest, MissingOrMalformedModelIsRefused) {
  SKIP_WITHOUT_SHIM();
  const auto dir = std::filesystem::temp_directory_path() / "lip_sentencepiece_malformed_test";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(Tokenizer::FromSentencePieceModel((dir / "absent.model").string()).status().code(),
            absl::StatusCode::kNotFound);
  std::ofstream(dir / "tokenizer.model") << "this is not a serialized ModelProto";
  auto t = Tokenizer::FromSentencePieceModel((dir / "tokenizer.model").string());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  EXPECT_THAT(std::string(t.status().message()), HasSubstr((dir / "tokenizer.model").string()));
  std::filesystem::remove_all(dir);
}

TEST(SentencePieceTokenizerTest, ShimLoadsFromTheBuildTree) {
  SKIP_WITHOUT_SHIM();
  ScopedEnv env(kSentencePieceShimEnvVar, nullptr);
  auto library = SentencePieceLibrary::Get();
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ((*library)->abi_version(), LIP_SP_SHIM_ABI_VERSION);
  EXPECT_TRUE(IsLoaded("libsentencepiece.so"));
  ExpectSystemProtobufWorks();
}

TEST(RealSentencePieceTest, AgreesWithTokenizerJsonNextToSystemProtobuf) {
  SKIP_WITHOUT_SHIM();
  if (!std::filesystem::exists(kShared + "/models")) {
    GTEST_SKIP() << "SKIPPED: " << kShared << "/models not found (../shared beside the repository is absent); "
                 << "tokenizer.model parity with tokenizer.json is NOT checked";
  }
  ExpectSystemProtobufWorks();
  EXPECT_TRUE(IsLoaded("libprotobuf.so"));  // the system runtime, 3.21, is in this process
  for (const char* model : {"TinyLlama--TinyLlama-1.1B-Chat-v1.0", "mistralai--Mistral-7B-v0.1"}) {
    const std::string dir = kShared + "/models/" + model;
    auto sp = Tokenizer::FromSentencePieceModel(dir + "/tokenizer.model");
    ASSERT_TRUE(sp.ok()) << sp.status();
    auto json = Tokenizer::FromTokenizerJson(dir + "/tokenizer.json");
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_EQ((*sp)->vocab_size(), (*json)->vocab_size());
    EXPECT_EQ((*sp)->bos_id(), 1);
    EXPECT_EQ((*sp)->eos_ids(), std::vector<int32_t>{2});
    for (const char* set : {"sst2", "trec"}) {
      const std::vector<std::string> texts = ReadDatasetTexts(kShared + "/data/" + set + "/test.jsonl");
      ASSERT_FALSE(texts.empty()) << set;
      for (const std::string& text : texts) {
        auto a = (*sp)->Encode(text);
        auto b = (*json)->Encode(text);
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_EQ(*a, *b) << model << ": " << text;
        auto back = (*sp)->Decode(*a);
        ASSERT_TRUE(back.ok()) << back.status();
        EXPECT_EQ(*back, text) << model;
      }
    }
    std::vector<int32_t> hello = *(*json)->Encode("Hello");  // <s> ▁Hello
    hello.push_back(2);
    EXPECT_EQ(*(*sp)->Decode(hello, false), "<s>Hello</s>");
    EXPECT_EQ(*(*sp)->Decode(hello, true), "Hello");
    EXPECT_FALSE((*sp)->Decode({(*sp)->vocab_size()}).ok());
    EXPECT_EQ((*sp)->TokenToId("<unk>"), 0);
    EXPECT_EQ((*sp)->TokenToId("no such piece"), std::nullopt);
    EXPECT_EQ((*sp)->IdToToken(1), "<s>");
    EXPECT_EQ((*sp)->IdToToken(-1), std::nullopt);
    EXPECT_EQ((*sp)->IdToToken((*sp)->vocab_size()), std::nullopt);
  }
  EXPECT_TRUE(IsLoaded("libsentencepiece.so"));
  ExpectSystemProtobufWorks();  // both protobuf runtimes in one process, each bound to its own copy
}

// A folder with only tokenizer.model (no tokenizer.json) goes through the shim, side files included.
TEST(RealSentencePieceTest, DirectoryWithOnlyTokenizerModel) {
  SKIP_WITHOUT_SHIM();
  const std::string source = kShared + "/models/mistralai--Mistral-7B-v0.1";
  if (!std::filesystem::exists(source + "/tokenizer.model")) {
    GTEST_SKIP() << "SKIPPED: " << source << "/tokenizer.model not found (../shared absent)";
  }
  const auto dir = std::filesystem::temp_directory_path() / "lip_sentencepiece_only_model_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* file : {"tokenizer.model", "tokenizer_config.json", "generation_config.json"}) {
    std::filesystem::copy_file(source + "/" + file, dir / file);
  }
  auto t = Tokenizer::FromDirectory(dir.string());
  auto json = Tokenizer::FromDirectory(source);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*t)->bos_id(), (*json)->bos_id());
  EXPECT_EQ((*t)->eos_ids(), (*json)->eos_ids());
  const std::vector<std::string> texts = ReadDatasetTexts(kShared + "/data/trec/test.jsonl");
  ASSERT_FALSE(texts.empty());
  // Concurrent use: four threads encode every text; each must match tokenizer.json.
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (const std::string& text : texts) {
        auto a = (*t)->Encode(text);
        auto b = (*json)->Encode(text);
        if (!a.ok() || !b.ok() || *a != *b) ++mismatches[k];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lip
