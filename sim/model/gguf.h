/* gguf.h: llama.cpp's quantization recipes. A GGUF file type (Q4_K_M, Q3_K_S, ...) is not one
 * tensor type: llama-quantize picks a type per tensor from its class, its layer and the model
 * (llama_tensor_get_type_impl in src/llama-quant.cpp). This module walks a card's weight
 * matrices through that choice and answers, per tensor class, how many elements each tensor
 * type holds: the bytes a deployment stores and streams, and the unpacking work per type. */
#ifndef MOESIM_GGUF_H
#define MOESIM_GGUF_H

#include "model/model.h"
#include "model/precision.h"

/* The classes the step model and memory fit cost separately. */
typedef enum {
    SIM_WCLASS_ATTN,       /* attention projections, all layers */
    SIM_WCLASS_DENSE_FFN,  /* dense FFN layers */
    SIM_WCLASS_EXPERTS,    /* routed experts */
    SIM_WCLASS_SHARED,     /* shared experts */
    SIM_WCLASS_EMBED,      /* input embedding (absent when tied: the head is the same matrix) */
    SIM_WCLASS_HEAD,       /* LM head */
    SIM_WCLASS_COUNT
} sim_wclass;

/* Matrix elements of one class by stored type. */
typedef struct sim_wmix {
    double elems[SIM_WF_COUNT];
    double total;
    double bytes;   /* > 0: the class's stored bytes as a user stated them (a custom file's size,
                       sim_gguf_fit_file), used instead of what its types add up to; the types still
                       say how the class is unpacked and computed */
} sim_wmix;

/* One format for every element. */
void sim_wmix_single(sim_wmix *w, sim_wformat f, double elems);
/* Mean bytes per element (the stated bytes over the elements when `bytes` is set); `empty`'s when
 * the class holds nothing. */
double sim_wmix_bytes(const sim_wmix *w, sim_wformat empty);
/* The type holding the most elements (`empty` when none). */
sim_wformat sim_wmix_main(const sim_wmix *w, sim_wformat empty);

/* The GGUF file type a GGUF name given as a precision means: a file type's own, and for the
 * tensor types llama-quantize does not name as files, its aliases (q3_k, q4_k, q5_k: the _M
 * files). Non-GGUF formats answer themselves. */
sim_wformat sim_gguf_ftype(sim_wformat f);

/* Every weight matrix of `m` as llama-quantize makes file type `ftype` (a GGUF name), class by
 * class. Assumptions, stated because the recipe reads them: an importance matrix was used for
 * the IQ types (llama-quantize requires one for IQ2_*, IQ3_XXS; published IQ4_XS files are made
 * with one) and not for the K-quants and legacy types; a dense GQA model of 80 layers is
 * llama.cpp's "70B" type. */
void sim_gguf_mix(const sim_model *m, sim_wformat ftype, sim_wmix out[SIM_WCLASS_COUNT]);

/* Tensor data bytes of the whole file (what llama-bench prints as size): the matrices by the
 * recipe, and every other parameter (norms, biases, the router) in F32 as the converter keeps
 * them. */
double sim_gguf_file_bytes(const sim_model *m, sim_wformat ftype);

/* The smallest bits per weight of any GGUF tensor type llama.cpp defines: IQ1_S, 50 bytes per
 * 256 weights (block_iq1_s in ggml/src/ggml-common.h: QK_K/8 qs + QK_K/16 qh + a 2-byte scale).
 * A stated file that leaves its routed experts fewer bits than this is not a GGUF file. */
#define SIM_GGUF_MIN_BPW 1.5625

/* A GGUF file whose size is known (llama-bench's "size", or bits per weight times the
 * parameters) but whose per-tensor types are not: a custom mix such as ByteShape's ShapeLearn
 * files, which pick a GGUF type per tensor. `w` holds the recipe's mix (sim_deploy_weight_mix);
 * the routed experts absorb the difference between the recipe's file and `file_bytes`, and every
 * other class keeps the recipe's types. Sets w[SIM_WCLASS_EXPERTS].bytes and returns the routed
 * experts' bits per weight, or a negative number when the model has no routed experts; the caller
 * judges the range (SIM_GGUF_MIN_BPW .. 32). The non-matrix parameters count as F32, as in
 * sim_gguf_file_bytes. */
double sim_gguf_fit_file(const sim_model *m, sim_wmix w[SIM_WCLASS_COUNT], double file_bytes);

#endif
