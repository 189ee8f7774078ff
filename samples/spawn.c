/* spawn: process creation a runtime must survive -- fork, vfork (child
 * borrows the parent's memory and stack), posix_spawn (glibc runs the child
 * on a fresh clone() stack), a pipe between parent and child, and execve of
 * this same program.  The parent waits for each child before printing, so
 * the output order is fixed. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWNED_MARKER "--spawned"
#define EXECED_MARKER "--execed"
#define PIPE_BYTES (256 * 1024) /* several times a pipe's capacity */

extern char **environ;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void self_path(char *path, size_t size)
{
	ssize_t len = readlink("/proc/self/exe", path, size - 1);
	if (len < 0)
		die("readlink /proc/self/exe");
	path[len] = '\0';
}

/* "exit N", or how it died otherwise. */
static void print_status(const char *what, int status)
{
	if (WIFEXITED(status))
		printf("%s: exit %d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by signal %d\n", what, WTERMSIG(status));
}

static int wait_for(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	return status;
}

/* Anything still buffered would be written twice, once by each process. */
static pid_t fork_flushed(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

static void check_fork(void)
{
	pid_t pid = fork_flushed();
	if (pid == 0) {
		printf("fork child: running\n");
		exit(7);
	}
	print_status("fork child", wait_for(pid));
}

static void check_vfork(void)
{
	fflush(stdout);
	pid_t pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0)
		_exit(5); /* the only safe thing a vfork child may do here */
	print_status("vfork child", wait_for(pid));
}

static void check_posix_spawn(const char *self)
{
	char *argv[] = { (char *)self, SPAWNED_MARKER, NULL };
	pid_t pid;
	fflush(stdout);
	int err = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	if (err != 0) {
		fprintf(stderr, "posix_spawn: %s\n", strerror(err));
		exit(1);
	}
	print_status("posix_spawn child", wait_for(pid));
}

static unsigned char pattern_byte(size_t index)
{
	return (unsigned char)(index * 13 + (index >> 9));
}

static void write_pattern_and_exit(int fd)
{
	unsigned char buf[4096];
	for (size_t sent = 0; sent < PIPE_BYTES; sent += sizeof buf) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = pattern_byte(sent + i);
		for (size_t done = 0; done < sizeof buf;) {
			ssize_t n = write(fd, buf + done, sizeof buf - done);
			if (n < 0)
				_exit(1);
			done += (size_t)n;
		}
	}
	_exit(0);
}

/* Returns how many bytes arrived; *intact is cleared on the first wrong byte. */
static size_t read_pattern(int fd, int *intact)
{
	unsigned char buf[3000]; /* not a divisor of the writer's chunk */
	size_t total = 0;
	ssize_t n;
	*intact = 1;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern_byte(total + (size_t)i))
				*intact = 0;
		total += (size_t)n;
	}
	return total;
}

static void check_pipe(void)
{
	int fds[2];
	if (pipe(fds) < 0)
		die("pipe");
	pid_t pid = fork_flushed();
	if (pid == 0) {
		close(fds[0]);
		write_pattern_and_exit(fds[1]);
	}
	close(fds[1]);
	int intact;
	size_t total = read_pattern(fds[0], &intact);
	close(fds[0]);
	printf("pipe: %zu bytes from child, pattern intact: %s\n", total, intact ? "yes" : "no");
	print_status("pipe child", wait_for(pid));
}

/* Replaces this process; the new image prints the last line and exits 0. */
static void exec_self(const char *self)
{
	char *argv[] = { (char *)self, EXECED_MARKER, NULL };
	fflush(stdout);
	execve(self, argv, environ);
	die("execve");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], SPAWNED_MARKER) == 0) {
		printf("spawned child: running\n");
		return 4;
	}
	if (argc > 1 && strcmp(argv[1], EXECED_MARKER) == 0) {
		printf("execve: new image running\n");
		return 0;
	}
	char self[4096];
	self_path(self, sizeof self);
	check_fork();
	check_vfork();
	check_posix_spawn(self);
	check_pipe();
	exec_self(self);
}
