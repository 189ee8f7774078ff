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

#define RT_CRC_POLY	0x82f63b78u	/* reflected */
#define RT_CRC_LANE	8192		/* bytes each of three interleaved streams takes per step */

/* a * b modulo the polynomial, both reflected (bit 31 is x^0) */
static uint32_t rt_crc_mul(uint32_t a, uint32_t b)
{
	uint32_t product = 0;
	for (uint32_t bit = 1u << 31; bit; bit >>= 1) {
		if (a & bit)
			product ^= b;
		b = b & 1 ? (b >> 1) ^ RT_CRC_POLY : b >> 1;
	}
	return product;
}

/* x^(8 * bytes) modulo the polynomial: what shifting a register past that many zero bytes multiplies it by */
static uint32_t rt_crc_shift_of(uint64_t bytes)
{
	uint32_t result = 1u << 31, base = 1u << 30;	/* x^0, x^1 */
	for (uint64_t e = bytes * 8; e; e >>= 1) {
		if (e & 1)
			result = rt_crc_mul(result, base);
		base = rt_crc_mul(base, base);
	}
	return result;
}

static uint64_t rt_crc_hw_run(uint64_t c, const unsigned char *p, size_t n)
{
	for (; n >= 8; n -= 8, p += 8)
		__asm__ ("crc32q %1, %0" : "+r"(c) : "m"(*(const rt_u64_unaligned *)p));
	return c;
}

/*
 * Three lanes of RT_CRC_LANE bytes at once: the crc32 instruction has a latency of three cycles
 * and a throughput of one, so one chain uses a third of it. The lanes' registers are joined by
 * linearity: reg(A B) = reg(A) * x^(8|B|) ^ reg0(B).
 */
static uint64_t rt_crc_hw_3way(uint64_t c, const unsigned char **at, size_t *left)
{
	static uint32_t shift;
	const unsigned char *p = *at;
	size_t n = *left;
	if (!shift)
		shift = rt_crc_shift_of(RT_CRC_LANE);
	for (; n >= 3 * RT_CRC_LANE; n -= 3 * RT_CRC_LANE, p += 3 * RT_CRC_LANE) {
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < RT_CRC_LANE; i += 8) {
			__asm__ ("crc32q %1, %0" : "+r"(c) : "m"(*(const rt_u64_unaligned *)(p + i)));
			__asm__ ("crc32q %1, %0" : "+r"(c1) : "m"(*(const rt_u64_unaligned *)(p + RT_CRC_LANE + i)));
			__asm__ ("crc32q %1, %0" : "+r"(c2) : "m"(*(const rt_u64_unaligned *)(p + 2 * RT_CRC_LANE + i)));
		}
		c = rt_crc_mul(rt_crc_mul((uint32_t)c, shift) ^ (uint32_t)c1, shift) ^ (uint32_t)c2;
	}
	*at = p;
	*left = n;
	return c;
}

uint32_t rt_crc32c(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t c = (uint32_t)~crc;
	if (rt_crc_hw < 0)
		rt_crc_hw = rt_cpu_has_sse42();
	if (rt_crc_hw) {
		c = rt_crc_hw_3way(c, &p, &n);
		c = rt_crc_hw_run(c, p, n);
		p += n & ~(size_t)7;
		n &= 7;
	}
	return ~rt_crc_soft((uint32_t)c, p, n);
}
