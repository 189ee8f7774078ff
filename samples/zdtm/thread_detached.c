/*
 * thread_detached: detached threads survive and go on. Three detached threads count in a loop,
 * each in its own counter; after the restart every counter still grows, a new detached thread can
 * be made and ends, and the old ones end when told to (each signals a semaphore as it goes).
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <semaphore.h>

#define THREADS 3

static volatile long counters[THREADS + 1];
static volatile int stop;
static sem_t ended;

static void *counter(void *arg)
{
	long me = (long)arg;
	while (!stop) {
		counters[me]++;
		if (counters[me] % 1024 == 0)
			sched_yield();
	}
	sem_post(&ended);
	return NULL;
}

static void start_detached(long i)
{
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	zdtm_check(pthread_create(&t, &a, counter, (void *)i) == 0, "pthread_create failed");
	pthread_attr_destroy(&a);
}

int main(void)
{
	sem_init(&ended, 0, 0);
	for (long i = 0; i < THREADS; i++)
		start_detached(i);
	for (long i = 0; i < THREADS; i++)
		while (counters[i] < 1000)
			sched_yield();
	zdtm_ready();
	zdtm_wait();

	long seen[THREADS];
	for (long i = 0; i < THREADS; i++)
		seen[i] = counters[i];
	start_detached(THREADS);
	for (long i = 0; i <= THREADS; i++)
		while (counters[i] < (i < THREADS ? seen[i] : 0) + 1000)
			sched_yield();
	stop = 1;
	for (long i = 0; i <= THREADS; i++)
		zdtm_check(sem_wait(&ended) == 0, "sem_wait failed");
	zdtm_pass();
}
