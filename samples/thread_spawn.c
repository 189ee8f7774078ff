/* thread_spawn: four threads each run a child twenty times at once and wait for it: with
 * posix_spawn (a vfork-like clone on a new stack), with libc's vfork, and with a vfork system call
 * of the sample's own, so that vfork parents of two call sites are suspended at the same time.
 * Each thread must come back from its own call to its own code: every child is counted once, and
 * every one exits 0. */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define SPAWNS 20

extern char **environ;
static int exited_ok[THREADS];

/* vfork from a system call site of this function's own; the child execs at once */
static pid_t own_vfork_true(char **argv)
{
	long pid;
	__asm__ volatile("syscall" : "=a"(pid) : "a"(58L /* vfork */) : "rcx", "r11", "memory");
	if (pid == 0) {
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	return (pid_t)pid;
}

static void *spawner(void *arg)
{
	long me = (long)arg;
	char *argv[] = { "true", NULL };
	for (int i = 0; i < SPAWNS; i++) {
		pid_t pid;
		int status;
		if (me == 3) {
			pid = own_vfork_true(argv);
		} else if (me % 2) {
			pid = vfork();
			if (pid == 0) {
				execve("/bin/true", argv, environ);
				_exit(127);
			}
		} else if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0) {
			continue;
		}
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			exited_ok[me]++;
	}
	return (void *)me;
}

int main(void)
{
	pthread_t t[THREADS];
	int total = 0, back = 0;
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, spawner, (void *)i);
	for (long i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		back += r == (void *)i;
		total += exited_ok[i];
	}
	printf("%d threads came back to their own code, %d of %d children exited 0\n", back, total, THREADS * SPAWNS);
	return 0;
}
