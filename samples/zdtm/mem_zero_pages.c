/*
 * mem_zero_pages: pages written with zeros come back as zeros, whether the image stores them or
 * not. A 1 GiB anonymous mapping: 10% of its pages written with a pattern, 25% written with zeros
 * (they exist, but hold nothing), the rest never touched. And a 1 MiB file mapped MAP_PRIVATE with
 * one page overwritten with zeros: that page must not come back as the file's. An image stores the
 * pattern pages and the file's zeroed page, not the zero pages of the anonymous mapping
 * (test/runtime/sparse.test.ts measures it).
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>
#include <sys/mman.h>

#define PAGE		4096UL
#define ANON_SIZE	(1UL << 30)
#define FILE_SIZE	(1UL << 20)
#define FILE_ZEROED	7
#define FILE_NAME	"zero-pages.dat"

enum kind { UNTOUCHED, PATTERN, ZEROED };

/* Of every 20 pages: 2 with a pattern (10%), 5 written with zeros (25%) */
static enum kind kind_of(size_t page)
{
	size_t k = page % 20;
	return k == 0 || k == 10 ? PATTERN : k >= 1 && k <= 5 ? ZEROED : UNTOUCHED;
}

static uint64_t pattern(size_t page, size_t word)
{
	return (page * 512 + word) * 0x9e3779b97f4a7c15ULL | 1;
}

static uint64_t file_word(size_t word)
{
	return word * 0xd6e8feb86659fd93ULL | 2;
}

static void make_file(void)
{
	static uint64_t words[FILE_SIZE / 8];
	for (size_t w = 0; w < FILE_SIZE / 8; w++)
		words[w] = file_word(w);
	int fd = open(FILE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	zdtm_check(fd >= 0 && write(fd, words, sizeof words) == (ssize_t)sizeof words, "cannot write %s", FILE_NAME);
	close(fd);
}

static void check_anon(const uint64_t *anon)
{
	for (size_t page = 0; page < ANON_SIZE / PAGE; page++) {
		const uint64_t *p = anon + page * 512;
		for (size_t w = 0; w < 512; w++) {
			uint64_t want = kind_of(page) == PATTERN ? pattern(page, w) : 0;
			zdtm_check(p[w] == want, "anonymous page %zu word %zu holds %#llx, not %#llx", page, w,
				   (unsigned long long)p[w], (unsigned long long)want);
		}
	}
}

static void check_file(const uint64_t *map)
{
	for (size_t w = 0; w < FILE_SIZE / 8; w++) {
		uint64_t want = w / 512 == FILE_ZEROED ? 0 : file_word(w);
		zdtm_check(map[w] == want, "file mapping word %zu holds %#llx, not %#llx", w, (unsigned long long)map[w],
			   (unsigned long long)want);
	}
}

int main(void)
{
	uint64_t *anon = mmap(0, ANON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	zdtm_check(anon != MAP_FAILED, "cannot map 1 GiB: %s", strerror(errno));
	for (size_t page = 0; page < ANON_SIZE / PAGE; page++) {
		uint64_t *p = anon + page * 512;
		if (kind_of(page) == PATTERN)
			for (size_t w = 0; w < 512; w++)
				p[w] = pattern(page, w);
		else if (kind_of(page) == ZEROED)
			memset((void *)p, 0, PAGE);
	}
	make_file();
	int fd = open(FILE_NAME, O_RDONLY | O_CLOEXEC);
	uint64_t *map = mmap(0, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	zdtm_check(fd >= 0 && map != MAP_FAILED, "cannot map %s", FILE_NAME);
	close(fd);
	memset(map + FILE_ZEROED * 512, 0, PAGE);

	zdtm_ready();
	zdtm_wait();
	check_anon(anon);
	check_file(map);
	zdtm_pass();
}
