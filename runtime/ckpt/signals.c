/*
 * Signals: the action of every signal, and the signals queued at the checkpoint with their
 * siginfo. Signals are blocked from the start of a restart, so what is queued again there waits
 * for rt_sigreturn to put the program's mask back.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

int rt_save_sigactions(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_SIGACTIONS, 0, 64 * sizeof(struct rt_kernel_sigaction));
	if (!p)
		return -1;
	for (int sig = 1; sig <= 64; sig++)
		rt_syscall4(__NR_rt_sigaction, sig, 0, (long)(p + (sig - 1) * sizeof(struct rt_kernel_sigaction)), RT_SIGSET_SIZE);
	rt_seal(p);
	return 0;
}

/*
 * Signals pending at the checkpoint, with their siginfo (a sigqueue value, the sender): taken off
 * the queue one by one and queued again at once, in the same order, so the program loses none.
 * A restart queues them the same way.
 */
int rt_save_queued_signals(struct rt_ckpt_work *w)
{
	uint64_t pending = 0;
	struct { int64_t sec, nsec; } now = { 0, 0 };
	int n = 0;
	rt_syscall2(__NR_rt_sigpending, (long)&pending, RT_SIGSET_SIZE);
	pending &= ~rt_reserved_mask;
	for (int sig = 1; sig <= 64 && n < RT_MAX_QUEUED; sig++) {
		uint64_t set = RT_SIGBIT(sig);
		if (!(pending & set))
			continue;
		while (n < RT_MAX_QUEUED && rt_syscall4(__NR_rt_sigtimedwait, (long)&set, (long)w->queued[n], (long)&now, RT_SIGSET_SIZE) == sig)
			n++;
	}
	long self = rt_syscall0(__NR_gettid);	/* the leader: it took them off its own queue and the process's */
	for (int i = 0; i < n; i++)
		rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, self, *(const int *)w->queued[i], (long)w->queued[i]);
	unsigned char *p = rt_record(w, CKPT_REC_SIGINFO, 0, (size_t)n * CKPT_SIGINFO_SIZE);
	if (!p)
		return -1;
	rt_memcpy(p, w->queued, (size_t)n * CKPT_SIGINFO_SIZE);
	rt_seal(p);
	return 0;
}

/* SIGKILL and SIGSTOP have no action to set */
void rt_restore_sigactions(const struct rt_image *im)
{
	const struct rt_kernel_sigaction *a = (const void *)im->sigactions;
	for (int sig = 1; sig <= 64; sig++)
		if (sig != 9 && sig != 19)
			rt_syscall4(__NR_rt_sigaction, sig, (long)&a[sig - 1], 0, RT_SIGSET_SIZE);
}

/*
 * The queued signals, queued again with their siginfo (images without that record: the pending
 * ones raised); a SIGWINCH too when a terminal was taken over.
 */
void rt_restore_queued_signals(const struct rt_image *im, int terminal)
{
	uint64_t pending = im->queued ? 0 : u64at(im->process, CKPT_RP_PENDING);
	for (uint32_t i = 0; i < im->nqueued; i++) {
		const unsigned char *info = im->queued + i * CKPT_SIGINFO_SIZE;
		rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, (long)rt_ids_real.tid, *(const int *)info, (long)info);
	}
	if (terminal)
		pending |= RT_SIGBIT(SIGWINCH);	/* a screen program redraws itself on the new terminal */
	for (int sig = 1; sig <= 64; sig++)
		if (pending & RT_SIGBIT(sig))
			rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, (long)rt_ids_real.tid, sig);
}
