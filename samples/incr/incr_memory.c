/*
 * Incremental checkpoints (test/runtime/incremental.test.ts): a process with MIB MiB of anonymous
 * memory (argv[1], default 1024) that writes 1% of its pages each round, from a pool of pages
 * spread over the whole mapping, with munmap, mmap again, mremap, madvise(DONTNEED), brk up and
 * down, mprotect and a fork that scribbles in its own copy between some rounds.
 *
 * Protocol, one line on stdin each: "r" runs the next round and prints "READY <round>"; "check"
 * checks every byte of the pool pages, their neighbours, the moved region and the heap against what
 * the rounds so far must have left (replayed from the schedule, not read from memory), prints
 * "PASS <round>" and exits 0, or "FAIL: ..." and exits 1. It prints "READY 0" when set up.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE		4096UL
#define POOL		8192		/* pages the rounds write, spread over the mapping */
#define UNMAPPED	(-2)
#define ZERO		(-1)
#define R2_PAGES	1024		/* a 4 MiB region moved and grown by mremap */
#define HEAP_PAGES	256		/* 1 MiB from sbrk */

static unsigned char *big;
static uint64_t big_pages, stride, per_round;
static unsigned char *r2;
static unsigned char *heap;
static uint64_t heap_pages;
static int round_no;
static int model[POOL];			/* the replay's view of each pool page: the round that wrote it, ZERO or UNMAPPED */
static int r2_moved, heap_model[HEAP_PAGES];

static uint64_t word(uint64_t page, int round, uint64_t i)
{
	uint64_t x = page * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(round + 1) * 0xc2b2ae3d27d4eb4fULL ^ i * 0x165667b19e3779f9ULL;
	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

static void fill(unsigned char *p, uint64_t page, int round)
{
	uint64_t *w = (uint64_t *)p;
	for (uint64_t i = 0; i < PAGE / 8; i++)
		w[i] = word(page, round, i);
}

static const char *differs(const unsigned char *p, uint64_t page, int round)
{
	const uint64_t *w = (const uint64_t *)p;
	for (uint64_t i = 0; i < PAGE / 8; i++)
		if (w[i] != (round == ZERO ? 0 : word(page, round, i)))
			return round == ZERO ? "not zero" : "not the round's data";
	return 0;
}

static unsigned char *pool_page(int i) { return big + (uint64_t)i * stride * PAGE; }

/* The pool pages [first, last) as one address range of the big mapping */
static void pool_range(int first, int last, unsigned char **at, size_t *len)
{
	*at = pool_page(first);
	*len = (size_t)(last - first) * stride * PAGE;
}

/* One round: with real, on memory; without, on the model only (the replay a check makes) */
static void step(int r, int real)
{
	unsigned char *at;
	size_t len;
	if (r == 9) {	/* mapped again where it was unmapped: a new region, zeros */
		pool_range(100, 164, &at, &len);
		if (real && mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != at)
			exit(3);
		for (int i = 100; i < 164; i++)
			model[i] = ZERO;
	}
	if (r == 31) {
		pool_range(200, 300, &at, &len);
		if (real && mprotect(at, len, PROT_READ | PROT_WRITE))
			exit(3);
	}
	uint64_t first = r == 0 ? 0 : ((uint64_t)r * per_round) % POOL, n = r == 0 ? POOL : per_round;
	for (uint64_t k = 0; k < n; k++) {
		int i = (int)((first + k) % POOL);
		if (model[i] == UNMAPPED)
			continue;
		if (real)
			fill(pool_page(i), (uint64_t)i, r);
		model[i] = r;
	}
	if (r == 0 && real)
		for (uint64_t p = 0; p < R2_PAGES; p++)
			fill(r2 + p * PAGE, 100000 + p, 0);
	if (r == 5) {	/* unmapped */
		pool_range(100, 164, &at, &len);
		if (real && munmap(at, len))
			exit(3);
		for (int i = 100; i < 164; i++)
			model[i] = UNMAPPED;
	}
	if (r == 12) {	/* moved to a new address and grown: the new half is zeros */
		if (real) {
			void *to = mremap(r2, R2_PAGES * PAGE, 2 * R2_PAGES * PAGE, MREMAP_MAYMOVE);
			unsigned char *hole = mmap(0, 4 * R2_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (to == MAP_FAILED || hole == MAP_FAILED)
				exit(3);
			/* then to an address of its own choosing, so that it is surely moved */
			r2 = mremap(to, 2 * R2_PAGES * PAGE, 2 * R2_PAGES * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, hole + R2_PAGES * PAGE);
			if (r2 == MAP_FAILED)
				exit(3);
		}
		r2_moved = 1;
	}
	if (r == 15) {	/* discarded: zeros again, whatever a parent image held */
		for (int i = 400; i < 1400; i += 3) {
			if (real && madvise(pool_page(i), PAGE, MADV_DONTNEED))
				exit(3);
			model[i] = ZERO;
		}
	}
	if (r == 18) {
		if (real) {
			heap = sbrk(0);
			if (sbrk(HEAP_PAGES * PAGE) == (void *)-1)
				exit(3);
			for (int p = 0; p < HEAP_PAGES; p++)
				fill(heap + p * PAGE, 200000 + (uint64_t)p, 18);
		}
		heap_pages = HEAP_PAGES;
		for (int p = 0; p < HEAP_PAGES; p++)
			heap_model[p] = 18;
	}
	if (r == 21) {	/* the heap shrinks by half... */
		if (real && sbrk(-(long)(HEAP_PAGES / 2 * PAGE)) == (void *)-1)
			exit(3);
		heap_pages = HEAP_PAGES / 2;
	}
	if (r == 24) {	/* ...and grows again: zeros where it had data */
		if (real && sbrk(HEAP_PAGES / 2 * PAGE) == (void *)-1)
			exit(3);
		heap_pages = HEAP_PAGES;
		for (int p = HEAP_PAGES / 2; p < HEAP_PAGES; p++)
			heap_model[p] = ZERO;
	}
	if (r == 27 && real) {	/* a child writes over everything in its own copy */
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < POOL; i++)
				if (model[i] != UNMAPPED)
					memset(pool_page(i), 0xa5, PAGE);
			memset(heap, 0x5a, heap_pages * PAGE);
			memset(r2, 0x33, 2 * R2_PAGES * PAGE);
			_exit(0);
		}
		int status;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || status)
			exit(3);
	}
	if (r == 30) {
		pool_range(200, 300, &at, &len);
		if (real && mprotect(at, len, PROT_READ))
			exit(3);
	}
	if (r == 33 && real)	/* one page of the heap and of the moved region written again */
		fill(heap + 3 * PAGE, 200003, 33), fill(r2 + 5 * PAGE, 100005, 33);
	if (r == 33)
		heap_model[3] = 33;
}

