/*
 * sysv_shm: System V shared memory a process uses alone survives (CRIU's shm, shm-mp,
 * shm-unaligned). Three segments: one removed at once (IPC_RMID, the usual way), of an unaligned
 * size; one left in place, so its id goes on naming it; one made read-only with mprotect. After
 * the restart each region shows rw-s (r--s for the last) with its contents; the kept segment's id
 * still names the same memory (a second attach sees the first's writes), and it is then removed;
 * the read-only one refuses writes.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/mman.h>
#include <sys/shm.h>

#define UNALIGNED (3 * 4096 + 100)
#define SIZE (4 * 4096)

static unsigned char byte_at(size_t j, int seg) { return (unsigned char)(j * 7 + seg * 41 + (j >> 12)); }

static unsigned char *attach(int id)
{
	unsigned char *at = shmat(id, NULL, 0);
	zdtm_check(at != (void *)-1, "shmat: %s", strerror(errno));
	return at;
}

static int make(size_t size, int seg, unsigned char **at)
{
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
	zdtm_check(id >= 0, "shmget: %s", strerror(errno));
	*at = attach(id);
	for (size_t j = 0; j < size; j++)
		(*at)[j] = byte_at(j, seg);
	return id;
}

static void check(const unsigned char *at, size_t size, int seg, const char *what)
{
	for (size_t j = 0; j < size; j++)
		zdtm_check(at[j] == byte_at(j, seg), "the %s segment's byte %zu is %#x, not %#x", what, j, at[j], byte_at(j, seg));
}

int main(void)
{
	unsigned char *removed, *kept, *readonly;
	int removed_id = make(UNALIGNED, 1, &removed), kept_id = make(SIZE, 2, &kept), readonly_id = make(SIZE, 3, &readonly);
	shmctl(removed_id, IPC_RMID, NULL);
	shmctl(readonly_id, IPC_RMID, NULL);
	zdtm_check(mprotect(readonly, SIZE, PROT_READ) == 0, "mprotect: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();

	int ok = 0;
	const char *perms = zdtm_perms_at(removed);
	ok = !strcmp(perms, "rw-s");
	zdtm_check(ok, "the removed segment shows as %s, not rw-s", perms);
	zdtm_check(!strcmp(zdtm_perms_at(kept), "rw-s"), "the kept segment shows as %s, not rw-s", zdtm_perms_at(kept));
	zdtm_check(!strcmp(zdtm_perms_at(readonly), "r--s"), "the read-only segment shows as %s, not r--s", zdtm_perms_at(readonly));
	check(removed, UNALIGNED, 1, "removed");
	check(kept, SIZE, 2, "kept");
	check(readonly, SIZE, 3, "read-only");
	zdtm_check(zdtm_faults((char *)readonly, 1), "the read-only segment takes writes");
	removed[5] = 0x55;	/* still writable memory */
	unsigned char *again = attach(kept_id);
	kept[10] = 0xab;
	zdtm_check(again[10] == 0xab, "the kept segment's id names other memory now");
	shmctl(kept_id, IPC_RMID, NULL);
	zdtm_pass();
}
