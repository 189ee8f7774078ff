/*
 * Private mappings of a file the program unlinked and keeps open (CRIU's unlink_mmap02): a
 * read-only page and a writable one it never wrote, and a page it wrote (copied on write). After a
 * restart the pages not written are the file's still: what the program then writes to the file
 * through its descriptor shows in them; the page it wrote keeps its own bytes, not the file's.
 * /proc/self/maps names the file, removed, as before.
 */
#include "zdtm.h"
#include <sys/mman.h>

#define PAGE 4096

static void put(int fd, off_t at, char c)
{
	zdtm_check(pwrite(fd, &c, 1, at) == 1, "pwrite at %lld: %s", (long long)at, strerror(errno));
}

int main(void)
{
	int fd = open("mapped.tmp", O_RDWR | O_CREAT | O_EXCL, 0600);
	zdtm_check(fd >= 0, "open: %s", strerror(errno));
	put(fd, 2 * PAGE - 1, 'c');
	put(fd, 3 * PAGE - 1, 'e');
	char *a = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	char *b = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);
	char *w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 2 * PAGE);
	zdtm_check(a != MAP_FAILED && b != MAP_FAILED && w != MAP_FAILED, "mmap: %s", strerror(errno));
	zdtm_check(unlink("mapped.tmp") == 0, "unlink");
	w[0] = 'p';	/* this page is the program's own now */
	zdtm_ready();
	zdtm_wait();

	put(fd, 0, 'a');
	put(fd, PAGE, 'b');
	put(fd, 2 * PAGE, 'f');
	zdtm_check(a[0] == 'a', "the read-only page does not show the file's byte written after the restart (%d)", a[0]);
	zdtm_check(b[0] == 'b' && b[PAGE - 1] == 'c', "the writable page not written is not the file's (%d %d)", b[0], b[PAGE - 1]);
	zdtm_check(w[0] == 'p' && w[PAGE - 1] == 'e', "the page written is not the program's own (%d %d)", w[0], w[PAGE - 1]);
	zdtm_pass();
}
