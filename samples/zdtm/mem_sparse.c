/*
 * mem_sparse: memory that is mostly holes comes back as it was. A 256 MiB anonymous mapping with
 * ten pages written, and a 64 MiB file (sparse.dat, made here) mapped MAP_PRIVATE with three
 * pages written and others only read. After the restart the written pages hold what was written,
 * the anonymous mapping's other pages read as zero, and the file mapping's other pages as the
 * file. An image stores only the written pages of the two (test/runtime/sparse.test.ts).
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>
#include <sys/mman.h>

#define PAGE		4096UL
#define ANON_SIZE	(256UL << 20)
#define FILE_SIZE	(64UL << 20)
#define ANON_WRITTEN	10
#define FILE_WRITTEN	3
#define FILE_NAME	"sparse.dat"

static const size_t file_written[FILE_WRITTEN] = { 5, 1000, 16000 };

/* The anonymous pages written: spread over the whole mapping */
static size_t anon_page(int i)
{
	return (size_t)i * 6553 + 7;
}

/* What a word of the file holds, and what the program writes over it */
static uint64_t file_word(size_t word)
{
	return word * 0x9e3779b97f4a7c15ULL ^ 0x5555aaaa5555aaaaULL;
}

static uint64_t written_word(size_t page, size_t word)
{
	return ~file_word(page * 512 + word) ^ 0xc0ffee;
}

static void make_file(void)
{
	static uint64_t chunk[(1UL << 20) / 8];
	int fd = open(FILE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	zdtm_check(fd >= 0, "cannot create %s: %s", FILE_NAME, strerror(errno));
	for (size_t at = 0; at < FILE_SIZE; at += sizeof chunk) {
		for (size_t w = 0; w < sizeof chunk / 8; w++)
			chunk[w] = file_word(at / 8 + w);
		zdtm_check(write(fd, chunk, sizeof chunk) == (ssize_t)sizeof chunk, "cannot write %s", FILE_NAME);
	}
	close(fd);
}

static int is_file_written(size_t page)
{
	for (int i = 0; i < FILE_WRITTEN; i++)
		if (file_written[i] == page)
			return 1;
	return 0;
}

static void check_anon(const unsigned char *anon)
{
	int next = 0;
	for (size_t page = 0; page < ANON_SIZE / PAGE; page++) {
		const uint64_t *w = (const uint64_t *)(anon + page * PAGE);
		int written = next < ANON_WRITTEN && anon_page(next) == page;
		for (size_t i = 0; i < PAGE / 8; i++) {
			uint64_t want = written ? (uint64_t)page << 32 | i : 0;
			zdtm_check(w[i] == want, "anonymous page %zu word %zu is %#lx, not %#lx", page, i,
				   (unsigned long)w[i], (unsigned long)want);
		}
		next += written;
	}
}

static void check_file(const uint64_t *map)
{
	for (size_t page = 0; page < FILE_SIZE / PAGE; page++) {
		int written = is_file_written(page);
		for (size_t i = 0; i < PAGE / 8; i++) {
			uint64_t want = written ? written_word(page, i) : file_word(page * 512 + i);
			zdtm_check(map[page * 512 + i] == want, "file page %zu word %zu is %#lx, not %#lx", page, i,
				   (unsigned long)map[page * 512 + i], (unsigned long)want);
		}
	}
}

int main(void)
{
	make_file();
	unsigned char *anon = mmap(NULL, ANON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	zdtm_check(anon != MAP_FAILED, "mmap of 256 MiB failed: %s", strerror(errno));
	int fd = open(FILE_NAME, O_RDONLY | O_CLOEXEC);
	zdtm_check(fd >= 0, "cannot open %s", FILE_NAME);
	uint64_t *map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	zdtm_check(map != MAP_FAILED, "mmap of %s failed: %s", FILE_NAME, strerror(errno));
	close(fd);

	for (int i = 0; i < ANON_WRITTEN; i++) {
		uint64_t *w = (uint64_t *)(anon + anon_page(i) * PAGE);
		for (size_t j = 0; j < PAGE / 8; j++)
			w[j] = (uint64_t)anon_page(i) << 32 | j;
	}
	volatile uint64_t sum = 0;
	for (size_t page = 0; page < FILE_SIZE / PAGE; page += 64)
		sum += map[page * 512];	/* read, never written: the file's own pages, not stored */
	for (int i = 0; i < FILE_WRITTEN; i++)
		for (size_t j = 0; j < PAGE / 8; j++)
			map[file_written[i] * 512 + j] = written_word(file_written[i], j);

	zdtm_ready();
	zdtm_wait();

	check_anon(anon);
	check_file(map);
	zdtm_pass();
}
