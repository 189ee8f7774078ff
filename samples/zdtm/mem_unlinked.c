/*
 * Private mappings of a file the program unlinked and keeps open (CRIU's unlink_mmap02): a
 * read-only page and a writable one it never wrote, and a page it wrote (copied on write). After a
 * restart the pages not written are the file's still: what the program then writes to the file
 * through its descriptor shows in them; the page it wrote keeps its own bytes, not the file's.
 * /proc/self/maps names the file, removed, as before. Two more pages map a file removed and no
 * longer open (CRIU's unlink_mmap00), and two more a file through each of its two names, both
 * removed (unlink_mmap01): they keep their bytes, and /proc/self/maps names each by its name.
 */
#include "zdtm.h"
#include <sys/mman.h>

#define PAGE 4096

/* The path /proc/self/maps gives the region at addr ends with `name` */
static void mapped_as(const void *addr, const char *name)
{
	static char maps[64 * 1024];
	char want[32];
	size_t len = 1;	/* maps[0] is a line's end: every region's line follows one */
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY);
	maps[0] = '\n';
	while (fd >= 0 && len < sizeof maps - 1 && (n = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	maps[len] = 0;
	snprintf(want, sizeof want, "\n%lx-", (unsigned long)addr);
	char *line = strstr(maps, want), *end = line ? strchr(line + 1, '\n') : NULL;
	zdtm_check(line && end, "no region at %p", addr);
	*end = 0;
	zdtm_check(end - line >= (long)strlen(name) && !strcmp(end - strlen(name), name), "the region at %p is \"%s\"", addr, line + 1);
}

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
	int g = open("ghost.tmp", O_RDWR | O_CREAT | O_EXCL, 0600);
	zdtm_check(g >= 0, "open ghost: %s", strerror(errno));
	put(g, 0, 'g');
	put(g, 2 * PAGE - 1, 'h');
	char *ga = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, g, 0), *gb = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, g, PAGE);
	zdtm_check(ga != MAP_FAILED && gb != MAP_FAILED && unlink("ghost.tmp") == 0 && close(g) == 0, "ghost: %s", strerror(errno));
	int l = open("linked.a", O_RDWR | O_CREAT | O_EXCL, 0600);
	zdtm_check(l >= 0 && link("linked.a", "linked.b") == 0, "linked: %s", strerror(errno));
	put(l, PAGE - 1, 'l');
	char *la = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, l, 0);
	zdtm_check(close(l) == 0 && unlink("linked.a") == 0 && (l = open("linked.b", O_RDONLY)) >= 0, "linked.b");
	char *lb = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, l, 0);
	zdtm_check(la != MAP_FAILED && lb != MAP_FAILED && unlink("linked.b") == 0 && close(l) == 0, "linked: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();

	put(fd, 0, 'a');
	put(fd, PAGE, 'b');
	put(fd, 2 * PAGE, 'f');
	zdtm_check(a[0] == 'a', "the read-only page does not show the file's byte written after the restart (%d)", a[0]);
	zdtm_check(b[0] == 'b' && b[PAGE - 1] == 'c', "the writable page not written is not the file's (%d %d)", b[0], b[PAGE - 1]);
	zdtm_check(w[0] == 'p' && w[PAGE - 1] == 'e', "the page written is not the program's own (%d %d)", w[0], w[PAGE - 1]);
	zdtm_check(ga[0] == 'g' && gb[PAGE - 1] == 'h', "the removed file's pages changed (%d %d)", ga[0], gb[PAGE - 1]);
	zdtm_check(access("ghost.tmp", F_OK) < 0, "the removed file has its name again");
	mapped_as(a, "/mapped.tmp (deleted)");
	mapped_as(ga, "/ghost.tmp (deleted)");
	mapped_as(gb, "/ghost.tmp (deleted)");
	zdtm_check(la[PAGE - 1] == 'l' && lb[PAGE - 1] == 'l', "linked: the pages changed");
	mapped_as(la, "/linked.a (deleted)");
	mapped_as(lb, "/linked.b (deleted)");
	zdtm_pass();
}
