/*
 * thread_tls: each thread's own state survives: its thread-local variables (values and addresses),
 * the tid gettid gave it, its signal mask, its alternate signal stack, and its tid as a target:
 * pthread_kill and tgkill on the tid it had reach that same thread, whose handler runs on its own
 * alternate stack. The threads wait in pthread_cond_wait while the checkpoint is taken.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>

#define THREADS 6
#define ALT_SIZE (64 * 1024)

static __thread long tls_value = -1;
static __thread char tls_name[32];
static __thread volatile uintptr_t tls_handler_at;	/* where its SIGUSR1 handler's local was */

struct member {
	pthread_t thread;
	long index;
	pid_t tid;
	long *tls_at;
	sigset_t mask;
	char alt[ALT_SIZE] __attribute__((aligned(16)));
	const char *failure;
	volatile int ready, checked;
};

static struct member members[THREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go;

static void on_usr1(int sig)
{
	volatile char here = (char)sig;
	tls_handler_at = (uintptr_t)&here;
}

static const char *check_self(struct member *m)
{
	sigset_t now;
	stack_t ss;
	if (tls_value != m->index * 1000 + 7 || &tls_value != m->tls_at)
		return "a thread-local value or its address changed";
	char want[32];
	snprintf(want, sizeof want, "member-%ld", m->index);
	if (strcmp(tls_name, want) != 0)
		return "a thread-local string changed";
	if (syscall(SYS_gettid) != m->tid)
		return "gettid answers another tid";
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	for (int s = 1; s < 32; s++)
		if (s != SIGUSR2 && sigismember(&now, s) != sigismember(&m->mask, s)) {
			static char why[64];
			snprintf(why, sizeof why, "the signal mask changed (signal %d)", s);
			return why;
		}
	if (sigaltstack(NULL, &ss) != 0 || ss.ss_sp != m->alt || ss.ss_size != ALT_SIZE || ss.ss_flags != 0)
		return "the alternate signal stack changed";
	return NULL;
}

static void *member_main(void *arg)
{
	struct member *m = arg;
	tls_value = m->index * 1000 + 7;
	snprintf(tls_name, sizeof tls_name, "member-%ld", m->index);
	m->tls_at = &tls_value;
	m->tid = (pid_t)syscall(SYS_gettid);
	stack_t ss = { .ss_sp = m->alt, .ss_size = ALT_SIZE, .ss_flags = 0 };
	sigaltstack(&ss, NULL);
	sigemptyset(&m->mask);
	sigaddset(&m->mask, SIGRTMIN + 1 + (int)(m->index % 3));	/* each its own mask */
	if (m->index % 2)
		sigaddset(&m->mask, SIGHUP);
	pthread_sigmask(SIG_SETMASK, &m->mask, NULL);
	pthread_mutex_lock(&lock);
	m->ready = 1;
	while (!go)
		pthread_cond_wait(&go_cond, &lock);
	pthread_mutex_unlock(&lock);
	m->failure = check_self(m);
	/* signals sent to this thread by its tid reach it, and run on its alternate stack */
	while (!m->failure && !tls_handler_at)
		sched_yield();
	if (!m->failure && (tls_handler_at < (uintptr_t)m->alt || tls_handler_at >= (uintptr_t)m->alt + ALT_SIZE))
		m->failure = "the handler did not run on the thread's alternate stack";
	m->checked = 1;
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	sigaction(SIGUSR1, &sa, NULL);
	for (long i = 0; i < THREADS; i++) {
		members[i].index = i;
		zdtm_check(pthread_create(&members[i].thread, NULL, member_main, &members[i]) == 0, "pthread_create failed");
	}
	for (long i = 0; i < THREADS; i++)
		while (!__atomic_load_n(&members[i].ready, __ATOMIC_SEQ_CST))
			sched_yield();
	tls_value = 42;
	zdtm_ready();
	zdtm_wait();

	zdtm_check(tls_value == 42, "the main thread's thread-local value is %ld, not 42", tls_value);
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&lock);
	for (long i = 0; i < THREADS; i++) {
		struct member *m = &members[i];
		int r = i % 2 ? pthread_kill(m->thread, SIGUSR1)
			      : (int)syscall(SYS_tgkill, getpid(), m->tid, SIGUSR1);
		zdtm_check(r == 0, "signalling thread %ld (tid %d) failed", i, m->tid);
	}
	for (long i = 0; i < THREADS; i++) {
		zdtm_check(pthread_join(members[i].thread, NULL) == 0, "pthread_join failed");
		zdtm_check(!members[i].failure, "thread %ld: %s", i, members[i].failure);
	}
	zdtm_pass();
}
