/* heap: allocator churn that moves the program break and creates and drops
 * anonymous mappings, so a restored process must get back every heap page
 * and mapping, with the allocator's own bookkeeping still valid.  Each
 * block carries a pattern derived from its seed; a block whose pattern has
 * changed is counted as corrupt. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLOT_COUNT 256
#define OPERATIONS 30000
#define LARGE_MIN (1u << 20) /* past every allocator's mmap threshold */
#define BRK_GROWTH (4u << 20)

struct block {
	unsigned char *data;
	size_t size;
	unsigned seed;
};

struct stats {
	unsigned long mallocs, reallocs, frees, large, corrupt;
	uint64_t checksum;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t next_random(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

/* Mostly small blocks, some medium, and about 1 in 200 large. */
static size_t random_size(void)
{
	uint32_t kind = next_random() % 200;
	if (kind == 0)
		return LARGE_MIN + next_random() % LARGE_MIN;
	if (kind < 50)
		return 256 + next_random() % (16u << 10);
	return 1 + next_random() % 256;
}

static unsigned char pattern_byte(unsigned seed, size_t index)
{
	return (unsigned char)(seed + index * 7 + (index >> 8));
}

static void fill(struct block *b)
{
	for (size_t i = 0; i < b->size; i++)
		b->data[i] = pattern_byte(b->seed, i);
}

static int intact(const struct block *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b->data[i] != pattern_byte(b->seed, i))
			return 0;
	return 1;
}

static void mix(struct stats *st, uint64_t value)
{
	st->checksum = (st->checksum ^ value) * 0x100000001b3ULL;
}

static void check_and_mix(struct stats *st, const struct block *b, size_t len)
{
	if (!intact(b, len))
		st->corrupt++;
	mix(st, len);
	if (len > 0)
		mix(st, b->data[len / 2]);
}

static void allocate(struct stats *st, struct block *b)
{
	b->size = random_size();
	b->seed = next_random();
	b->data = malloc(b->size);
	if (!b->data) {
		perror("malloc");
		exit(1);
	}
	st->mallocs++;
	st->large += b->size >= LARGE_MIN;
	fill(b);
}

/* realloc must keep the common prefix; the whole block is then refilled. */
static void resize(struct stats *st, struct block *b)
{
	size_t new_size = random_size();
	unsigned char *moved = realloc(b->data, new_size);
	if (!moved) {
		perror("realloc");
		exit(1);
	}
	b->data = moved;
	check_and_mix(st, b, b->size < new_size ? b->size : new_size);
	b->size = new_size;
	b->seed = next_random();
	st->reallocs++;
	st->large += new_size >= LARGE_MIN;
	fill(b);
}

static void release(struct stats *st, struct block *b)
{
	check_and_mix(st, b, b->size);
	free(b->data);
	b->data = NULL;
	st->frees++;
}

static void churn(struct stats *st, struct block *slots)
{
	for (int op = 0; op < OPERATIONS; op++) {
		struct block *b = &slots[next_random() % SLOT_COUNT];
		if (!b->data)
			allocate(st, b);
		else if (next_random() % 3 == 0)
			resize(st, b);
		else
			release(st, b);
	}
	for (int i = 0; i < SLOT_COUNT; i++)
		if (slots[i].data)
			release(st, &slots[i]);
}

/* Raw SYS_brk because musl's sbrk() refuses nonzero increments.  The break
 * is put back before anything else allocates, so the allocator's own idea
 * of the break stays true. */
static void grow_break_directly(void)
{
	uintptr_t start = (uintptr_t)syscall(SYS_brk, 0);
	uintptr_t grown = (uintptr_t)syscall(SYS_brk, start + BRK_GROWTH);
	int grew = grown == start + BRK_GROWTH;
	int ok = 0;
	if (grew) {
		struct block region = { (unsigned char *)start, BRK_GROWTH, 42 };
		fill(&region);
		ok = intact(&region, region.size);
	}
	int restored = (uintptr_t)syscall(SYS_brk, start) == start;
	printf("brk grew by %u KiB: %s\n", BRK_GROWTH >> 10, grew ? "yes" : "no");
	printf("brk region pattern intact: %s\n", ok ? "yes" : "no");
	printf("brk restored: %s\n", restored ? "yes" : "no");
}

int main(void)
{
	static struct block slots[SLOT_COUNT];
	struct stats st = { .checksum = 0xcbf29ce484222325ULL };

	grow_break_directly();
	churn(&st, slots);
	printf("mallocs=%lu reallocs=%lu frees=%lu large=%lu\n", st.mallocs,
	       st.reallocs, st.frees, st.large);
	printf("corrupt blocks: %lu\n", st.corrupt);
	printf("checksum=%016llx\n", (unsigned long long)st.checksum);
	return st.corrupt != 0;
}
