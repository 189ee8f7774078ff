/*
 * thread_blocked: threads blocked at the checkpoint come back to the same wait. One thread waits
 * for the harness's line in read(0) (the checkpoint and the restart break into that read); one
 * waits on a condition variable, one in sem_wait, one in sem_timedwait with a far deadline, one
 * sleeps in nanosleep over and over, one waits in poll (no descriptors, a timeout) over and over;
 * the main thread waits in pthread_join for the reader. After the line, the reader wakes the
 * waiters; none may have seen EINTR, a spurious wake-up or an early timeout, and every sleep and
 * poll must have lasted as long as it asked.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go, waiting, stop_sleeping;
static sem_t go_sem, go_timed_sem;
static const char *failure;

static void fail_later(const char *what)
{
	__atomic_store_n(&failure, what, __ATOMIC_SEQ_CST);
}

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	waiting++;
	while (!go)
		pthread_cond_wait(&go_cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *sem_waiter(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
	if (sem_wait(&go_sem) != 0)
		fail_later("sem_wait failed");
	else if (!__atomic_load_n(&go, __ATOMIC_SEQ_CST))
		fail_later("sem_wait returned before the go");
	return NULL;
}

static void *timed_sem_waiter(void *arg)
{
	(void)arg;
	struct timespec far;
	clock_gettime(CLOCK_REALTIME, &far);
	far.tv_sec += 3600;
	__atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
	int r = sem_timedwait(&go_timed_sem, &far);
	if (r != 0)
		fail_later(errno == EINTR ? "sem_timedwait saw EINTR" : "sem_timedwait failed");
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Sleeps of 50 ms: each returns 0 and lasts at least that long (time stopped does not count less) */
static void *sleeper(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&stop_sleeping, __ATOMIC_SEQ_CST)) {
		struct timespec d = { 0, 50 * 1000 * 1000 };
		double start = now();
		if (nanosleep(&d, NULL) != 0)
			fail_later("nanosleep was interrupted");
		else if (now() - start < 0.049)
			fail_later("nanosleep ended early");
	}
	return NULL;
}

/* polls of 50 ms with nothing to wait for: each times out (0), never EINTR, never early */
static void *poller(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&stop_sleeping, __ATOMIC_SEQ_CST)) {
		double start = now();
		int r = poll(NULL, 0, 50);
		if (r != 0)
			fail_later(r < 0 && errno == EINTR ? "poll was interrupted" : "poll failed");
		else if (now() - start < 0.049)
			fail_later("poll ended early");
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	zdtm_wait();
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&lock);
	sem_post(&go_sem);
	sem_post(&go_timed_sem);
	return NULL;
}

int main(void)
{
	pthread_t waiters[5], r;
	void *(*kinds[5])(void *) = { cond_waiter, sem_waiter, timed_sem_waiter, sleeper, poller };
	sem_init(&go_sem, 0, 0);
	sem_init(&go_timed_sem, 0, 0);
	for (int i = 0; i < 5; i++)
		zdtm_check(pthread_create(&waiters[i], NULL, kinds[i], NULL) == 0, "pthread_create failed");
	while (__atomic_load_n(&waiting, __ATOMIC_SEQ_CST) < 5)
		sched_yield();
	zdtm_check(pthread_create(&r, NULL, reader, NULL) == 0, "pthread_create failed");
	zdtm_ready();
	zdtm_check(pthread_join(r, NULL) == 0, "pthread_join of the reader failed");
	for (int i = 0; i < 3; i++)
		zdtm_check(pthread_join(waiters[i], NULL) == 0, "pthread_join of waiter %d failed", i);
	__atomic_store_n(&stop_sleeping, 1, __ATOMIC_SEQ_CST);
	zdtm_check(pthread_join(waiters[3], NULL) == 0, "pthread_join of the sleeper failed");
	zdtm_check(pthread_join(waiters[4], NULL) == 0, "pthread_join of the poller failed");
	zdtm_check(!failure, "%s", failure);
	zdtm_pass();
}
