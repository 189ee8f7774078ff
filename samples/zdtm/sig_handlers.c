/*
 * sig_handlers: signal actions survive with their handler, flags and mask. Handlers installed
 * with SA_SIGINFO, SA_RESTART, SA_NODEFER, SA_RESETHAND and different sa_masks, a realtime
 * signal's handler, an ignored signal and a default one. After the restart sigaction reports
 * each as it was set; raise() runs each handler with the mask it asked for; the SA_RESETHAND
 * handler runs once and leaves the default action behind; the ignored signal stays ignored.
 */
#include "zdtm.h"

#define FLAG_BITS (SA_SIGINFO | SA_RESTART | SA_NODEFER | SA_RESETHAND | SA_ONSTACK | SA_NOCLDSTOP)

struct action {
	int sig;
	unsigned flags;
	int blocks;	/* a signal sa_mask adds, or 0 */
	volatile sig_atomic_t runs;
	volatile sig_atomic_t mask_ok;	/* the handler ran with sa_mask, and its own signal unless SA_NODEFER */
	volatile sig_atomic_t info_ok;	/* SA_SIGINFO: si_signo and si_code as raise() makes them */
};

static struct action actions[] = {
	{ SIGUSR1, SA_SIGINFO | SA_RESTART, SIGINT, 0, 0, 0 },
	{ SIGHUP, SA_RESETHAND, 0, 0, 0, 0 },
	{ SIGINT, SA_NODEFER | SA_RESTART, SIGTERM, 0, 0, 0 },
	{ SIGCHLD, SA_NOCLDSTOP | SA_SIGINFO, SIGUSR1, 0, 0, 0 },
	{ 0 /* SIGRTMIN + 5: not a constant */, SA_SIGINFO, SIGHUP, 0, 0, 0 },
};
#define ACTIONS (sizeof actions / sizeof actions[0])

static struct action *action_of(int sig)
{
	for (unsigned i = 0; i < ACTIONS; i++)
		if (actions[i].sig == sig)
			return &actions[i];
	return NULL;
}

static void note(int sig, const siginfo_t *info)
{
	struct action *a = action_of(sig);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	a->runs++;
	a->mask_ok = (!a->blocks || sigismember(&now, a->blocks))
		&& (sigismember(&now, sig) == !(a->flags & SA_NODEFER));
	a->info_ok = !info || (info->si_signo == sig && info->si_code == SI_TKILL);
}

static void on_signal(int sig) { note(sig, NULL); }
static void on_signal_info(int sig, siginfo_t *info, void *uc) { (void)uc; note(sig, info); }

static void install(const struct action *a)
{
	struct sigaction sa = { .sa_flags = (int)a->flags };
	if (a->flags & SA_SIGINFO)
		sa.sa_sigaction = on_signal_info;
	else
		sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (a->blocks)
		sigaddset(&sa.sa_mask, a->blocks);
	zdtm_check(sigaction(a->sig, &sa, NULL) == 0, "sigaction(%d) failed", a->sig);
}

static void check_installed(const struct action *a)
{
	struct sigaction now;
	sigaction(a->sig, NULL, &now);
	void *want = a->flags & SA_SIGINFO ? (void *)on_signal_info : (void *)on_signal;
	void *have = a->flags & SA_SIGINFO ? (void *)now.sa_sigaction : (void *)now.sa_handler;
	zdtm_check(have == want, "signal %d: the handler is %p, not %p", a->sig, have, want);
	unsigned flags = (unsigned)now.sa_flags & FLAG_BITS;
	zdtm_check(flags == a->flags, "signal %d: flags are %#x, not %#x", a->sig, flags, a->flags);
	for (int s = 1; s < 32; s++)
		zdtm_check(sigismember(&now.sa_mask, s) == (s == a->blocks), "signal %d: sa_mask %s signal %d",
			a->sig, sigismember(&now.sa_mask, s) ? "has" : "lacks", s);
}

static void check_runs(const struct action *a)
{
	raise(a->sig);
	zdtm_check(a->runs == 1, "signal %d: the handler ran %d times, not once", a->sig, (int)a->runs);
	zdtm_check(a->mask_ok, "signal %d: the handler ran with the wrong signal mask", a->sig);
	zdtm_check(a->info_ok, "signal %d: the handler's siginfo is wrong", a->sig);
}

static int disposition_is(int sig, void (*handler)(int))
{
	struct sigaction now;
	sigaction(sig, NULL, &now);
	return now.sa_handler == handler;
}

int main(void)
{
	actions[ACTIONS - 1].sig = SIGRTMIN + 5;
	for (unsigned i = 0; i < ACTIONS; i++)
		install(&actions[i]);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	zdtm_ready();
	zdtm_wait();

	for (unsigned i = 0; i < ACTIONS; i++)
		check_installed(&actions[i]);
	zdtm_check(disposition_is(SIGQUIT, SIG_IGN) && disposition_is(SIGPIPE, SIG_IGN), "an ignored signal is no longer ignored");
	zdtm_check(disposition_is(SIGTERM, SIG_DFL), "SIGTERM no longer has its default action");
	for (unsigned i = 0; i < ACTIONS; i++)
		check_runs(&actions[i]);
	zdtm_check(disposition_is(SIGHUP, SIG_DFL), "SA_RESETHAND did not reset SIGHUP's action after it ran");
	raise(SIGQUIT);	/* ignored: nothing happens */
	zdtm_pass();
}
