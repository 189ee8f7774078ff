/*
 * The entries of the runtime's reserved signals: SIGSYS, raised by the SUD net at a syscall
 * instruction outside the runtime's text, becomes a dispatched call; SIGTRAP, at an int3 the
 * rewriter left where an instruction of a patched window began, is redirected. Anything else on
 * those signals is the program's (sys/signals.c, rt_chain).
 */
#include "core/core.h"

static uint64_t *rt_gregs(void *uc)
{
	return (uint64_t *)((char *)uc + RT_UC_GREGS);
}

static void rt_sigsys(int sig, void *si, void *uc)
{
	if (*(int *)((char *)si + RT_SI_CODE) != SYS_USER_DISPATCH) {
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
		rt_syscall4(__NR_rt_sigprocmask, SIG_BLOCK, 0,
			    (long)((char *)uc + RT_UC_SIGMASK), RT_SIGSET_SIZE);
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
	uint64_t to = rt_loader_redirect(g[RT_REG_RIP] - 1);
	if (to) {
		g[RT_REG_RIP] = to;
		return;
	}
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

/* SA_NODEFER: the mask stays the program's, even if a handler never returns (vfork path) */
void rt_sud_signals_init(void)
{
	/* a dynamic program may load code that was not carried: the net is armed when it appears */
	if (rt_sud_on || rt_config.carried_count)
		rt_reserve_signal(SIGSYS, rt_sigsys, SA_NODEFER | SA_RESTART);
	if (rt_config.redirect_count || rt_config.carried_count)
		rt_reserve_signal(SIGTRAP, rt_sigtrap, SA_NODEFER | SA_RESTART);
}
