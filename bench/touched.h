/* What the memory benchmarks share: len bytes of anonymous memory, every page touched (so that a
 * checkpoint finds them all present), then "ready" on stdout; 0 when it cannot be mapped. */
#ifndef BENCH_TOUCHED_H
#define BENCH_TOUCHED_H
#include <stdio.h>
#include <sys/mman.h>

static unsigned char *touched_memory(size_t len)
{
	unsigned char *mem = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 0;
	for (size_t i = 0; i < len; i += 4096)
		mem[i] = (unsigned char)(i >> 12);
	printf("ready\n");
	fflush(stdout);
	return mem;
}
#endif
