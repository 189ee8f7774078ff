/*
 * pi_mutex_wait: a priority-inheritance mutex (PTHREAD_PRIO_INHERIT) held by the first thread and
 * waited for by another, blocked in FUTEX_LOCK_PI. The mutex's word names its owner by tid, and a
 * restarted thread keeps writing its old tid (the C library caches it), which the kernel cannot
 * find: the checkpoint warns, naming the waiting thread, and a restart refuses the image.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>

static pthread_mutex_t pi;
static int waiter_tid;

static void *waiter(void *arg)
{
	(void)arg;
	__atomic_store_n(&waiter_tid, (int)gettid(), __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&pi);
	pthread_mutex_unlock(&pi);
	return NULL;
}

int main(void)
{
	pthread_mutexattr_t a;
	pthread_t t;
	pthread_mutexattr_init(&a);
	zdtm_check(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT) == 0, "PTHREAD_PRIO_INHERIT");
	pthread_mutex_init(&pi, &a);
	pthread_mutex_lock(&pi);
	pthread_create(&t, NULL, waiter, NULL);
	while (!zdtm_in_futex_wait(__atomic_load_n(&waiter_tid, __ATOMIC_SEQ_CST)))
		usleep(1000);
	zdtm_ready();
	zdtm_wait();
	pthread_mutex_unlock(&pi);
	pthread_join(t, NULL);
	zdtm_pass();
}
