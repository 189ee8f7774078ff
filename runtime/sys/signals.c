/*
 * The runtime's reserved signals: SIGSYS (the SUD net), SIGTRAP (int3 redirects left inside
 * patched windows), the checkpoint signals. The program's own sigaction, sigprocmask and sigsuspend
 * calls on them are virtualised: it sees the dispositions and mask bits it set, while the kernel
 * keeps the runtime's handlers installed and the signals deliverable.
 */
#include "sys/sys.h"

static struct rt_kernel_sigaction rt_prog_action[65];	/* the program's view, reserved only */
uint64_t rt_reserved_mask;				/* the runtime's signals in this process */

static int rt_is_reserved(long sig)
{
	return sig >= 1 && sig <= 64 && (rt_reserved_mask & RT_SIGBIT(sig));
}

/* The program installed a handler (or SIG_IGN) of its own for a reserved signal */
int rt_has_own_action(int sig)
{
	return rt_prog_action[sig].handler != RT_SIG_DFL;
}

/* SIG becomes the runtime's: HANDLER runs on it, with FLAGS besides SA_SIGINFO and MASK blocked */
void rt_reserve_signal_masked(int sig, rt_signal_handler handler, unsigned long flags, uint64_t mask)
{
	struct rt_kernel_sigaction a = {
		(void *)handler, SA_SIGINFO | SA_RESTORER | flags, (void *)rt_restorer, mask
	};
	rt_syscall4(__NR_rt_sigaction, sig, (long)&a, 0, RT_SIGSET_SIZE);
	rt_reserved_mask |= RT_SIGBIT(sig);
}

void rt_reserve_signal(int sig, rt_signal_handler handler, unsigned long flags)
{
	rt_reserve_signal_masked(sig, handler, flags, 0);
}

/*
 * A reserved signal that was not the runtime's: do what the program asked for. Its default action
 * is taken for real: the kernel's disposition becomes SIG_DFL and the signal is raised again (an
 * int3 or a seccomp trap would not fault again on return). A process that goes on afterwards (a
 * signal whose default is to be ignored) has lost the runtime's handler for that signal.
 */
void rt_chain(int sig, void *si, void *uc)
{
	const struct rt_kernel_sigaction *a = &rt_prog_action[sig];
	if (a->handler == RT_SIG_IGN && sig != SIGSYS && sig != SIGTRAP)
		return;
	if (a->handler == RT_SIG_DFL || a->handler == RT_SIG_IGN) {
		struct rt_kernel_sigaction dfl = { RT_SIG_DFL, 0, 0, 0 };
		rt_syscall4(__NR_rt_sigaction, sig, (long)&dfl, 0, RT_SIGSET_SIZE);
		rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, rt_syscall0(__NR_gettid), sig);
		return;
	}
	if (a->flags & SA_SIGINFO)
		((void (*)(int, void *, void *))a->handler)(sig, si, uc);
	else
		((void (*)(int))a->handler)(sig);
}

long rt_sys_sigaction(long sig, const struct rt_kernel_sigaction *act,
		      struct rt_kernel_sigaction *old, long size)
{
	if (size == RT_SIGSET_SIZE && rt_is_reserved(sig)) {
		struct rt_kernel_sigaction prev = rt_prog_action[sig];
		if (act)
			rt_prog_action[sig] = *act;
		if (old)
			*old = prev;
		return 0;
	}
	if (act && size == RT_SIGSET_SIZE) {
		/* the program's handlers must not block the runtime's signals while they run */
		struct rt_kernel_sigaction a = *act;
		a.mask &= ~rt_reserved_mask;
		return rt_syscall4(__NR_rt_sigaction, sig, (long)&a, (long)old, size);
	}
	return rt_syscall4(__NR_rt_sigaction, sig, (long)act, (long)old, size);
}

/* The mask is the thread's: so is the program's view of its reserved bits (its slot's prog_blocked) */
long rt_sys_sigprocmask(struct rt_thread *self, long how, const uint64_t *set, uint64_t *old, long size)
{
	if (size != RT_SIGSET_SIZE)
		return rt_syscall4(__NR_rt_sigprocmask, how, (long)set, (long)old, size);
	uint64_t want = set ? *set : 0, kernel_set = want & ~rt_reserved_mask, kernel_old;
	long r = rt_syscall4(__NR_rt_sigprocmask, how, set ? (long)&kernel_set : 0,
			     (long)&kernel_old, RT_SIGSET_SIZE);
	if (r < 0)
		return r;
	uint64_t prev = self->prog_blocked;
	if (set) {
		uint64_t bits = want & rt_reserved_mask;
		if (how == SIG_BLOCK)
			self->prog_blocked |= bits;
		else if (how == SIG_UNBLOCK)
			self->prog_blocked &= ~bits;
		else
			self->prog_blocked = bits;
	}
	if (old)
		*old = (kernel_old & ~rt_reserved_mask) | prev;
	return 0;
}

long rt_sys_sigsuspend(const uint64_t *set, long size)
{
	if (size != RT_SIGSET_SIZE || !set)
		return rt_syscall2(__NR_rt_sigsuspend, (long)set, size);
	uint64_t s = *set & ~rt_reserved_mask;
	return rt_call_restartable(__NR_rt_sigsuspend, (long)&s, RT_SIGSET_SIZE, 0, 0, 0, 0);
}
