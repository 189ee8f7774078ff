/*
 * fork, vfork, clone and clone3: what every room does around a new process or thread (sys/clone.c
 * says which kind of child a call makes). A child with its own memory starts a new statistics
 * record; a vfork-like child shares the parent's memory (and counters) until it execs or exits;
 * every child re-arms the SUD net. Remote files' offsets are shared with the child (remote/cursors.c).
 */
#include "core/core.h"

static uint64_t rt_forking_blocked;	/* the forking thread's view of its mask, for the child's slot */

void rt_child_started(int kind)
{
	if (kind == RT_CHILD_OWN_MEMORY) {
		rt_stats_reset();
		rt_threads = 1;
		rt_threads_forked(rt_forking_blocked);	/* the parent's threads are not here */
		rt_pids_child();
		rt_checkpoint_forked();
		rt_remote_forked();
		rt_vfiles_forked();
	}
	else {
		rt_thread_started();
		if (kind == RT_CHILD_VFORK)
			rt_thread_self()->shared_child = 1;
	}
	if (kind != RT_CHILD_THREAD)
		rt_remote_child_started();	/* the mask its parent had before it took the remote lock */
	rt_arm_sud();
}

/* The vfork parent runs again (CHILD: vfork's result): what the child changed is put back */
static void rt_vfork_parent_resumed(long child)
{
	rt_vfork_child_gone(child);
	rt_vfiles_vfork_done();
	rt_remote_leave();
}

/* From the shim's vfork parent once the child has exec'd or exited: where the thread goes on */
uint64_t rt_vfork_resume_address(long child)
{
	rt_vfork_parent_resumed(child);
	return rt_thread_self()->vfork_resume;
}

long rt_dispatch_clone(struct rt_ctx *c, long nr)
{
	uint64_t flags, stack;
	if (rt_clone_shape(c, nr, &flags, &stack) < 0)
		return rt_syscall6(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10,
				   (long)c->r8, (long)c->r9);
	enum rt_child_kind kind = rt_child_kind(flags);
	if (kind == RT_CHILD_OWN_MEMORY)
		rt_forking_blocked = rt_thread_self()->prog_blocked;
	if (kind != RT_CHILD_THREAD) {
		rt_remote_before_child();	/* no other thread changes the remote state meanwhile */
		rt_vfiles_before_fork();	/* remote file offsets shared with the child */
	}
	if (kind == RT_CHILD_VFORK)
		rt_vfiles_vfork_save();		/* the child's file actions stay its own */
	if (stack) {
		rt_child_shares_memory = (uint8_t)kind;
		if (kind == RT_CHILD_THREAD)
			__atomic_add_fetch(&rt_threads, 1, __ATOMIC_RELAXED);
		*(uint64_t *)(stack - 8) = c->rip;
		long r = rt_clone_on_stack(c, stack);
		if (kind == RT_CHILD_VFORK)
			rt_vfork_parent_resumed(r);
		if (kind == RT_CHILD_OWN_MEMORY)
			rt_remote_leave();
		if (kind == RT_CHILD_THREAD && r < 0)
			__atomic_sub_fetch(&rt_threads, 1, __ATOMIC_RELAXED);
		return r;
	}
	if (kind != RT_CHILD_OWN_MEMORY) {
		struct rt_thread *self = rt_thread_self();
		self->busy = 0;			/* the parent resumes in the program, not here */
		self->vfork_resume = c->rip;	/* the thread's own: other threads may vfork meanwhile */
		rt_vfork_parent(c);
	}
	long r = rt_syscall6(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10,
			     (long)c->r8, (long)c->r9);
	if (r == 0)
		rt_child_started(RT_CHILD_OWN_MEMORY);
	else
		rt_remote_leave();
	return r;
}
