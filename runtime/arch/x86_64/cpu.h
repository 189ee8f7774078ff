/* What the runtime asks of the x86-64 CPU itself. */
#ifndef RT_ARCH_CPU_H
#define RT_ARCH_CPU_H

#include <stdint.h>

/* XCR0: the xsave features the OS has enabled on this CPU */
static inline uint64_t rt_xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

#endif
