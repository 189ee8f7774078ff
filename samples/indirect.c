/*
 * A jump the rewriter cannot see: an indirect jmp straight onto a syscall instruction that sits
 * inside a patched window. The rewriter leaves an int3 there and the runtime redirects it into the
 * trampoline, so the call is made and its result arrives as usual.
 */
#include <stdio.h>
#include <unistd.h>

static long getpid_through_indirect_jump(void)
{
	long ret;
	__asm__ __volatile__(
		"lea 1f(%%rip), %%rcx\n\t"
		"mov $39, %%eax\n\t"
		"jmp *%%rcx\n\t"
		"nop\n\t"
		/* the window the rewriter sees: mov (5 bytes) then the syscall at offset 5 */
		"mov $39, %%eax\n"
		"1:\tsyscall\n\t"
		: "=a"(ret) : : "rcx", "r11", "memory");
	return ret;
}

int main(void)
{
	long direct = getpid();
	for (int i = 0; i < 3; i++) {
		long seen = getpid_through_indirect_jump();
		printf("indirect call %d returned the pid: %s\n", i, seen == direct ? "yes" : "no");
	}
	return 0;
}
