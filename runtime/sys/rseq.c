/*
 * rseq: the kernel writes the program's rseq area (cpu_id and friends) whenever it reschedules the
 * thread, so a checkpoint writer unregisters it while memory is saved, and a restart registers it
 * again for every thread (the new process's kernel knows nothing of it). Each thread registers its
 * own area: the registration is learnt from the thread's own rseq calls, which therefore go
 * through the dispatcher, and kept in its slot (base/threads.c).
 */
#include "sys/sys.h"

long rt_sys_rseq(struct rt_thread *self, uint64_t addr, uint32_t len, int flags, uint32_t sig)
{
	long r = rt_syscall4(__NR_rseq, (long)addr, len, flags, sig);
	if (r == 0) {
		if (flags & RSEQ_FLAG_UNREGISTER)
			self->rseq.addr = 0;
		else
			self->rseq = (struct rt_rseq){ addr, len, sig };
	}
	return r;
}

/* r: the registration of the calling thread (in a writer: of the thread that forked it) */
void rt_rseq_pause(const struct rt_rseq *r)
{
	if (r->addr)
		rt_syscall4(__NR_rseq, (long)r->addr, r->len, RSEQ_FLAG_UNREGISTER, r->sig);
}

void rt_rseq_resume(const struct rt_rseq *r)
{
	if (r->addr)
		rt_syscall4(__NR_rseq, (long)r->addr, r->len, 0, r->sig);
}
