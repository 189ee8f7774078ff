/*
 * mem_heap: malloc'd memory survives. Thousands of small blocks of varied sizes (every third one
 * freed again, so the allocator has free lists to keep) and one large block past every
 * allocator's mmap threshold, each filled with a pattern of its own. After the restart every
 * pattern is intact, and the allocator still works: it hands out, reuses and grows blocks.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>

#define SMALL_BLOCKS 5000
#define LARGE_SIZE (8u << 20)

static unsigned char *small[SMALL_BLOCKS];
static uint64_t *large;

static size_t small_size(unsigned i) { return 8 + (i * 37) % 600; }
static unsigned char small_byte(unsigned i, size_t j) { return (unsigned char)(i * 131 + j * 7 + 1); }
static uint64_t large_word(size_t k) { return k * 0x9e3779b97f4a7c15ULL ^ 0x5a5a5a5a5a5a5a5aULL; }

static void fill(void)
{
	for (unsigned i = 0; i < SMALL_BLOCKS; i++) {
		small[i] = malloc(small_size(i));
		zdtm_check(small[i] != NULL, "malloc of small block %u failed", i);
		for (size_t j = 0; j < small_size(i); j++)
			small[i][j] = small_byte(i, j);
	}
	for (unsigned i = 0; i < SMALL_BLOCKS; i += 3) {
		free(small[i]);
		small[i] = NULL;
	}
	large = malloc(LARGE_SIZE);
	zdtm_check(large != NULL, "malloc of the large block failed");
	for (size_t k = 0; k < LARGE_SIZE / 8; k++)
		large[k] = large_word(k);
}

static void check_patterns(void)
{
	for (unsigned i = 0; i < SMALL_BLOCKS; i++)
		for (size_t j = 0; small[i] && j < small_size(i); j++)
			zdtm_check(small[i][j] == small_byte(i, j), "small block %u byte %zu is %#x, not %#x",
				i, j, small[i][j], small_byte(i, j));
	for (size_t k = 0; k < LARGE_SIZE / 8; k++)
		zdtm_check(large[k] == large_word(k), "large block word %zu changed", k);
}

/* The allocator's own bookkeeping came back too: it can reuse the freed blocks and grow */
static void check_allocator(void)
{
	for (unsigned i = 0; i < SMALL_BLOCKS; i += 3) {
		small[i] = malloc(small_size(i));
		zdtm_check(small[i] != NULL, "malloc after the restart failed");
		memset(small[i], 0xee, small_size(i));
	}
	for (unsigned i = 1; i < SMALL_BLOCKS; i += 3)
		free(small[i]);
	uint64_t *grown = realloc(large, 2 * (size_t)LARGE_SIZE);
	zdtm_check(grown != NULL, "realloc of the large block failed");
	for (size_t k = 0; k < LARGE_SIZE / 8; k++)
		zdtm_check(grown[k] == large_word(k), "large block word %zu lost by realloc", k);
	for (size_t k = LARGE_SIZE / 8; k < 2 * LARGE_SIZE / 8; k++)
		grown[k] = ~large_word(k);
	for (size_t k = LARGE_SIZE / 8; k < 2 * LARGE_SIZE / 8; k++)
		zdtm_check(grown[k] == ~large_word(k), "the grown part of the large block does not keep what was written");
	free(grown);
}

int main(void)
{
	fill();
	zdtm_ready();
	zdtm_wait();
	check_patterns();
	check_allocator();
	zdtm_pass();
}
