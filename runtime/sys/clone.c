/*
 * What fork, vfork, clone and clone3 ask for: the kind of child (its own memory, a vfork child in
 * its parent's, a thread) and the top of its new stack. core/fork.c acts on the answer.
 */
#include <linux/sched.h>
#include <linux/signal.h>
#include "sys/sys.h"

enum rt_child_kind rt_child_kind(uint64_t flags)
{
	if (!(flags & CLONE_VM))
		return RT_CHILD_OWN_MEMORY;
	return (flags & CLONE_VFORK) ? RT_CHILD_VFORK : RT_CHILD_THREAD;
}

/* The child's flags and the top of its new stack (0: it runs on the caller's stack) */
int rt_clone_shape(const struct rt_ctx *c, long nr, uint64_t *flags, uint64_t *stack)
{
	*stack = 0;
	switch (nr) {
	case __NR_fork:
		*flags = SIGCHLD;
		return 0;
	case __NR_vfork:
		*flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
		return 0;
	case __NR_clone:
		*flags = c->rdi;
		*stack = c->rsi;
		return 0;
	default: {
		const struct clone_args *a = (const void *)c->rdi;
		if (!a || c->rsi < CLONE_ARGS_SIZE_VER0)
			return -1;	/* let the kernel refuse it */
		*flags = a->flags;
		*stack = a->stack ? a->stack + a->stack_size : 0;
		return 0;
	}
	}
}
