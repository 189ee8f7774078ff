/*
 * lazy-probe MIB: memory a lazy restart gives back (test/runtime/lazy.test.ts). MIB MiB of
 * anonymous memory, every word written with a pattern, and a 1 MiB buffer of 0x5a bytes; it prints
 * READY and waits, to be checkpointed, in a read() of INPUT bytes into the buffer, across pages.
 * After the restart that read is its first act: the kernel writes into pages of the buffer no one
 * has touched since. It prints BACK with its resident KiB, then waits for a line "check", checks
 * every word of its memory and the buffer, grows the buffer to 2 MiB (mremap, which must add
 * zeros), drops the first MiB of its memory (MADV_DONTNEED, which must leave zeros), and prints
 * PASS, or FAIL and what was wrong.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BUF_SIZE	(1UL << 20)
#define INPUT_AT	(5 * 4096 + 100)	/* the read starts inside a page and ends three pages on */
#define INPUT		(3 * 4096 + 50)

static uint64_t word_of(size_t i)
{
	return (i + 1) * 0x9e3779b97f4a7c15ULL;
}

static unsigned char input_byte(size_t i)
{
	return (unsigned char)(i * 7 + 3);
}

static long resident_kib(void)
{
	long size = 0, pages = -1;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &pages) != 2)
			pages = -1;
		fclose(f);
	}
	return pages * 4;
}

static void fail(const char *what, size_t at)
{
	printf("FAIL %s at %zu\n", what, at);
	exit(1);
}

static void read_exactly(unsigned char *to, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(0, to + got, n - got);
		if (r <= 0)
			fail(r ? "read" : "end of input", got);
		got += (size_t)r;
	}
}

static void check(const uint64_t *mem, size_t words, unsigned char *buf)
{
	for (size_t i = 0; i < words; i++)
		if (mem[i] != word_of(i))
			fail("memory", i * 8);
	buf = mremap(buf, BUF_SIZE, 2 * BUF_SIZE, MREMAP_MAYMOVE);
	if (buf == MAP_FAILED)
		fail("mremap", 0);
	for (size_t i = BUF_SIZE; i < 2 * BUF_SIZE; i++)
		if (buf[i])
			fail("zeros where mremap grew the buffer", i);
	for (size_t i = 0; i < BUF_SIZE; i++) {
		int in = i >= INPUT_AT && i < INPUT_AT + INPUT;
		if (buf[i] != (in ? input_byte(i - INPUT_AT) : 0x5a))
			fail(in ? "input read after the restart" : "buffer", i);
	}
	if (madvise((void *)mem, 1UL << 20, MADV_DONTNEED))
		fail("madvise", 0);
	for (size_t i = 0; i < (1UL << 20) / 8; i++)
		if (mem[i])
			fail("zeros after MADV_DONTNEED", i * 8);
	if (mem[(1UL << 20) / 8] != word_of((1UL << 20) / 8))
		fail("memory after the range dropped", 1UL << 20);
}

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoul(argv[1], 0, 10) : 1024) << 20, words = len / 8;
	uint64_t *mem = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *buf = mmap(0, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || buf == MAP_FAILED)
		fail("mmap", 0);
	for (size_t i = 0; i < words; i++)
		mem[i] = word_of(i);
	memset(buf, 0x5a, BUF_SIZE);
	printf("READY\n");
	fflush(stdout);
	read_exactly(buf + INPUT_AT, INPUT);
	printf("BACK rss_kib=%ld\n", resident_kib());
	fflush(stdout);
	char line[6];
	read_exactly((unsigned char *)line, sizeof line);
	if (memcmp(line, "check\n", sizeof line))
		fail("the line check", 0);
	check(mem, words, buf);
	printf("PASS\n");
	return 0;
}
