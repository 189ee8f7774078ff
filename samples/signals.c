/* signals: signal state and delivery that a checkpoint runtime sits in the
 * middle of -- handlers with and without SA_RESTART and SA_SIGINFO, blocked
 * and pending signals, timers that wake pause()/sigsuspend(), and a fast
 * timer whose handler (itself making a system call) lands while the main
 * loop is in or near a system call.  Only facts that hold on every run are
 * printed; raw tick counts vary and are not. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define FAST_TIMER_US 100
#define SYSCALL_LOOP_CALLS 200000
#define ORDER_LOG_SIZE 16

static const char *yes_no(int value) { return value ? "yes" : "no"; }

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Every handler runs with all signals blocked, so handlers never nest and
 * the delivery order below is the kernel's order, not a nesting artefact. */
static void set_handler(int sig, void (*handler)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		die("sigaction");
}

static void set_info_handler(int sig, void (*action)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = action;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		die("sigaction");
}

static void change_mask(int how, int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigprocmask(how, &set, NULL) < 0)
		die("sigprocmask");
}

static void arm_real_timer(long first_us, long interval_us)
{
	struct itimerval timer = {
		.it_interval = { interval_us / 1000000, interval_us % 1000000 },
		.it_value = { first_us / 1000000, first_us % 1000000 },
	};
	if (setitimer(ITIMER_REAL, &timer, NULL) < 0)
		die("setitimer");
}

/* --- where a signal came from: SA_SIGINFO --- */

static volatile sig_atomic_t info_signo, info_code, info_pid, info_value;

static void record_siginfo(int sig, siginfo_t *info, void *context)
{
	(void)context;
	info_signo = sig;
	info_code = info->si_code;
	info_pid = info->si_pid;
	info_value = info->si_code == SI_QUEUE ? info->si_value.sival_int : 0;
}

static const char *code_name(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	default: return "other";
	}
}

static void report_siginfo(const char *how)
{
	printf("%s: signo is SIGUSR1: %s, code=%s, sender is self: %s", how,
	       yes_no(info_signo == SIGUSR1), code_name(info_code),
	       yes_no(info_pid == getpid()));
	if (info_code == SI_QUEUE)
		printf(", value=%d", (int)info_value);
	putchar('\n');
}

static void check_siginfo_sources(void)
{
	set_info_handler(SIGUSR1, record_siginfo);
	kill(getpid(), SIGUSR1);
	report_siginfo("kill");
	raise(SIGUSR1);
	report_siginfo("raise");
	sigqueue(getpid(), SIGUSR1, (union sigval){ .sival_int = 1234 });
	report_siginfo("sigqueue");
}

/* --- pending while blocked, then delivered in the kernel's order --- */

static volatile sig_atomic_t order_log[ORDER_LOG_SIZE];
static volatile sig_atomic_t order_len;

static void log_delivery(int sig)
{
	if (order_len < ORDER_LOG_SIZE)
		order_log[order_len++] = sig;
}

static const char *signal_label(int sig)
{
	if (sig == SIGUSR1) return "SIGUSR1";
	if (sig == SIGUSR2) return "SIGUSR2";
	if (sig == SIGRTMIN + 1) return "SIGRTMIN+1";
	return "other";
}

static void print_pending(const int *sigs, int count)
{
	sigset_t pending;
	sigpending(&pending);
	printf("pending while blocked:");
	for (int i = 0; i < count; i++)
		if (sigismember(&pending, sigs[i]))
			printf(" %s", signal_label(sigs[i]));
	putchar('\n');
}

/* Standard signals coalesce while pending; realtime signals queue.  On
 * unblocking, Linux delivers the lowest-numbered pending signal first. */
static void check_pending_delivery_order(void)
{
	const int sigs[] = { SIGUSR1, SIGUSR2, SIGRTMIN + 1 };
	sigset_t set, old;
	sigemptyset(&set);
	for (int i = 0; i < 3; i++) {
		set_handler(sigs[i], log_delivery, SA_RESTART);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, &old);
	for (int round = 0; round < 3; round++)
		for (int i = 2; i >= 0; i--) /* highest first: order is not raise order */
			raise(sigs[i]);
	print_pending(sigs, 3);
	order_len = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("delivery order after unblock:");
	for (int i = 0; i < order_len; i++)
		printf(" %s", signal_label(order_log[i]));
	putchar('\n');
}

