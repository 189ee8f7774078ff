/*
 * O_ASYNC with F_SETOWN (the process itself) and F_SETSIG: after a restart, data arriving in the
 * pipe sends the program its chosen signal, naming the descriptor. F_GETOWN answers the pid the
 * program knows, and F_SETOWN with it (set again after the restart) names the process.
 */
#include "zdtm.h"

static volatile sig_atomic_t got_fd = -1, got_count;

static void on_io(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	got_fd = si->si_fd;
	got_count++;
}

int main(void)
{
	int p[2];
	int sig = SIGRTMIN + 3;
	struct sigaction sa = { .sa_sigaction = on_io, .sa_flags = SA_SIGINFO };
	zdtm_check(pipe(p) == 0 && sigaction(sig, &sa, NULL) == 0, "setup");
	zdtm_check(fcntl(p[0], F_SETOWN, getpid()) == 0 && fcntl(p[0], F_SETSIG, sig) == 0, "F_SETOWN/F_SETSIG");
	zdtm_check(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK) == 0, "O_ASYNC");
	zdtm_ready();
	zdtm_wait();

	zdtm_check(fcntl(p[0], F_GETFL) & O_ASYNC, "O_ASYNC lost");
	zdtm_check(fcntl(p[0], F_GETSIG) == sig, "F_GETSIG %d", fcntl(p[0], F_GETSIG));
	/* the owner as the program knows it, and set again by the pid it knows */
	zdtm_check(fcntl(p[0], F_GETOWN) == getpid(), "F_GETOWN %d, getpid %d", fcntl(p[0], F_GETOWN), (int)getpid());
	zdtm_check(fcntl(p[0], F_SETOWN, getpid()) == 0, "F_SETOWN again: %s", strerror(errno));
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, sig);
	sigprocmask(SIG_BLOCK, &block, &old);
	zdtm_check(write(p[1], "x", 1) == 1, "write");
	sigsuspend(&old);
	zdtm_check(got_count == 1 && got_fd == p[0], "signal %d times, si_fd %d", (int)got_count, (int)got_fd);
	zdtm_pass();
}
