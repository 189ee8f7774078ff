/* thread_pool [ROUNDS [CALLS]]: a pool that creates and joins threads in a loop, round after
 * round, until a line arrives on stdin (or, given ROUNDS, for that many rounds). In round r each of four threads
 * keeps its partial sum in a thread-local variable, works a while (making CALLS getppid calls, 0
 * unless given), and returns r*4+t+1; the main thread joins them and adds the results. Every 256
 * rounds it prints "rounds N". At the end it prints the rounds and the total, and PASS if the total
 * is the sum of 1 .. 4*rounds: a result lost, joined twice or wrong breaks it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define POOL 4

static volatile int stop;
static long calls;
static __thread unsigned long partial;

struct job { unsigned long round, index; };

static void *work(void *arg)
{
	struct job *j = arg;
	partial = 0;
	for (unsigned long i = 0; i < 20000; i++)
		partial += (i ^ j->round) & 1;
	for (long i = 0; i < calls; i++)
		getppid();
	if (partial > 20000)
		return NULL;	/* cannot happen: a broken thread-local would show here */
	return (void *)(j->round * POOL + j->index + 1);
}

static void *watch_stdin(void *arg)
{
	char c;
	(void)arg;
	while (read(0, &c, 1) == 1 && c != '\n')
		;
	stop = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t watcher, t[POOL];
	struct job jobs[POOL];
	unsigned long rounds = 0, total = 0, last = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	calls = argc > 2 ? atol(argv[2]) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!last && pthread_create(&watcher, NULL, watch_stdin, NULL) != 0)
		return 2;
	printf("READY\n");
	while (!stop) {
		for (unsigned long i = 0; i < POOL; i++) {
			jobs[i] = (struct job){ rounds, i };
			if (pthread_create(&t[i], NULL, work, &jobs[i]) != 0)
				return 3;
		}
		for (unsigned long i = 0; i < POOL; i++) {
			void *r;
			if (pthread_join(t[i], &r) != 0)
				return 4;
			total += (unsigned long)r;
		}
		if (++rounds % 256 == 0)
			printf("rounds %lu\n", rounds);
		if (rounds == last)
			break;
	}
	if (!last)
		pthread_join(watcher, NULL);
	unsigned long n = rounds * POOL;
	printf("%s after %lu rounds: total %lu\n", total == n * (n + 1) / 2 ? "PASS" : "FAIL", rounds, total);
	return 0;
}