static void fail(const char *what, uint64_t page, const char *why)
{
	printf("FAIL: %s page %llu: %s\n", what, (unsigned long long)page, why);
	fflush(stdout);
	exit(1);
}

static void check(void)
{
	const char *why;
	int saved = round_no;
	memset(model, 0, sizeof model);
	r2_moved = 0;
	for (int r = 0; r <= saved; r++)
		step(r, 0);
	for (int i = 0; i < POOL; i++) {
		if (model[i] == UNMAPPED)
			continue;
		if ((why = differs(pool_page(i), (uint64_t)i, model[i])))
			fail("pool", (uint64_t)i, why);
		if ((why = differs(pool_page(i) + PAGE, 0, ZERO)))
			fail("neighbour of pool", (uint64_t)i, why);
	}
	for (uint64_t p = 0; p < (r2_moved ? 2 : 1) * R2_PAGES; p++) {
		int round = p >= R2_PAGES ? ZERO : saved >= 33 && p == 5 ? 33 : 0;
		if ((why = differs(r2 + p * PAGE, 100000 + p, round)))
			fail("moved region", p, why);
	}
	for (uint64_t p = 0; p < heap_pages; p++)
		if ((why = differs(heap + p * PAGE, 200000 + p, heap_model[p])))
			fail("heap", p, why);
	printf("PASS %d\n", saved);
	fflush(stdout);
	exit(0);
}

int main(int argc, char **argv)
{
	static char out[256], in[256];
	setvbuf(stdout, out, _IOFBF, sizeof out);	/* no stdio buffer from malloc: the break is the rounds' */
	setvbuf(stdin, in, _IOLBF, sizeof in);
	uint64_t mib = argc > 1 ? strtoull(argv[1], 0, 10) : 1024;
	big_pages = mib * 256;
	stride = big_pages / POOL;
	per_round = big_pages / 100;
	big = mmap(0, big_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	r2 = mmap(0, R2_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED || r2 == MAP_FAILED || stride < 2 || per_round > POOL)
		return 2;
	madvise(big, big_pages * PAGE, MADV_NOHUGEPAGE);	/* a page written is a page stored, not 2 MiB */
	step(0, 1);
	printf("READY 0\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		if (!strcmp(line, "check\n"))
			check();
		if (strcmp(line, "r\n"))
			continue;
		step(++round_no, 1);
		printf("READY %d\n", round_no);
		fflush(stdout);
	}
	return 0;
}
