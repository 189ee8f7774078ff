/*
 * altstack: the alternate signal stack survives. The sample sets a 64 KiB sigaltstack and an
 * SA_ONSTACK handler. After the restart sigaltstack reports the same stack, not in use, and the
 * handler, raised, runs on it (a local variable of the handler lies inside it) and sigaltstack
 * called from the handler says SS_ONSTACK.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>

#define ALT_SIZE (64 * 1024)

static char alt[ALT_SIZE] __attribute__((aligned(16)));
static volatile uintptr_t handler_local;
static volatile int handler_flags;

static void on_usr1(int sig)
{
	volatile char here = (char)sig;
	stack_t now;
	sigaltstack(NULL, &now);
	handler_local = (uintptr_t)&here;
	handler_flags = now.ss_flags;
}

int main(void)
{
	stack_t set = { .ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0 }, now;
	zdtm_check(sigaltstack(&set, NULL) == 0, "sigaltstack failed: %s", strerror(errno));
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	sigaction(SIGUSR1, &sa, NULL);
	zdtm_ready();
	zdtm_wait();

	zdtm_check(sigaltstack(NULL, &now) == 0, "sigaltstack(NULL, &old) failed");
	zdtm_check(now.ss_sp == alt && now.ss_size == ALT_SIZE, "the alternate stack is %p + %zu, not %p + %d",
		now.ss_sp, now.ss_size, (void *)alt, ALT_SIZE);
	zdtm_check(now.ss_flags == 0, "the alternate stack's flags are %#x, not 0", now.ss_flags);
	raise(SIGUSR1);
	zdtm_check(handler_local >= (uintptr_t)alt && handler_local < (uintptr_t)alt + ALT_SIZE,
		"the SA_ONSTACK handler ran at %#lx, off the alternate stack", (unsigned long)handler_local);
	zdtm_check(handler_flags == SS_ONSTACK, "sigaltstack in the handler says %#x, not SS_ONSTACK", handler_flags);
	zdtm_pass();
}
