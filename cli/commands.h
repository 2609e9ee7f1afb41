/* commands.h: the subcommands of `moesim`. Each takes the arguments after its name and
 * returns the process exit status: 0 success, 2 bad input, 1 any other failure. */
#ifndef MOESIM_COMMANDS_H
#define MOESIM_COMMANDS_H

int cmd_run(int argc, char **argv);       /* lua/run.c */
int cmd_eval(int argc, char **argv);      /* main.c */
int cmd_models(int argc, char **argv);    /* main.c */
int cmd_hw(int argc, char **argv);        /* main.c */
int cmd_serve(int argc, char **argv);     /* cmd_serve.c */
int cmd_search(int argc, char **argv);    /* cmd_search.c */
int cmd_compare(int argc, char **argv);   /* cmd_compare.c */
int cmd_calibrate(int argc, char **argv); /* cmd_calibrate.c */
int cmd_import_hf(int argc, char **argv); /* cmd_import.c */

/* Print "moesim: <msg>" to stderr and return the exit status for code. */
int cmd_fail(int code, const char *msg);

#endif
