/* kernel_cases.h: the engine's small-batch kernels (eng_k_nt_small) against the plain loop
 * over every format and the shapes around the vector widths, and a NaN activation kept, as
 * plain C with no test framework: test_engine runs them at each kernel level this CPU has, and
 * tests/engine/arm_cross.sh builds them for 64-bit Arm and runs them under qemu. */
#ifndef MOESIM_TESTS_ENGINE_KERNEL_CASES_H
#define MOESIM_TESTS_ENGINE_KERNEL_CASES_H

#include <stddef.h>
#include <stdint.h>

/* Each returns how many checks failed (0: all passed) and writes the first failure to msg. */
long eng_kcases_match_plain(char *msg, size_t cap);
long eng_kcases_int8_keeps_nan(char *msg, size_t cap);
/* INT8's outputs over a set of shapes as a digest of their bits (*digest), the same at every
 * kernel level. */
long eng_kcases_int8_digest(uint64_t *digest, char *msg, size_t cap);

#endif
