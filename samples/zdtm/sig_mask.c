/*
 * sig_mask: the blocked set and pending signals survive. SIGUSR1, SIGHUP and SIGRTMIN+3 are
 * blocked; SIGUSR1 is raised while blocked, and SIGRTMIN+3 queued twice with values, so all are
 * pending at the checkpoint and SIGHUP is not. After the restart the blocked set is exactly as it
 * was, sigpending shows the same signals, the queued values come out in order with sigtimedwait,
 * and unblocking SIGUSR1 runs its handler exactly once.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <time.h>

static volatile sig_atomic_t usr1_runs;

static void on_usr1(int sig) { (void)sig; usr1_runs++; }

static void check_set(const sigset_t *have, const sigset_t *want, const char *what)
{
	for (int s = 1; s <= SIGRTMAX; s++)
		zdtm_check(sigismember(have, s) == sigismember(want, s), "%s: signal %d is %s", what, s,
			sigismember(have, s) ? "in it, and was not" : "not in it, and was");
}

static void check_queued_value(int sig, int value)
{
	sigset_t just;
	siginfo_t info;
	struct timespec now = { 0, 0 };
	sigemptyset(&just);
	sigaddset(&just, sig);
	zdtm_check(sigtimedwait(&just, &info, &now) == sig, "signal %d with value %d is no longer queued", sig, value);
	zdtm_check(info.si_code == SI_QUEUE && info.si_value.sival_int == value,
		"signal %d came with si_code %d and value %d, not SI_QUEUE (%d) and %d", sig, info.si_code, info.si_value.sival_int, SI_QUEUE, value);
}

int main(void)
{
	sigset_t blocked, pending, now;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGRTMIN + 3);
	signal(SIGUSR1, on_usr1);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	raise(SIGUSR1);
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){ .sival_int = 31 });
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){ .sival_int = 32 });
	sigemptyset(&pending);
	sigaddset(&pending, SIGUSR1);
	sigaddset(&pending, SIGRTMIN + 3);
	zdtm_ready();
	zdtm_wait();

	sigprocmask(SIG_SETMASK, NULL, &now);
	check_set(&now, &blocked, "the blocked set");
	sigpending(&now);
	check_set(&now, &pending, "the pending set");
	check_queued_value(SIGRTMIN + 3, 31);
	check_queued_value(SIGRTMIN + 3, 32);
	sigpending(&now);
	zdtm_check(!sigismember(&now, SIGRTMIN + 3), "SIGRTMIN+3 was queued more than twice");
	zdtm_check(usr1_runs == 0, "the SIGUSR1 handler ran while SIGUSR1 was blocked");
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);
	zdtm_check(usr1_runs == 1, "unblocking SIGUSR1 ran its handler %d times, not once", (int)usr1_runs);
	zdtm_pass();
}
