/* test_tmpfile.c: an interrupt (SIGTERM, SIGINT) while a temporary file is registered removes
 * it, and the process still ends with that signal (issue 12: SIGTERM left a .tmp.PID file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tmpfile.h"

static void killed_while_writing(int sig)
{
    char path[] = "/tmp/moesim-tmpfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a job started in the background by a shell without job control inherits SIGINT
         * ignored, and the module rightly leaves an ignored signal alone: the child starts
         * from the default disposition, as a process run in the foreground does */
        signal(sig, SIG_DFL);
        if (sim_tmp_remember(path) != 0)
            _exit(3);
        raise(sig);
        _exit(4); /* not reached: the signal ends the process */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == sig);
    assert_int_equal(access(path, F_OK), -1); /* removed */
}

static void sigterm_removes(void **state)
{
    (void)state;
    killed_while_writing(SIGTERM);
}

static void sigint_removes(void **state)
{
    (void)state;
    killed_while_writing(SIGINT);
}

static void forgotten_file_stays(void **state)
{
    (void)state;
    char path[] = "/tmp/moesim-tmpfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL); /* as above: independent of how the suite was started */
        sim_tmp_remember(path);
        sim_tmp_forget(path); /* renamed into place: it is the result now, not a temporary */
        raise(SIGTERM);
        _exit(4);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigterm_removes),
        cmocka_unit_test(sigint_removes),
        cmocka_unit_test(forgotten_file_stays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
