/* ckptincr MIB PERCENT: touches MIB MiB of anonymous memory, prints "ready", then spins on
 * CLOCK_MONOTONIC recording the longest gap between two readings (how long a checkpoint stopped
 * it) and obeys command files the benchmark makes, cmd.1, cmd.2...: "dirty" writes PERCENT% of the
 * pages (spread over the whole area, a different set each time); "fault" times one write to every
 * page, twice (the first pass takes the write-protect faults of incremental tracking, if any;
 * the second none); "quit" ends. Each answer is written to ack.N: the longest gap since the last
 * command, and for "fault" the ns per page of each pass. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "touched.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double write_pass(unsigned char *mem, size_t len, unsigned char v)
{
	double t = now_ms();
	for (size_t i = 0; i < len; i += 4096)
		mem[i] = v;
	return (now_ms() - t) * 1e6 / (double)(len / 4096);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 1024, len = mib << 20, pages = len / 4096;
	unsigned percent = argc > 2 ? (unsigned)strtoul(argv[2], 0, 10) : 1;
	unsigned char *mem = percent ? touched_memory(len) : 0;
	if (!mem)
		return 1;
	double last = now_ms(), gap = 0;
	size_t step = 100 / percent;
	for (unsigned n = 0, cmd = 1;; n++) {
		double t = now_ms();
		if (t - last > gap)
			gap = t - last;
		last = t;
		if (n & 0xffff)
			continue;
		char name[32], text[32] = "", ack[128];
		snprintf(name, sizeof name, "cmd.%u", cmd);
		FILE *f = fopen(name, "r");
		if (!f)
			continue;
		if (!fgets(text, sizeof text, f))
			text[0] = 0;
		fclose(f);
		int len_ack = snprintf(ack, sizeof ack, "gap_ms=%.1f", gap);
		if (!strncmp(text, "dirty", 5)) {
			for (size_t p = cmd % step; p < pages; p += step)
				mem[p * 4096 + 8] = (unsigned char)(cmd + p);
		} else if (!strncmp(text, "fault", 5)) {
			double first = write_pass(mem, len, (unsigned char)cmd), second = write_pass(mem, len, (unsigned char)(cmd + 1));
			len_ack += snprintf(ack + len_ack, sizeof ack - (size_t)len_ack, " first_ns=%.1f second_ns=%.1f", first, second);
		} else if (!strncmp(text, "quit", 4)) {
			return 0;
		}
		snprintf(name, sizeof name, "ack.%u.tmp", cmd);
		f = fopen(name, "w");
		fputs(ack, f);
		fclose(f);
		char final[32];
		snprintf(final, sizeof final, "ack.%u", cmd);
		rename(name, final);
		cmd++;
		last = now_ms();
		gap = 0;
	}
}
