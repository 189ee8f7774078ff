/*
 * mem_shared_file: a MAP_SHARED mapping of a file stays shared with the file after a restart
 * (CRIU's maps_file_shared, the LMDB or numpy memmap case). The sample maps a file of its
 * own MAP_SHARED read-write and writes some pages through the mapping before the checkpoint.
 * After the restart the mapping shows rw-s and holds the file's contents; a write through the
 * mapping, then msync, reaches the file (read back with read), and a write() to the file shows
 * in the mapping.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/mman.h>

#define PAGE 4096
#define PAGES 8
#define SIZE (PAGES * PAGE)

static unsigned char file_byte(size_t j) { return (unsigned char)(j * 7 + 3); }
static unsigned char before_byte(size_t j) { return (unsigned char)(0x5a ^ j); }
static unsigned char after_byte(size_t j) { return (unsigned char)(0xc3 ^ (j * 5)); }

static unsigned char content[SIZE];

static void read_file(const char *name)
{
	int fd = open(name, O_RDONLY);
	zdtm_check(fd >= 0 && pread(fd, content, SIZE, 0) == SIZE, "cannot read %s back", name);
	close(fd);
}

int main(void)
{
	const char *name = "mem_shared_file.data";
	for (size_t j = 0; j < SIZE; j++)
		content[j] = file_byte(j);
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	zdtm_check(fd >= 0 && write(fd, content, SIZE) == SIZE, "cannot write %s", name);
	unsigned char *map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	zdtm_check(map != MAP_FAILED, "cannot map %s: %s", name, strerror(errno));
	close(fd);	/* only the mapping holds the file */
	for (size_t j = PAGE; j < 3 * PAGE; j++)
		map[j] = before_byte(j);
	zdtm_ready();
	zdtm_wait();

	zdtm_check(!strcmp(zdtm_perms_at(map), "rw-s"), "the mapping shows as %s, not rw-s", zdtm_perms_at(map));
	read_file(name);
	for (size_t j = 0; j < SIZE; j++) {
		unsigned char want = j >= PAGE && j < 3 * PAGE ? before_byte(j) : file_byte(j);
		zdtm_check(map[j] == want && content[j] == want, "byte %zu: mapping %#x, file %#x, not %#x", j, map[j], content[j], want);
	}
	for (size_t j = 4 * PAGE; j < 6 * PAGE; j++)
		map[j] = after_byte(j);
	zdtm_check(msync(map, SIZE, MS_SYNC) == 0, "msync: %s", strerror(errno));
	read_file(name);
	for (size_t j = 4 * PAGE; j < 6 * PAGE; j++)
		zdtm_check(content[j] == after_byte(j), "a write through the mapping after the restart did not reach the file at byte %zu", j);
	fd = open(name, O_WRONLY);
	unsigned char mark = 0xee;
	zdtm_check(fd >= 0 && pwrite(fd, &mark, 1, 7 * PAGE + 9) == 1, "cannot write to %s", name);
	close(fd);
	zdtm_check(map[7 * PAGE + 9] == mark, "a write() to the file does not show in the mapping");
	zdtm_pass();
}
