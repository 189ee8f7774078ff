/*
 * The busy flag and the calls a checkpoint may break off. A checkpoint signal that arrives while
 * the thread it interrupts is inside the runtime's own bookkeeping (a dispatch) is held and raised
 * again, to that thread, when the dispatch ends (rt_busy_leave). The flag is the thread's own
 * (threads.c): another thread's dispatch does not hold a checkpoint, it is stopped inside it. A blocking call made by the dispatcher that the signal interrupted with
 * EINTR is made again (rt_call_restartable), since the program would not have seen that EINTR
 * without the checkpoint. ckpt/checkpoint.c owns the signal; this is what the syscall path needs.
 */
#include "base/base.h"

static volatile uint64_t rt_ckpt_generation;	/* checkpoint signals taken so far: see rt_try_call */

/* The checkpoint signal SIG arrived: held (1) when this thread is busy, to be raised at the end */
int rt_hold_while_busy(struct rt_thread *self, int sig)
{
	if (!self->busy)
		return 0;
	self->pending = sig;
	return 1;
}

/* A checkpoint signal was taken: an EINTR from here on is the checkpoint's, not the program's */
void rt_checkpoint_signal_taken(void)
{
	__atomic_add_fetch(&rt_ckpt_generation, 1, __ATOMIC_RELAXED);
}

/* SIG is the one rt_busy_leave raised in this thread (once: the next one may be the program's) */
int rt_raised_by_busy_leave(struct rt_thread *self, int sig)
{
	if (self->raised != sig)
		return 0;
	self->raised = 0;
	return 1;
}

void rt_busy_leave(struct rt_thread *self)
{
	if (self->busy)
		self->busy--;
	if (self->busy || !self->pending)
		return;
	int sig = self->pending;
	self->pending = 0;
	self->raised = sig;
	rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, rt_syscall0(__NR_gettid), sig);
}

/* One try at a call that a checkpoint may break off; *again: it did (the EINTR is not the program's) */
static long rt_try_call(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *again)
{
	struct rt_thread *self = rt_thread_self();
	uint32_t busy = self->busy;
	uint64_t generation = rt_ckpt_generation;
	self->busy = 0;
	if (self->pending)
		rt_busy_leave(self);
	long r = rt_syscall6(nr, a1, a2, a3, a4, a5, a6);
	self->busy = busy;
	*again = r == -EINTR && generation != rt_ckpt_generation;
	return r;
}

/* A system call made by the dispatcher: checkpoints may run meanwhile, and do not show as EINTR */
long rt_call_restartable(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	int again;
	long r;
	do
		r = rt_try_call(nr, a1, a2, a3, a4, a5, a6, &again);
	while (again);
	return r;
}

/*
 * nanosleep, and clock_nanosleep without TIMER_ABSTIME: broken off by a checkpoint, the sleep goes
 * on for what was left of it (the kernel writes that to rem before the handler runs, so a restarted
 * process finds it in its memory), not for its whole length again. The time the process was not
 * running (the checkpoint itself, or between the checkpoint and a restart) is not counted. An
 * absolute sleep is made again as it was.
 */
long rt_sleep_restartable(long nr, long clock, long flags, const void *req, void *rem)
{
	struct { int64_t sec, nsec; } left;
	void *out = rem ? rem : &left;
	int again;
	long r;
	if (nr == __NR_clock_nanosleep && (flags & TIMER_ABSTIME))
		return rt_call_restartable(nr, clock, flags, (long)req, (long)rem, 0, 0);
	for (;;) {
		r = nr == __NR_nanosleep ? rt_try_call(nr, (long)req, (long)out, 0, 0, 0, 0, &again)
					 : rt_try_call(nr, clock, flags, (long)req, (long)out, 0, 0, &again);
		if (!again)
			return r;
		rt_memcpy(&left, out, sizeof left);
		req = &left;
	}
}
