/* fuzz_lua.c: libFuzzer target for scenarios through the sandbox, exactly as `moesim run`
 * runs them (lua/run.c), with small limits so a runaway input ends fast. Any text must
 * either run or fail with a message: no crash, no leak, no escape. Files a scenario writes
 * go to a scratch output folder that is emptied after each input. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>

#include "cli/commands.h"
#include "fuzz_file.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[64];
    if (!out[0]) {
        snprintf(out, sizeof out, "/tmp/moesim-fuzz-lua-XXXXXX");
        if (!mkdtemp(out))
            abort();
    }
    char *argv[] = { (char *)fuzz_file(data, size, ".lua"), "--out", out, "--max-instructions", "5000000",
                     "--max-memory", "256", NULL };
    int status = cmd_run(7, argv);
    if (status != 0 && status != 2)
        abort(); /* 1 is for the output folder or the state, which the harness provides */
    nftw(out, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
