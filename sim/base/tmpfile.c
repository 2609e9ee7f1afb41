/* tmpfile.c: the registry of live temporary files and the signal handler that removes them.
 * The handler only calls unlink, signal and raise (async-signal-safe) and reads slots that
 * are complete before they are marked used. */
#include "base/tmpfile.h"

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 16

static char slot_path[SLOTS][PATH_MAX];
static volatile sig_atomic_t slot_used[SLOTS];
static volatile sig_atomic_t installed;

static void remove_and_die(int sig)
{
    for (int i = 0; i < SLOTS; i++)
        if (slot_used[i])
            unlink(slot_path[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Only where nobody else handles the signal (calibration forwards it to the engine first). */
static void install(int sig)
{
    struct sigaction old;
    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = remove_and_die;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }
}

int sim_tmp_remember(const char *path)
{
    if (strlen(path) >= PATH_MAX)
        return -1;
    if (!installed) {
        install(SIGINT);
        install(SIGTERM);
        installed = 1;
    }
    for (int i = 0; i < SLOTS; i++)
        if (!slot_used[i]) {
            memcpy(slot_path[i], path, strlen(path) + 1);
            slot_used[i] = 1;
            return 0;
        }
    return -1;
}

void sim_tmp_forget(const char *path)
{
    for (int i = 0; i < SLOTS; i++)
        if (slot_used[i] && strcmp(slot_path[i], path) == 0) {
            slot_used[i] = 0;
            return;
        }
}
