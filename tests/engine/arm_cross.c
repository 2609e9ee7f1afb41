/* arm_cross.c: the kernel cases (kernel_cases.h) as a program, for tests/engine/arm_cross.sh
 * to build for 64-bit Arm and run under qemu. Prints "arm_cross: N passed, N failed". */
#include "kernel_cases.h"

#include "../../engine/kernels_cpu.h"

#include <stdio.h>

int main(void)
{
    char msg[256] = "";
    int passed = 0, failed = 0;
    long off = eng_kcases_match_plain(msg, sizeof msg);
    if (off)
        printf("FAIL: kernels %s: %ld outputs off the plain loop, first: %s\n", eng_k_isa_name(), off, msg), failed++;
    else
        printf("ok: kernels %s match the plain loops in every format\n", eng_k_isa_name()), passed++;
    msg[0] = 0;
    off = eng_kcases_int8_keeps_nan(msg, sizeof msg);
    if (off)
        printf("FAIL: INT8 with NaN activations: %s\n", msg), failed++;
    else
        printf("ok: INT8 keeps NaN and infinite activations\n"), passed++;
    printf("arm_cross: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
