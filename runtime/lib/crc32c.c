/* CRC-32C (Castagnoli), the checksum of every image byte: the SSE4.2 crc32 instruction works on
 * general registers, so it is allowed here; CPUs without it take the bitwise loop. */
#include "lib/lib.h"

static int rt_crc_hw = -1;

/* an 8-byte load from any address (the memcpy idiom would call the runtime's byte loop) */
typedef uint64_t __attribute__((may_alias, aligned(1))) rt_u64_unaligned;

static int rt_cpu_has_sse42(void)
{
	uint32_t a = 1, b, c = 0, d;
	__asm__ ("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (c >> 20) & 1;
}

static uint32_t rt_crc_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

uint32_t rt_crc32c(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t c = (uint32_t)~crc;
	if (rt_crc_hw < 0)
		rt_crc_hw = rt_cpu_has_sse42();
	if (rt_crc_hw) {
		for (; n >= 8; n -= 8, p += 8)
			__asm__ ("crc32q %1, %0" : "+r"(c) : "m"(*(const rt_u64_unaligned *)p));
	}
	return ~rt_crc_soft((uint32_t)c, p, n);
}
