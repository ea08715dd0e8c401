/* The C ABI of liblip_sentencepiece_shim.so, the only LIP object that links libsentencepiece.
 *
 * Why a shared library with a C ABI: Debian's libsentencepiece.so.0 carries its own copy of
 * protobuf-lite 3.14 and exports its symbols; every LIP binary also uses the system libprotobuf 3.21.
 * Linked into one binary, the two copies bind to each other's symbols (sentencepiece's version check
 * then fails, or libprotobuf's start-up crashes). So nothing links libsentencepiece directly: the
 * tokenizer dlopen()s this shim with RTLD_LOCAL | RTLD_DEEPBIND (bridge/tokenizer/sentencepiece_library.h),
 * which makes the shim and libsentencepiece resolve protobuf symbols to sentencepiece's own copy and
 * keeps that copy out of the process's global scope. Only plain C types cross this boundary.
 *
 * Conventions: functions that can fail return 0 on success and nonzero on failure, with a message in
 * *error (NUL-terminated, malloc'd here; may be NULL if even that allocation failed). Every buffer the
 * shim returns (ids, text, pieces, errors) is released with lip_sp_free. No C++ exception escapes.
 * A model is immutable after lip_sp_load; all functions taking a const model may run concurrently.
 * Ids outside [0, lip_sp_piece_size) are refused, never passed on to libsentencepiece.
 */
#ifndef LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_SHIM_SENTENCEPIECE_SHIM_H_
#define LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_SHIM_SENTENCEPIECE_SHIM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change below; the loader refuses a shim that reports another version. */
#define LIP_SP_SHIM_ABI_VERSION 1

typedef struct LipSpModel LipSpModel;

int lip_sp_abi_version(void);

/* Parses the bytes of a tokenizer.model (a serialized sentencepiece ModelProto). NULL on failure. */
LipSpModel* lip_sp_load(const char* data, size_t size, char** error);
void lip_sp_free_model(LipSpModel* model);

/* UTF-8 text -> piece ids (no BOS/EOS added). *ids is malloc'd (may be NULL when *num_ids is 0). */
int lip_sp_encode(const LipSpModel* model, const char* text, size_t text_size, int32_t** ids, size_t* num_ids,
                  char** error);
/* Piece ids -> UTF-8 text, as SentencePieceProcessor::Decode. *text is malloc'd and NUL-terminated. */
int lip_sp_decode(const LipSpModel* model, const int32_t* ids, size_t num_ids, char** text, size_t* text_size,
                  char** error);

int32_t lip_sp_piece_size(const LipSpModel* model);
int32_t lip_sp_bos_id(const LipSpModel* model); /* -1 when the model has none */
int32_t lip_sp_eos_id(const LipSpModel* model); /* -1 when the model has none */
int32_t lip_sp_unk_id(const LipSpModel* model);
/* 1 if `id` is a control symbol (<s>, </s>), 0 if not or out of range. */
int lip_sp_is_control(const LipSpModel* model, int32_t id);
/* The piece text of `id` (malloc'd, NUL-terminated), or NULL when `id` is out of range. */
char* lip_sp_id_to_piece(const LipSpModel* model, int32_t id, size_t* piece_size);
/* The id of a piece, or -1 when the vocabulary has no such piece (unlike libsentencepiece, not unk). */
int32_t lip_sp_piece_to_id(const LipSpModel* model, const char* piece, size_t piece_size);

void lip_sp_free(void* buffer);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif /* LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_SHIM_SENTENCEPIECE_SHIM_H_ */
