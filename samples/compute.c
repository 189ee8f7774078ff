/* compute: a long, system-call-free loop with a 64-bit checksum, so a
 * checkpoint taken mid-run must restore registers and memory exactly for
 * the final checksum to match.  Progress lines go out through write(2)
 * directly so they are never held back in a stdio buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_STEPS 200000000ULL

static uint64_t xorshift64(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static uint64_t mix(uint64_t checksum, uint64_t value)
{
	checksum ^= value;
	checksum *= 0x100000001b3ULL; /* FNV-1a prime: spreads every bit */
	return checksum;
}

static void report_progress(int quarter, uint64_t checksum)
{
	char line[64];
	int len = snprintf(line, sizeof line, "progress %d/4 checksum=%016llx\n",
			   quarter, (unsigned long long)checksum);
	write(STDOUT_FILENO, line, (size_t)len);
}

struct walk {
	uint64_t state;
	uint64_t checksum;
};

static void advance(struct walk *walk, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		walk->state = xorshift64(walk->state);
		walk->checksum = mix(walk->checksum, walk->state);
	}
}

int main(int argc, char **argv)
{
	uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_STEPS;
	struct walk walk = { 0x9e3779b97f4a7c15ULL, 0xcbf29ce484222325ULL };
	uint64_t done = 0;

	for (int quarter = 1; quarter <= 4; quarter++) {
		uint64_t target = steps / 4 * quarter + (quarter == 4 ? steps % 4 : 0);
		advance(&walk, target - done);
		done = target;
		report_progress(quarter, walk.checksum);
	}
	printf("steps=%llu checksum=%016llx\n", (unsigned long long)steps,
	       (unsigned long long)walk.checksum);
	return 0;
}
