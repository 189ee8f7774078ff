/*
 * rseq: the kernel writes the program's rseq area (cpu_id and friends) whenever it reschedules the
 * thread, so a checkpoint unregisters it while memory is saved, and a restart registers it again
 * (the new process's kernel knows nothing of it). The registration is learnt from the program's
 * own rseq calls, which therefore go through the dispatcher.
 */
#include "sys/sys.h"


struct rt_rseq rt_rseq_reg;

long rt_sys_rseq(uint64_t addr, uint32_t len, int flags, uint32_t sig)
{
	long r = rt_syscall4(__NR_rseq, (long)addr, len, flags, sig);
	if (r == 0) {
		if (flags & RSEQ_FLAG_UNREGISTER)
			rt_rseq_reg.addr = 0;
		else
			rt_rseq_reg = (struct rt_rseq){ addr, len, sig };
	}
	return r;
}

void rt_rseq_pause(void)
{
	if (rt_rseq_reg.addr)
		rt_syscall4(__NR_rseq, (long)rt_rseq_reg.addr, rt_rseq_reg.len, RSEQ_FLAG_UNREGISTER, rt_rseq_reg.sig);
}

void rt_rseq_resume(void)
{
	if (rt_rseq_reg.addr)
		rt_syscall4(__NR_rseq, (long)rt_rseq_reg.addr, rt_rseq_reg.len, 0, rt_rseq_reg.sig);
}
