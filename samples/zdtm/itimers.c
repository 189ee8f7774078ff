/*
 * itimers: interval timers survive. ITIMER_REAL is armed for 1000 s with a 500 s interval, and
 * ITIMER_VIRTUAL for 100 ms of user time (which a process blocked in read does not use). After
 * the restart getitimer shows ITIMER_REAL still armed, with no more time left than at the
 * checkpoint and the same interval, and ITIMER_VIRTUAL with its remaining time; spinning then
 * makes SIGVTALRM arrive, and SIGALRM never did.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/time.h>
#include <time.h>

#define REAL_SECONDS 1000
#define REAL_INTERVAL 500
#define VIRTUAL_USEC 100000
#define TICK_SLACK_USEC 10000	/* the kernel adds a tick (at most 10 ms) to a CPU timer each time it is armed */

static volatile sig_atomic_t alarms, virtual_alarms;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_virtual_alarm(int sig) { (void)sig; virtual_alarms++; }

static long usec(struct timeval t) { return t.tv_sec * 1000000L + t.tv_usec; }

static double wall_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_virtual_alarm;
	sigaction(SIGVTALRM, &sa, NULL);
	struct itimerval real = { { REAL_INTERVAL, 0 }, { REAL_SECONDS, 0 } }, virt = { { 0, 0 }, { 0, VIRTUAL_USEC } };
	setitimer(ITIMER_REAL, &real, NULL);
	setitimer(ITIMER_VIRTUAL, &virt, NULL);
	struct itimerval real_before, virtual_before;	/* as the kernel rounded them */
	getitimer(ITIMER_REAL, &real_before);
	getitimer(ITIMER_VIRTUAL, &virtual_before);
	zdtm_ready();
	zdtm_wait();

	struct itimerval now;
	getitimer(ITIMER_REAL, &now);
	zdtm_check(usec(now.it_value) > 0, "ITIMER_REAL is no longer armed");
	zdtm_check(usec(now.it_value) <= usec(real_before.it_value), "ITIMER_REAL has %ld us left, more than the %ld us before",
		usec(now.it_value), usec(real_before.it_value));
	zdtm_check(usec(now.it_interval) == REAL_INTERVAL * 1000000L, "ITIMER_REAL's interval is %ld us, not %d s",
		usec(now.it_interval), REAL_INTERVAL);
	getitimer(ITIMER_VIRTUAL, &now);
	zdtm_check(usec(now.it_value) > 0, "ITIMER_VIRTUAL is no longer armed");
	zdtm_check(usec(now.it_value) <= usec(virtual_before.it_value) + TICK_SLACK_USEC,
		"ITIMER_VIRTUAL has %ld us left, more than the %ld us before", usec(now.it_value), usec(virtual_before.it_value));
	for (double start = wall_seconds(); !virtual_alarms && wall_seconds() - start < 5;)
		;
	zdtm_check(virtual_alarms == 1, "ITIMER_VIRTUAL did not fire within 5 s of spinning");
	zdtm_check(alarms == 0, "ITIMER_REAL fired, 1000 s early");
	zdtm_pass();
}
