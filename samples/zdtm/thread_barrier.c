/*
 * thread_barrier: threads meeting at a pthread barrier phase after phase survive. Each of five
 * threads adds its number to the phase's slot between two barrier waits; the phase count goes on
 * growing across the checkpoint, and after the restart every phase's slot holds the sum of all
 * five (no thread missed a phase, none crossed a barrier early).
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>

#define THREADS 5
#define PHASES 4096

static pthread_barrier_t barrier;
static long sums[PHASES];
static volatile long phase_reached;
static volatile int stop_after = PHASES;

static void *member(void *arg)
{
	long me = (long)arg;
	for (long phase = 0; phase < PHASES; phase++) {
		__atomic_add_fetch(&sums[phase], me + 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&barrier);
		if (me == 0)
			phase_reached = phase + 1;
		if (phase + 1 >= stop_after)
			break;
		pthread_barrier_wait(&barrier);
	}
	return NULL;
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
	zdtm_check(at_go < PHASES - 200, "the threads ran out of phases before the checkpoint");
	while (phase_reached < at_go + 50)
		sched_yield();
	for (long i = 0; i < THREADS; i++)
		zdtm_check(pthread_join(t[i], NULL) == 0, "pthread_join failed");
	for (long p = 0; p < PHASES; p++)
		zdtm_check(sums[p] == THREADS * (THREADS + 1) / 2, "phase %ld's sum is %ld", p, sums[p]);
	zdtm_pass();
}
