/*
 * pid_stable: the process keeps the ids it saw. getpid, getppid and gettid are recorded before
 * the checkpoint; after the restart they return the same values, kill(getpid(), SIGUSR1) reaches
 * the process's own handler, and raise() (which glibc and musl make from the cached thread id)
 * does too.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/syscall.h>

static volatile sig_atomic_t usr1_runs;

static void on_usr1(int sig) { (void)sig; usr1_runs++; }

static long tid(void) { return syscall(SYS_gettid); }

int main(void)
{
	signal(SIGUSR1, on_usr1);
	long pid = getpid(), ppid = getppid(), self = tid();
	zdtm_ready();
	zdtm_wait();

	zdtm_check(getpid() == pid, "getpid is %ld, not %ld", (long)getpid(), pid);
	zdtm_check(getppid() == ppid, "getppid is %ld, not %ld", (long)getppid(), ppid);
	zdtm_check(tid() == self, "gettid is %ld, not %ld", tid(), self);
	zdtm_check(kill(getpid(), SIGUSR1) == 0, "kill(getpid(), SIGUSR1) failed: %s", strerror(errno));
	zdtm_check(usr1_runs == 1, "kill(getpid(), SIGUSR1) ran the handler %d times, not once", (int)usr1_runs);
	zdtm_check(raise(SIGUSR1) == 0, "raise(SIGUSR1) failed: %s", strerror(errno));
	zdtm_check(usr1_runs == 2, "raise(SIGUSR1) did not run the handler");
	zdtm_pass();
}