/* --- SA_RESTART: does a read blocked on an empty pipe resume? --- */

static int wake_pipe[2];
static volatile sig_atomic_t alarm_seen;

static void feed_pipe_on_alarm(int sig)
{
	int saved_errno = errno; /* the interrupted code may be reading errno */
	char byte = (char)sig;
	(void)!write(wake_pipe[1], &byte, 1);
	alarm_seen = 1;
	errno = saved_errno;
}

static const char *read_across_timer(int flags)
{
	char byte;
	set_handler(SIGALRM, feed_pipe_on_alarm, flags);
	arm_real_timer(20000, 0);
	ssize_t got = read(wake_pipe[0], &byte, 1);
	if (got < 0 && errno == EINTR) {
		(void)!read(wake_pipe[0], &byte, 1); /* drain the handler's byte */
		return "interrupted with EINTR";
	}
	return got == 1 ? "restarted, then read 1 byte" : "unexpected result";
}

static void check_restart_semantics(void)
{
	if (pipe(wake_pipe) < 0)
		die("pipe");
	printf("read without SA_RESTART: %s\n", read_across_timer(0));
	printf("read with SA_RESTART: %s\n", read_across_timer(SA_RESTART));
	close(wake_pipe[0]);
	close(wake_pipe[1]);
}

/* --- timers waking pause() and sigsuspend() --- */

static void note_alarm(int sig)
{
	(void)sig;
	alarm_seen = 1;
}

static void check_alarm_wakes_pause(void)
{
	set_handler(SIGALRM, note_alarm, 0);
	alarm_seen = 0;
	alarm(1);
	int result = pause();
	printf("pause woken by alarm(): %s, returned EINTR: %s\n", yes_no(alarm_seen),
	       yes_no(result < 0 && errno == EINTR));
}

static void check_itimer_wakes_sigsuspend(void)
{
	sigset_t old, during, after;
	set_handler(SIGALRM, note_alarm, 0);
	change_mask(SIG_BLOCK, SIGALRM);
	sigprocmask(SIG_SETMASK, NULL, &old);
	during = old;
	sigdelset(&during, SIGALRM);
	alarm_seen = 0;
	arm_real_timer(10000, 0);
	int result = sigsuspend(&during);
	int woke_with_eintr = result < 0 && errno == EINTR;
	sigprocmask(SIG_SETMASK, NULL, &after);
	change_mask(SIG_UNBLOCK, SIGALRM);
	printf("sigsuspend woken by ITIMER_REAL: %s, returned EINTR: %s, mask restored: %s\n",
	       yes_no(alarm_seen), yes_no(woke_with_eintr), yes_no(sigismember(&after, SIGALRM)));
}

/* --- a fast timer firing during a loop of cheap system calls --- */

static volatile sig_atomic_t ticks, handler_saw_wrong_pid;
static pid_t my_pid;

static void tick_with_syscall(int sig)
{
	int saved_errno = errno;
	(void)sig;
	if (getpid() != my_pid)
		handler_saw_wrong_pid = 1;
	ticks++;
	errno = saved_errno;
}

static void check_timer_during_syscalls(void)
{
	pid_t parent = getppid();
	long wrong_results = 0;
	my_pid = getpid();
	set_handler(SIGALRM, tick_with_syscall, SA_RESTART);
	arm_real_timer(FAST_TIMER_US, FAST_TIMER_US);
	for (int i = 0; i < SYSCALL_LOOP_CALLS; i++)
		wrong_results += getppid() != parent;
	arm_real_timer(0, 0);
	printf("fast timer ticked during %d getppid calls: %s\n", SYSCALL_LOOP_CALLS,
	       yes_no(ticks > 0));
	printf("getppid always right: %s, getpid in handler always right: %s\n",
	       yes_no(wrong_results == 0), yes_no(!handler_saw_wrong_pid));
}

int main(void)
{
	check_siginfo_sources();
	check_pending_delivery_order();
	check_restart_semantics();
	check_alarm_wakes_pause();
	check_itimer_wakes_sigsuspend();
	check_timer_during_syscalls();
	return 0;
}
