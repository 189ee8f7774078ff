/*
 * timer_thread: a POSIX timer that runs a function in a thread (SIGEV_THREAD, CRIU's
 * pthread_timers): the C library aims the timer's signal at a helper thread of its own. A restart
 * makes the timers again before it makes the threads, so it cannot aim it there, and aimed at the
 * first thread the signal would kill the process: the checkpoint warns, and a restart refuses the
 * image, naming the timer.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <time.h>

static volatile int fired;

static void on_expiry(union sigval v)
{
	(void)v;
	__atomic_store_n(&fired, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	timer_t timer;
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_expiry };
	zdtm_check(timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0, "timer_create: %s", strerror(errno));
	struct itimerspec spec = { { 0, 20000000L }, { 0, 20000000L } };
	zdtm_check(timer_settime(timer, 0, &spec, NULL) == 0, "timer_settime: %s", strerror(errno));
	while (!__atomic_load_n(&fired, __ATOMIC_SEQ_CST))
		usleep(1000);
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
