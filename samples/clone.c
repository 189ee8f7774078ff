/* clone: a child made by the raw clone system call on a stack the parent
 * allocated, sharing the parent's memory (CLONE_VM).  The child stores a
 * value and returns; the parent sees the value only because memory is
 * shared. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_STACK_SIZE (256 * 1024)

static volatile int shared_value;

/* Runs on the new stack with no thread setup of its own, so it touches only
 * plain memory and calls no library function. */
static int child_main(void *arg)
{
	shared_value = *(int *)arg;
	return 9;
}

int main(void)
{
	int value_for_child = 4242;
	char *stack = malloc(CHILD_STACK_SIZE);
	if (!stack) {
		perror("malloc");
		return 1;
	}
	/* The stack grows down on x86-64: pass its top. */
	pid_t pid = clone(child_main, stack + CHILD_STACK_SIZE, CLONE_VM | SIGCHLD, &value_for_child);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	printf("child exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	printf("value written by child: %d\n", shared_value);
	free(stack);
	return 0;
}
