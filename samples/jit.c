/*
 * Code made at run time, which no rewriter can see: a page filled with `mov eax, 39; syscall;
 * ret` (getpid) and called. Relinked, the call is seen only when the SUD net is armed
 * (CKPT_SUD=on, or relinked with --sud-net always).
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	static const unsigned char code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	void *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 1;
	memcpy(page, code, sizeof code);
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC))
		return 1;
	long (*generated)(void) = (long (*)(void))page;
	printf("generated code returned the pid: %s\n", generated() == getpid() ? "yes" : "no");
	return 0;
}
