/*
 * posix_timers: POSIX timers (timer_create) come back with their ids, clocks, signals, sigev
 * values, time left and intervals (CRIU's posix_timers). Four timers are made and the first
 * deleted, so the ids kept are not 0, 1, 2: a monotonic one armed for 1000 s with a 500 s
 * interval, a realtime one never armed (SIGEV_NONE), and one on the process's CPU clock armed for
 * 150 ms of CPU time with SIGUSR1 and a value. After the restart /proc/self/timers lists the same
 * timers (pids aside), timer_gettime gives the first no more time than before and the same
 * interval, the second exists and is disarmed, and spinning makes the third fire with its value.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <time.h>

#define CPU_NSEC 150000000L
#define SLACK_NSEC 10000000L	/* a CPU timer is armed to the next tick */
#define VALUE 0x5eed

static volatile sig_atomic_t fired, fired_value, fired_code;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	fired++;
	fired_value = si->si_value.sival_int;
	fired_code = si->si_code;
}

static long nsec(struct timespec t) { return t.tv_sec * 1000000000L + t.tv_nsec; }

static timer_t make_timer(clockid_t clock, int notify, int sig, int value)
{
	struct sigevent ev = { .sigev_notify = notify, .sigev_signo = sig, .sigev_value.sival_int = value };
	timer_t t;
	zdtm_check(timer_create(clock, &ev, &t) == 0, "timer_create: %s", strerror(errno));
	return t;
}

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* /proc/self/timers, its timers sorted (the kernel lists them in no fixed order), the pid of each
 * "notify:" line left out */
static void timers_text(char *out, size_t size)
{
	static char raw[4096];
	char *blocks[16];
	int count = 0;
	int fd = open("/proc/self/timers", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, raw, sizeof raw - 1);
	zdtm_check(n >= 0, "cannot read /proc/self/timers");
	close(fd);
	raw[n] = 0;
	for (char *s = raw; *s; s++) {
		if (!strncmp(s, "ID:", 3) && (s == raw || s[-1] == '\n') && count < 16)
			blocks[count++] = s;
		if (*s == '.' && s - raw >= 3 && (!strncmp(s - 3, "pid", 3) || !strncmp(s - 3, "tid", 3))) {
			char *digits = s + 1, *after = digits;
			while (*after >= '0' && *after <= '9')
				after++;
			memmove(digits, after, strlen(after) + 1);
		}
	}
	for (int i = 0; i < count; i++) {	/* each block its own string, without its last newline */
		char *end = i + 1 < count ? blocks[i + 1] - 1 : blocks[i] + strlen(blocks[i]);
		if (end > blocks[i] && end[-1] == '\n')
			end[-1] = 0;
		if (i + 1 < count)
			*end = 0;
	}
	qsort(blocks, (size_t)count, sizeof blocks[0], by_text);
	out[0] = 0;
	for (int i = 0; i < count; i++) {
		strncat(out, blocks[i], size - strlen(out) - 2);
		strcat(out, "\n");
	}
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigaction(SIGUSR1, &sa, NULL);
	timer_t gone = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGALRM, 1);
	timer_t mono = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 3, 0x1234);
	timer_t idle = make_timer(CLOCK_REALTIME, SIGEV_NONE, 0, 0);
	timer_t cpu = make_timer(CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGUSR1, VALUE);
	timer_delete(gone);
	struct itimerspec mono_spec = { { 500, 0 }, { 1000, 0 } }, cpu_spec = { { 0, 0 }, { 0, CPU_NSEC } };
	timer_settime(mono, 0, &mono_spec, NULL);
	timer_settime(cpu, 0, &cpu_spec, NULL);
	struct itimerspec mono_before, cpu_before;
	timer_gettime(mono, &mono_before);
	timer_gettime(cpu, &cpu_before);
	static char listed_before[4096], listed_after[4096];
	timers_text(listed_before, sizeof listed_before);
	zdtm_ready();
	zdtm_wait();

	timers_text(listed_after, sizeof listed_after);
	zdtm_check(!strcmp(listed_before, listed_after), "/proc/self/timers differs:\n%s\nwas\n%s", listed_after, listed_before);
	struct itimerspec now;
	zdtm_check(timer_gettime(mono, &now) == 0, "the monotonic timer is gone: %s", strerror(errno));
	zdtm_check(nsec(now.it_value) > 0 && nsec(now.it_value) <= nsec(mono_before.it_value),
		"the monotonic timer has %ld ns left, before %ld", nsec(now.it_value), nsec(mono_before.it_value));
	zdtm_check(now.it_interval.tv_sec == 500 && now.it_interval.tv_nsec == 0, "the monotonic timer's interval is %lds",
		(long)now.it_interval.tv_sec);
	zdtm_check(timer_gettime(idle, &now) == 0, "the idle timer is gone: %s", strerror(errno));
	zdtm_check(nsec(now.it_value) == 0, "the idle timer is armed");
	zdtm_check(timer_gettime(gone, &now) != 0, "the deleted timer exists again");
	zdtm_check(timer_gettime(cpu, &now) == 0 && nsec(now.it_value) > 0 &&
		nsec(now.it_value) <= nsec(cpu_before.it_value) + SLACK_NSEC, "the CPU timer has %ld ns left, before %ld",
		nsec(now.it_value), nsec(cpu_before.it_value));
	struct timespec start, t;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while (!fired && t.tv_sec - start.tv_sec < 20);
	zdtm_check(fired == 1, "the CPU-clock timer did not fire within 20 s of spinning");
	zdtm_check(fired_value == VALUE && fired_code == SI_TIMER, "its signal came with value %#x, code %d",
		(int)fired_value, (int)fired_code);
	zdtm_pass();
}
