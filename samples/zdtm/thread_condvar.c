/*
 * thread_condvar: a mutex and condition-variable handoff between threads survives. Four threads
 * pass one token round a ring (each waits on the condition variable for its turn, takes the token,
 * hands it to the next) while the main thread waits for the harness. The token's count goes on
 * growing across the checkpoint; after the restart every thread is still in the ring (each takes
 * more turns), the handoff order is never broken, and the threads join with their own results.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>

#define RING 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static long token;		/* handoffs so far; thread token % RING holds it */
static long turns[RING];
static int broken, stop;

static void *ring_member(void *arg)
{
	long me = (long)arg;
	pthread_mutex_lock(&lock);
	while (!stop) {
		if (token % RING != me) {
			pthread_cond_wait(&turn_changed, &lock);
			continue;
		}
		if (turns[me] != token / RING)
			broken = 1;	/* a turn skipped or taken twice */
		turns[me]++;
		token++;
		pthread_cond_broadcast(&turn_changed);
	}
	pthread_mutex_unlock(&lock);
	return (void *)(me * 100);
}

static long token_now(void)
{
	pthread_mutex_lock(&lock);
	long t = token;
	pthread_mutex_unlock(&lock);
	return t;
}

int main(void)
{
	pthread_t t[RING];
	for (long i = 0; i < RING; i++)
		zdtm_check(pthread_create(&t[i], NULL, ring_member, (void *)i) == 0, "pthread_create failed");
	while (token_now() < 1000)
		sched_yield();
	zdtm_ready();
	zdtm_wait();

	long at_go = token_now();
	while (token_now() < at_go + 10 * RING)
		sched_yield();
	pthread_mutex_lock(&lock);
	stop = 1;
	pthread_cond_broadcast(&turn_changed);
	pthread_mutex_unlock(&lock);
	for (long i = 0; i < RING; i++) {
		void *result;
		zdtm_check(pthread_join(t[i], &result) == 0, "pthread_join of thread %ld failed", i);
		zdtm_check(result == (void *)(i * 100), "thread %ld returned %p", i, result);
	}
	zdtm_check(!broken, "the ring's order was broken");
	for (long i = 0; i < RING; i++)
		zdtm_check(turns[i] >= token / RING, "thread %ld took %ld turns of %ld", i, turns[i], token / RING);
	zdtm_pass();
}
