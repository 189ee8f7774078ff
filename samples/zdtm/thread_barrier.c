/*
 * thread_barrier: threads meeting at a pthread barrier phase after phase survive. In each phase
 * each of five threads adds its number to the phase's sum, all meet at the barrier, the first
 * checks the sum (1 + 2 + ... + 5) and clears it, and all meet again. The phases go on across the
 * checkpoint until the main thread asks them to stop; after the restart they must go on, no phase
 * may have missed a thread or let one cross a barrier early, and all five leave at the same phase.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>

#define THREADS 5

static pthread_barrier_t barrier;
static long sums[2];		/* the phase's, and the next one's */
static volatile long phase_reached, bad_phases, stop_at = -1;
static volatile int stop_requested;
static long left_at[THREADS];

static void *member(void *arg)
{
	long me = (long)arg;
	for (long phase = 0;; phase++) {
		__atomic_add_fetch(&sums[phase % 2], me + 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&barrier);
		if (me == 0) {
			if (sums[phase % 2] != THREADS * (THREADS + 1) / 2)
				bad_phases++;
			sums[phase % 2] = 0;
			phase_reached = phase + 1;
			if (stop_requested)
				stop_at = phase;
		}
		pthread_barrier_wait(&barrier);
		if (stop_at == phase) {
			left_at[me] = phase;
			return NULL;
		}
	}
}

int main(void)
{
	pthread_t t[THREADS];
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (long i = 0; i < THREADS; i++)
		zdtm_check(pthread_create(&t[i], NULL, member, (void *)i) == 0, "pthread_create failed");
	while (phase_reached < 100)
		sched_yield();
	zdtm_ready();
	zdtm_wait();

	long at_go = phase_reached;
	while (phase_reached < at_go + 50)
		sched_yield();
	stop_requested = 1;
	for (long i = 0; i < THREADS; i++)
		zdtm_check(pthread_join(t[i], NULL) == 0, "pthread_join failed");
	zdtm_check(!bad_phases, "%ld phases had a wrong sum", bad_phases);
	for (long i = 1; i < THREADS; i++)
		zdtm_check(left_at[i] == left_at[0], "thread %ld left at phase %ld, thread 0 at %ld", i, left_at[i], left_at[0]);
	zdtm_pass();
}
