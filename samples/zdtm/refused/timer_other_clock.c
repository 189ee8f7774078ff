/*
 * timer_other_clock: a POSIX timer on the CPU clock of another process (a child's, from
 * clock_getcpuclockid), which a restart cannot make again: that process is not in the image. The
 * checkpoint warns, and a restart refuses the image, naming the timer.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/prctl.h>
#include <time.h>

int main(void)
{
	pid_t parent = getpid(), child = fork();
	zdtm_check(child >= 0, "fork: %s", strerror(errno));
	if (child == 0) {	/* it lives until the sample dies */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (getppid() == parent)
			pause();
		_exit(0);
	}
	clockid_t clock;
	zdtm_check(clock_getcpuclockid(child, &clock) == 0, "clock_getcpuclockid: %s", strerror(errno));
	struct sigevent ev = { .sigev_notify = SIGEV_NONE };
	timer_t timer;
	zdtm_check(timer_create(clock, &ev, &timer) == 0, "timer_create: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
