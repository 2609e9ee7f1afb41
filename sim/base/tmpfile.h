/* tmpfile.h: temporary files that an interrupt must not leave behind. Files are written to
 * a temporary name and renamed into place (written whole or not at all); while a temporary
 * exists its writer registers it, and SIGINT or SIGTERM remove every registered file before
 * the process ends with that signal. The table is process-wide because signals are. */
#ifndef MOESIM_TMPFILE_H
#define MOESIM_TMPFILE_H

/* Remember `path` (copied) until sim_tmp_forget; installs the SIGINT/SIGTERM handlers on
 * first use unless the program has its own. Returns 0, or -1 when the table (16 files at
 * once) is full or the path too long: the write still works, only an interrupt may then
 * leave the file. */
int sim_tmp_remember(const char *path);
/* After the rename (or the unlink on failure). */
void sim_tmp_forget(const char *path);

#endif
