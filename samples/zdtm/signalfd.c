/*
 * signalfd: its mask comes back; a signal of the mask sent after the restart, and one pending
 * since before the checkpoint, are read from it.
 */
#include "zdtm.h"
#include <sys/signalfd.h>

int main(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGWINCH);
	zdtm_check(sigprocmask(SIG_BLOCK, &mask, NULL) == 0, "sigprocmask");
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK);
	zdtm_check(sfd >= 0, "signalfd: %s", strerror(errno));
	zdtm_check(raise(SIGWINCH) == 0, "raise");
	zdtm_ready();
	zdtm_wait();

	struct signalfd_siginfo si;
	zdtm_check(read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGWINCH, "the pending SIGWINCH was not read");
	zdtm_check(read(sfd, &si, sizeof si) < 0 && errno == EAGAIN, "a signal nobody sent was read");
	zdtm_check(kill(getpid(), SIGUSR1) == 0, "kill");
	zdtm_check(read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1, "SIGUSR1 was not read: %s", strerror(errno));
	zdtm_pass();
}
