/*
 * The runtime's reserved signals: SIGSYS (the SUD net) and SIGTRAP (int3 redirects left inside
 * patched windows). The program's own sigaction, sigprocmask and sigsuspend calls on them are
 * virtualised: it sees the dispositions and mask bits it set, while the kernel keeps the runtime's
 * handlers installed and the signals deliverable.
 */
#include "include/rt.h"

static struct rt_kernel_sigaction rt_prog_action[65];	/* the program's view, reserved only */
static uint64_t rt_prog_blocked;			/* the program's view, reserved bits only */
uint64_t rt_reserved_mask;				/* the runtime's signals in this process */

static int rt_is_reserved(long sig)
{
	return sig >= 1 && sig <= 64 && (rt_reserved_mask & RT_SIGBIT(sig));
}

static uint64_t *rt_gregs(void *uc)
{
	return (uint64_t *)((char *)uc + RT_UC_GREGS);
}

/* The program installed a handler (or SIG_IGN) of its own for a reserved signal */
int rt_has_own_action(int sig)
{
	return rt_prog_action[sig].handler != RT_SIG_DFL;
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
	if (a->handler == RT_SIG_IGN && sig != RT_SIGSYS && sig != RT_SIGTRAP)
		return;
	if (a->handler == RT_SIG_DFL || a->handler == RT_SIG_IGN) {
		struct rt_kernel_sigaction dfl = { RT_SIG_DFL, 0, 0, 0 };
		rt_syscall4(__NR_rt_sigaction, sig, (long)&dfl, 0, 8);
		rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, rt_syscall0(__NR_gettid), sig);
		return;
	}
	if (a->flags & RT_SA_SIGINFO)
		((void (*)(int, void *, void *))a->handler)(sig, si, uc);
	else
		((void (*)(int))a->handler)(sig);
}

static void rt_sigsys(int sig, void *si, void *uc)
{
	if (*(int *)((char *)si + RT_SI_CODE) != RT_SYS_USER_DISPATCH) {
		rt_chain(sig, si, uc);
		return;
	}
	uint64_t *g = rt_gregs(uc);
	struct rt_ctx c = {
		.r15 = g[RT_REG_R15], .r14 = g[RT_REG_R14], .r13 = g[RT_REG_R13],
		.r12 = g[RT_REG_R12], .rbp = g[RT_REG_RBP], .rbx = g[RT_REG_RBX],
		.r11 = g[RT_REG_R11], .r10 = g[RT_REG_R10], .r9 = g[RT_REG_R9], .r8 = g[RT_REG_R8],
		.rcx = g[RT_REG_RCX], .rdx = g[RT_REG_RDX], .rsi = g[RT_REG_RSI],
		.rdi = g[RT_REG_RDI], .rax = (uint64_t)*(int *)((char *)si + 24) /* si_syscall */,
		.flags = g[RT_REG_EFL], .rip = g[RT_REG_RIP], .rsp = g[RT_REG_RSP],
	};
	rt_dispatch(&c, RT_VIA_SUD);
	g[RT_REG_RAX] = c.rax;
	if (c.rax == 0 && *(int *)((char *)si + 24) == __NR_rt_sigprocmask) {
		/* rt_sigreturn reinstalls the frame's mask: make it the one the call just set */
		rt_syscall4(__NR_rt_sigprocmask, RT_SIG_BLOCK, 0,
			    (long)((char *)uc + RT_UC_SIGMASK), 8);
	}
	g[RT_REG_RCX] = c.rip;
	g[RT_REG_R11] = c.flags;
}

/* An int3 the rewriter left where an instruction of a patched window began */
static void rt_sigtrap(int sig, void *si, void *uc)
{
	uint64_t *g = rt_gregs(uc);
	uint64_t from = g[RT_REG_RIP] - 1 - rt_load_bias;
	const struct ckpt_redirect *r = (const void *)(rt_config.redirects + rt_load_bias);
	uint32_t lo = 0, hi = rt_config.redirect_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (r[mid].from == from) {
			g[RT_REG_RIP] = r[mid].to + rt_load_bias;
			return;
		}
		if (r[mid].from < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	rt_chain(sig, si, uc);
}

static void rt_install(int sig, void (*h)(int, void *, void *))
{
	/* SA_NODEFER: the mask stays the program's, even if a handler never returns (vfork path) */
	struct rt_kernel_sigaction a = {
		(void *)h, RT_SA_SIGINFO | RT_SA_RESTORER | RT_SA_NODEFER | RT_SA_RESTART,
		(void *)rt_restorer, 0
	};
	rt_syscall4(__NR_rt_sigaction, sig, (long)&a, 0, 8);
}

void rt_signals_init(void)
{
	if (rt_sud_on) {
		rt_install(RT_SIGSYS, rt_sigsys);
		rt_reserved_mask |= RT_SIGBIT(RT_SIGSYS);
	}
	if (rt_config.redirect_count) {
		rt_install(RT_SIGTRAP, rt_sigtrap);
		rt_reserved_mask |= RT_SIGBIT(RT_SIGTRAP);
	}
}

long rt_sys_sigaction(long sig, const struct rt_kernel_sigaction *act,
		      struct rt_kernel_sigaction *old, long size)
{
	if (size == 8 && rt_is_reserved(sig)) {
		struct rt_kernel_sigaction prev = rt_prog_action[sig];
		if (act)
			rt_prog_action[sig] = *act;
		if (old)
			*old = prev;
		return 0;
	}
	if (act && size == 8) {
		/* the program's handlers must not block the runtime's signals while they run */
		struct rt_kernel_sigaction a = *act;
		a.mask &= ~rt_reserved_mask;
		return rt_syscall4(__NR_rt_sigaction, sig, (long)&a, (long)old, size);
	}
	return rt_syscall4(__NR_rt_sigaction, sig, (long)act, (long)old, size);
}

long rt_sys_sigprocmask(long how, const uint64_t *set, uint64_t *old, long size)
{
	if (size != 8)
		return rt_syscall4(__NR_rt_sigprocmask, how, (long)set, (long)old, size);
	uint64_t want = set ? *set : 0, kernel_set = want & ~rt_reserved_mask, kernel_old;
	long r = rt_syscall4(__NR_rt_sigprocmask, how, set ? (long)&kernel_set : 0,
			     (long)&kernel_old, 8);
	if (r < 0)
		return r;
	uint64_t prev = rt_prog_blocked;
	if (set) {
		uint64_t bits = want & rt_reserved_mask;
		if (how == RT_SIG_BLOCK)
			rt_prog_blocked |= bits;
		else if (how == RT_SIG_UNBLOCK)
			rt_prog_blocked &= ~bits;
		else
			rt_prog_blocked = bits;
	}
	if (old)
		*old = (kernel_old & ~rt_reserved_mask) | prev;
	return 0;
}

long rt_sys_sigsuspend(const uint64_t *set, long size)
{
	if (size != 8 || !set)
		return rt_syscall2(__NR_rt_sigsuspend, (long)set, size);
	uint64_t s = *set & ~rt_reserved_mask;
	return rt_call_restartable(__NR_rt_sigsuspend, (long)&s, 8, 0, 0, 0, 0);
}
