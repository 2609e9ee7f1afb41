/* fp8.h: FP8 E4M3 on the host (encode with round-to-nearest-even and saturation, decode), and
 * the per-row quantization the CUDA backend applies to expert weights. Plain C: tested without a GPU. */
#ifndef MOESIM_ENG_FP8_H
#define MOESIM_ENG_FP8_H

#include <stdint.h>

float eng_fp8_decode(uint8_t code);
/* Nearest E4M3 value (ties to the even code), saturating at +-448; NaN gives 0x7f. */
uint8_t eng_fp8_encode(float v);
/* The row's scale: the smallest power of two s with max|row| / s <= 448 (1 for a zero row).
 * A power of two keeps code * s exact in BF16, so the dequantized weights the reference runs
 * on are exactly what the GPU multiplies with. */
float eng_fp8_row_scale(const float *row, int n);

#endif
