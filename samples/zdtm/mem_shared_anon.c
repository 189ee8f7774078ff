/*
 * mem_shared_anon: MAP_SHARED anonymous memory the process uses alone survives as shared memory
 * (CRIU's maps01, shm). After the restart the region shows rw-s with its contents, and a child
 * forked then writes to it and the parent sees the write: it is shared again, not a private copy.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/mman.h>

#define SIZE (16 * 4096)

static unsigned char byte_at(size_t j) { return (unsigned char)(j * 13 + (j >> 12)); }

static unsigned char *mem;

static int write_in_child(void)
{
	mem[SIZE - 1] = 0x77;
	return 0;
}

int main(void)
{
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	zdtm_check(mem != MAP_FAILED, "mmap: %s", strerror(errno));
	for (size_t j = 0; j < SIZE; j += 3)
		mem[j] = byte_at(j);
	zdtm_ready();
	zdtm_wait();

	zdtm_check(!strcmp(zdtm_perms_at(mem), "rw-s"), "the region shows as %s, not rw-s", zdtm_perms_at(mem));
	for (size_t j = 0; j < SIZE; j++) {
		unsigned char want = j % 3 ? 0 : byte_at(j);
		zdtm_check(mem[j] == want, "byte %zu is %#x, not %#x", j, mem[j], want);
	}
	zdtm_check(zdtm_in_child(write_in_child) == 0, "the child failed");
	zdtm_check(mem[SIZE - 1] == 0x77, "the child's write did not show: the region is no longer shared");
	zdtm_pass();
}
