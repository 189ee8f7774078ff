/*
 * mem_file: file-backed mappings survive. The sample writes two files of its own, maps one
 * MAP_PRIVATE read-write and changes some of its pages in memory, and maps the other read-only.
 * After the restart the changed pages hold the changes, the others still match the file, the
 * file on disk is still as written (private changes never reach it), and the read-only mapping
 * matches its file and refuses writes.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096
#define PAGES 8

static unsigned char file_byte(unsigned file, size_t j) { return (unsigned char)(file * 53 + j * 11 + (j >> 12)); }
static unsigned char changed_byte(size_t j) { return (unsigned char)(0xa5 ^ j); }
static int is_changed_page(size_t j) { return (j / PAGE) % 3 == 1; }

static unsigned char content[PAGES * PAGE];

static void write_file(const char *name, unsigned file)
{
	for (size_t j = 0; j < sizeof content; j++)
		content[j] = file_byte(file, j);
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	zdtm_check(fd >= 0 && write(fd, content, sizeof content) == (ssize_t)sizeof content, "cannot write %s", name);
	close(fd);
}

/* Maps `name`, then closes it: only the mapping keeps the file */
static unsigned char *map_file(const char *name, int prot)
{
	int fd = open(name, prot & PROT_WRITE ? O_RDWR : O_RDONLY);
	zdtm_check(fd >= 0, "cannot open %s", name);
	void *p = mmap(NULL, sizeof content, prot, MAP_PRIVATE, fd, 0);
	zdtm_check(p != MAP_FAILED, "cannot map %s: %s", name, strerror(errno));
	close(fd);
	return p;
}

static void check_file_unchanged(const char *name, unsigned file)
{
	int fd = open(name, O_RDONLY);
	zdtm_check(fd >= 0 && read(fd, content, sizeof content) == (ssize_t)sizeof content, "cannot read %s back", name);
	close(fd);
	for (size_t j = 0; j < sizeof content; j++)
		zdtm_check(content[j] == file_byte(file, j), "%s on disk changed at byte %zu", name, j);
}

int main(void)
{
	write_file("mem_file.rw", 1);
	write_file("mem_file.ro", 2);
	unsigned char *rw = map_file("mem_file.rw", PROT_READ | PROT_WRITE);
	const unsigned char *ro = map_file("mem_file.ro", PROT_READ);
	for (size_t j = 0; j < sizeof content; j++)
		if (is_changed_page(j))
			rw[j] = changed_byte(j);
	zdtm_ready();
	zdtm_wait();

	for (size_t j = 0; j < sizeof content; j++) {
		unsigned char want = is_changed_page(j) ? changed_byte(j) : file_byte(1, j);
		zdtm_check(rw[j] == want, "private mapping byte %zu is %#x, not %#x", j, rw[j], want);
		zdtm_check(ro[j] == file_byte(2, j), "read-only mapping byte %zu is %#x, not %#x", j, ro[j], file_byte(2, j));
	}
	zdtm_check(!strcmp(zdtm_perms_at(rw), "rw-p"), "the private mapping shows as %s, not rw-p", zdtm_perms_at(rw));
	zdtm_check(!strcmp(zdtm_perms_at(ro), "r--p"), "the read-only mapping shows as %s, not r--p", zdtm_perms_at(ro));
	zdtm_check(zdtm_faults((char *)ro, 1), "the read-only mapping takes writes");
	check_file_unchanged("mem_file.rw", 1);
	check_file_unchanged("mem_file.ro", 2);
	zdtm_pass();
}
