/*
 * The one way the runtime ends a process. Whoever has something to hand over first does it before
 * calling here: the program's own exit flushes the counts and the shadow's files (core/dispatch.c);
 * the runtime's failures (a bad config block or image, a shadow lost for good) have nothing that
 * could still be flushed, and a checkpoint writer is a copy of the program that must not.
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
