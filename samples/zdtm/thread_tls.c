/*
 * thread_tls: each thread's own state survives: its thread-local variables (values and addresses),
 * the tid gettid gave it, its signal mask, its alternate signal stack, and its tid as a target:
 * pthread_kill and tgkill on the tid it had reach that same thread, whose handler runs on its own
 * alternate stack. The threads wait in pthread_cond_wait while the checkpoint is taken. Each also
 * keeps its own SSE rounding mode (MXCSR, as CRIU's fpu00 checks a thread's FPU state) and its
 * robust-mutex list (futex-rl); and the threads share one working directory still (clone_fs): a
 * chdir of the main thread after the restart is every thread's.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
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
	unsigned mxcsr;
	void *robust;
	size_t robust_len;
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
	if (__builtin_ia32_stmxcsr() != m->mxcsr)
		return "the thread's MXCSR (its rounding mode) changed";
	void *robust = NULL;
	size_t robust_len = 0;
	if (syscall(SYS_get_robust_list, 0, &robust, &robust_len) != 0 || robust != m->robust || robust_len != m->robust_len)
		return "the thread's robust-mutex list changed";
	char cwd[4096];
	size_t len = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
	if (len < 6 || strcmp(cwd + len - 6, "/fsdir") != 0)
		return "the main thread's chdir after the restart did not reach this thread";
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
	__builtin_ia32_ldmxcsr((__builtin_ia32_stmxcsr() & ~0x6000u) | (unsigned)(m->index % 4) << 13);	/* each its own rounding */
	m->mxcsr = __builtin_ia32_stmxcsr();
	syscall(SYS_get_robust_list, 0, &m->robust, &m->robust_len);
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
	zdtm_check(mkdir("fsdir", 0755) == 0, "mkdir: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();

	zdtm_check(tls_value == 42, "the main thread's thread-local value is %ld, not 42", tls_value);
	zdtm_check(chdir("fsdir") == 0, "chdir: %s", strerror(errno));
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
