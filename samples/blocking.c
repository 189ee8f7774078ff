/* blocking: blocking system calls whose result a checkpoint must not change.
 *
 *   blocking [MS]   nanosleep, clock_nanosleep (relative and absolute), pause woken by SIGALRM,
 *                   wait4 for a child, read of a pipe written late by a child; each MS
 *                   milliseconds long (default 100). It prints each call's result and errno,
 *                   which must be the same when a checkpoint signal arrives in the middle of any.
 *   blocking own    a SIGUSR2 handler of the program's own: raise(SIGUSR2) and kill(getpid())
 *                   reach it, and sigprocmask sees the bit it set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, usr2s;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_usr2(int sig) { (void)sig; usr2s++; }

static void report(const char *what, long r)
{
	printf("%s = %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
	fflush(stdout);
}

static struct timespec ms_to_ts(long ms)
{
	return (struct timespec){ ms / 1000, (ms % 1000) * 1000000L };
}

static void sleeps(long ms)
{
	struct timespec t = ms_to_ts(ms), rem = { 0, 0 }, now;
	report("nanosleep", nanosleep(&t, &rem));
	errno = clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL);
	report("clock_nanosleep relative", errno ? -1 : 0);
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_sec += (now.tv_nsec + t.tv_nsec) / 1000000000L + t.tv_sec;
	now.tv_nsec = (now.tv_nsec + t.tv_nsec) % 1000000000L;
	errno = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &now, NULL);
	report("clock_nanosleep absolute", errno ? -1 : 0);
}

static void pause_for_alarm(long ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	long r = pause();
	report("pause", r);
	printf("alarms = %d\n", (int)alarms);
}

static void wait_child(long ms)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec t = ms_to_ts(ms);
		nanosleep(&t, NULL);
		_exit(7);
	}
	int status = 0;
	long r = waitpid(pid, &status, 0);
	report("waitpid is the child", r == pid);
	printf("child exit = %d\n", WEXITSTATUS(status));
}

static void read_late_pipe(long ms)
{
	int fds[2];
	char buf[32] = { 0 };
	if (pipe(fds) < 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec t = ms_to_ts(ms);
		nanosleep(&t, NULL);
		(void)!write(fds[1], "late line\n", 10);
		_exit(0);
	}
	close(fds[1]);
	long r = read(fds[0], buf, sizeof buf - 1);
	report("read", r);
	printf("read text = %s", buf);
	waitpid(pid, NULL, 0);
}

static int own_signal(void)
{
	struct sigaction sa = { .sa_handler = on_usr2 };
	sigset_t set, old;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	kill(getpid(), SIGUSR2);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigprocmask(SIG_BLOCK, NULL, &old);
	printf("usr2 handled = %d, blocked = %d\n", (int)usr2s, sigismember(&old, SIGUSR2));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "own"))
		return own_signal();
	long ms = argc > 1 ? atol(argv[1]) : 100;
	sleeps(ms);
	pause_for_alarm(ms);
	wait_child(ms);
	read_late_pipe(ms);
	return 0;
}
