/*
 * The one way the runtime ends a process of its own accord: a bad config block, a refused image, a
 * shadow lost for good, the end of a vacate or of a checkpoint writer. None has anything left to
 * flush: the counts describe a program run, and the shadow is gone or not the writer's to tell.
 * The program's own exit and exit_group are its calls, not the runtime's: core/dispatch.c hands
 * over the counts and the shadow's files, then makes the call like any other (so a checkpoint
 * signal held meanwhile still runs first).
 */
#include "base/base.h"

_Noreturn void rt_exit(int status)
{
	for (;;)
		rt_syscall1(__NR_exit_group, status);
}

/* A failure of the runtime itself, before the program could run */
_Noreturn void rt_die(const char *msg)
{
	rt_write_all(2, msg, rt_strlen(msg));
	rt_exit(CKPT_EXIT_RUNTIME);
}
