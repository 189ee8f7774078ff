/*
 * The protocol every zdtm sample follows (after CRIU's zdtm suite), so that the harness
 * (test/runtime/zdtm.test.ts) can drive them all alike:
 *
 *   1. set up the state the sample is about;
 *   2. zdtm_ready(): print READY on stdout;
 *   3. zdtm_wait(): block in read(0) for the harness's line. The checkpoint signal interrupts
 *      this read; after a restart the read goes on, on the restarted process's stdin;
 *   4. check the state, then zdtm_pass() (PASS, exit 0) or zdtm_fail() (FAIL: reason, exit 1).
 *
 * stdout gets a static buffer before main, so that no sample's stdio ever allocates memory: the
 * heap and the program break hold only what the sample itself put there. Include this first: it
 * defines _GNU_SOURCE.
 */
#ifndef ZDTM_H
#define ZDTM_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((constructor)) static void zdtm_static_stdout(void)
{
	static char buffer[1024];
	setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
}

__attribute__((noreturn, format(printf, 1, 2))) static inline void zdtm_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(1);
}

/* Fails with the message unless `ok`; the message names what differs */
#define zdtm_check(ok, ...) do { if (!(ok)) zdtm_fail(__VA_ARGS__); } while (0)

__attribute__((noreturn)) static inline void zdtm_pass(void)
{
	puts("PASS");
	fflush(stdout);
	exit(0);
}

static inline void zdtm_ready(void)
{
	puts("READY");
	fflush(stdout);
}

/* The harness's line. An EINTR here is a failure: the checkpoint signal is SA_RESTART, so
 * neither a checkpoint nor a restart may make the program see its read interrupted. */
static inline void zdtm_wait(void)
{
	char c = 0;
	while (c != '\n') {
		ssize_t n = read(0, &c, 1);
		zdtm_check(n != 0, "stdin closed before the harness's line");
		zdtm_check(n == 1, "read on stdin failed: %s", strerror(errno));
	}
}

/* checks() run in a forked child (another process: another lock owner, a fork's view of memory);
 * returns its exit status, the value checks() returned */
static inline int zdtm_in_child(int (*checks)(void))
{
	pid_t child = fork();
	int status;
	zdtm_check(child >= 0, "fork: %s", strerror(errno));
	if (child == 0)
		_exit(checks());
	zdtm_check(waitpid(child, &status, 0) == child && WIFEXITED(status), "the child did not exit");
	return WEXITSTATUS(status);
}

static sigjmp_buf zdtm_fault_jump;

static inline void zdtm_on_fault(int sig)
{
	siglongjmp(zdtm_fault_jump, sig);
}

/* Whether touching *p (reading it, or writing it back when `write`) faults: protections checked
 * by behaviour, not only by what /proc/self/maps says */
static inline int zdtm_faults(volatile char *p, int write)
{
	struct sigaction a = { .sa_handler = zdtm_on_fault }, old_segv, old_bus;
	sigaction(SIGSEGV, &a, &old_segv);
	sigaction(SIGBUS, &a, &old_bus);
	int faulted = sigsetjmp(zdtm_fault_jump, 1) != 0;
	if (!faulted) {
		char c = *p;
		if (write)
			*p = c;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted;
}

/* The permissions /proc/self/maps shows for the region holding `addr` ("rw-p"), or "" when none
 * does. Plain read() into a static buffer: no stdio, so no allocation moves the break. */
static inline const char *zdtm_perms_at(const void *addr)
{
	static char maps[64 * 1024], perms[5];
	unsigned long start, end, want = (unsigned long)addr;
	size_t len = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY);
	while (fd >= 0 && len < sizeof maps - 1 && (n = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)n;
	if (fd >= 0)
		close(fd);
	maps[len] = 0;
	for (char *line = maps, *next; *line; line = next + 1) {
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 && start <= want && want < end)
			return perms;
		if (!(next = strchr(line, '\n')))
			break;
	}
	return "";
}

/* The thread (a tid) is blocked in a futex call: waiting for a mutex another thread holds */
static inline int zdtm_in_futex_wait(int tid)
{
	char path[64], line[32] = "";
	if (!tid)
		return 0;
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, line, sizeof line - 1);
	close(fd);
	return n > 4 && !strncmp(line, "202 ", 4);
}

#endif
