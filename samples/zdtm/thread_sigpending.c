/*
 * thread_sigpending: signals pending on one thread that is not the first, sent to that thread
 * alone while its mask blocks them: SIGUSR1 by tgkill, and SIGRTMIN+4 twice by
 * rt_tgsigqueueinfo with the values 41 and 42. The first thread has other signals pending (SIGWINCH
 * by tgkill to itself) so that the two kinds are told apart. After the restart the thread must
 * still have exactly its own pending (sigpending: SIGUSR1 and SIGRTMIN+4, not SIGWINCH), take them
 * with sigtimedwait with their siginfo (SI_TKILL from this process, which glibc's sigtimedwait
 * shows as SI_USER; SI_QUEUE with 41, then 42),
 * and nothing more; the first thread must find its SIGWINCH.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static int target_tid;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go;
static const char *failure;

static int take(int sig, siginfo_t *info)
{
	sigset_t one;
	struct timespec none = { 0, 0 };
	sigemptyset(&one);
	sigaddset(&one, sig);
	return sigtimedwait(&one, info, &none);
}

static void *target(void *arg)
{
	(void)arg;
	siginfo_t info;
	sigset_t pending;
	pthread_mutex_lock(&gate);
	target_tid = (int)syscall(SYS_gettid);
	pthread_cond_broadcast(&cond);
	while (!go)
		pthread_cond_wait(&cond, &gate);
	pthread_mutex_unlock(&gate);
	sigpending(&pending);
	if (!sigismember(&pending, SIGUSR1) || !sigismember(&pending, SIGRTMIN + 4))
		failure = "the thread's own signals are not pending on it after the restart";
	else if (take(SIGUSR1, &info) != SIGUSR1 || (info.si_code != SI_TKILL && info.si_code != SI_USER) || info.si_pid != getpid())
		failure = "SIGUSR1 is not there with the tgkill's siginfo";
	else if (take(SIGRTMIN + 4, &info) != SIGRTMIN + 4 || info.si_code != SI_QUEUE || info.si_value.sival_int != 41)
		failure = "the first SIGRTMIN+4 is not there with its value 41";
	else if (take(SIGRTMIN + 4, &info) != SIGRTMIN + 4 || info.si_value.sival_int != 42)
		failure = "the second SIGRTMIN+4 is not there with its value 42";
	else if (take(SIGRTMIN + 4, &info) >= 0 || take(SIGUSR1, &info) >= 0 || take(SIGWINCH, &info) >= 0)
		failure = "the thread has more pending than was sent to it";
	return NULL;
}

static void queue_to(int tid, int sig, int value)
{
	siginfo_t info;
	memset(&info, 0, sizeof info);
	info.si_signo = sig;
	info.si_code = SI_QUEUE;
	info.si_pid = getpid();
	info.si_uid = getuid();
	info.si_value.sival_int = value;
	zdtm_check(syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &info) == 0, "rt_tgsigqueueinfo: %s", strerror(errno));
}

int main(void)
{
	sigset_t blocked;
	pthread_t t;
	siginfo_t info;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGRTMIN + 4);
	sigaddset(&blocked, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);	/* the thread inherits the mask */
	pthread_create(&t, NULL, target, NULL);
	pthread_mutex_lock(&gate);
	while (!target_tid)
		pthread_cond_wait(&cond, &gate);
	pthread_mutex_unlock(&gate);
	zdtm_check(syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1) == 0, "tgkill: %s", strerror(errno));
	queue_to(target_tid, SIGRTMIN + 4, 41);
	queue_to(target_tid, SIGRTMIN + 4, 42);
	zdtm_check(syscall(SYS_tgkill, getpid(), (int)syscall(SYS_gettid), SIGWINCH) == 0, "tgkill: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	pthread_mutex_lock(&gate);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&gate);
	pthread_join(t, NULL);
	zdtm_check(!failure, "%s", failure);
	zdtm_check(take(SIGWINCH, &info) == SIGWINCH, "the first thread's SIGWINCH is gone");
	zdtm_check(take(SIGUSR1, &info) < 0 && take(SIGRTMIN + 4, &info) < 0, "the first thread has the other thread's signals");
	zdtm_pass();
}
