/*
 * thread_robust: robust mutexes held across a restart. One thread holds mutex `handed` and another
 * waits to lock it; a third holds mutex `orphan`. After the harness's line the holder unlocks
 * `handed`, and the waiter must then get it (0, not EOWNERDEAD) and give it back; the third thread
 * ends without unlocking `orphan`, and the main thread's lock of it must answer EOWNERDEAD (the
 * owner died, after the restart, with its old tid in the word), be made consistent, unlocked, and
 * locked again normally.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>

static pthread_mutex_t handed, orphan;
static pthread_barrier_t held;		/* both holders have their mutexes */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go, waiter_result = -1, waiter_tid;

static void wait_for_go(void)
{
	pthread_mutex_lock(&gate);
	while (!go)
		pthread_cond_wait(&go_cond, &gate);
	pthread_mutex_unlock(&gate);
}

static void *hand_on(void *arg)
{
	(void)arg;
	zdtm_check(pthread_mutex_lock(&handed) == 0, "the holder could not lock `handed`");
	pthread_barrier_wait(&held);
	wait_for_go();
	int r = pthread_mutex_unlock(&handed);
	zdtm_check(r == 0, "the holder's unlock of `handed` after the restart: %s", strerror(r));
	return NULL;
}

static void *die_holding(void *arg)
{
	(void)arg;
	zdtm_check(pthread_mutex_lock(&orphan) == 0, "the third thread could not lock `orphan`");
	pthread_barrier_wait(&held);
	wait_for_go();
	return NULL;	/* ends holding it */
}

static void *take_over(void *arg)
{
	(void)arg;
	__atomic_store_n(&waiter_tid, (int)gettid(), __ATOMIC_SEQ_CST);
	int r = pthread_mutex_lock(&handed);	/* blocks until the holder lets go, after the restart */
	if (r == 0)
		r = pthread_mutex_unlock(&handed);
	__atomic_store_n(&waiter_result, r, __ATOMIC_SEQ_CST);
	return NULL;
}

static void make_robust(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

int main(void)
{
	pthread_t holder, dier, waiter;
	make_robust(&handed);
	make_robust(&orphan);
	pthread_barrier_init(&held, NULL, 3);
	pthread_create(&holder, NULL, hand_on, NULL);
	pthread_create(&dier, NULL, die_holding, NULL);
	pthread_barrier_wait(&held);
	pthread_create(&waiter, NULL, take_over, NULL);
	while (!zdtm_in_futex_wait(__atomic_load_n(&waiter_tid, __ATOMIC_SEQ_CST)))
		usleep(1000);
	zdtm_ready();
	zdtm_wait();
	pthread_mutex_lock(&gate);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&gate);
	pthread_join(holder, NULL);
	pthread_join(waiter, NULL);
	zdtm_check(waiter_result == 0, "the waiter's lock and unlock of `handed`: %s", strerror(waiter_result));
	pthread_join(dier, NULL);
	int r = pthread_mutex_lock(&orphan);
	zdtm_check(r == EOWNERDEAD, "locking `orphan` after its owner ended: %s, not EOWNERDEAD", strerror(r));
	zdtm_check(pthread_mutex_consistent(&orphan) == 0, "pthread_mutex_consistent failed");
	zdtm_check(pthread_mutex_unlock(&orphan) == 0, "unlocking `orphan` once consistent failed");
	zdtm_check(pthread_mutex_lock(&orphan) == 0, "`orphan` could not be locked again");
	pthread_mutex_unlock(&orphan);
	zdtm_pass();
}
