/*
 * Named FIFOs, as CRIU's fifo, fifo_ro, fifo-ghost, unlink_fifo and unlink_fifo_wronly hold them:
 *   rw        open read-write, with unread bytes;
 *   ro        opened read-write and read-only, bytes written, the read-write one closed: a reader
 *             alone, with unread bytes, then end of file (no writer);
 *   ghost     as ro, and its name removed;
 *   gone      open read-write, its name removed, empty;
 *   gone_wo   opened read-only non-blocking, then write-only, its name removed.
 * After a restart each reads its bytes back, the FIFOs with a name are still FIFOs with their mode,
 * and the two ends of gone_wo are one FIFO still (what one writes, the other reads).
 */
#include "zdtm.h"
#include <sys/stat.h>

static char data[3000];

static void fill(void)
{
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7 + 3);
}

static int make(const char *name, int flags)
{
	zdtm_check(mknod(name, S_IFIFO | 0700, 0) == 0, "mknod %s: %s", name, strerror(errno));
	int fd = open(name, flags);
	zdtm_check(fd >= 0, "open %s: %s", name, strerror(errno));
	return fd;
}

/* The FIFO's bytes are data's, and no more: then end of file when writers are gone, else EAGAIN */
static void read_back(int fd, const char *what, int eof)
{
	static char buf[sizeof data + 16];
	size_t got = 0;
	ssize_t n;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) > 0)
		got += (size_t)n;
	zdtm_check(got == sizeof data && !memcmp(buf, data, sizeof data), "%s: read %zu bytes back, want the %zu written",
		   what, got, sizeof data);
	n = read(fd, buf, 1);
	zdtm_check(eof ? n == 0 : n < 0 && errno == EAGAIN, "%s: after its bytes read gives %zd (%s)", what, n, strerror(errno));
}

static void still_fifo(const char *name)
{
	struct stat st;
	zdtm_check(stat(name, &st) == 0 && st.st_mode == (S_IFIFO | 0700), "%s is no longer the FIFO it was", name);
}

int main(void)
{
	fill();
	umask(022);
	int rw = make("fifo.rw", O_RDWR);
	zdtm_check(write(rw, data, sizeof data) == sizeof data, "write rw");

	int ro_rw = make("fifo.ro", O_RDWR), ro = open("fifo.ro", O_RDONLY);
	zdtm_check(ro >= 0 && write(ro_rw, data, sizeof data) == sizeof data && close(ro_rw) == 0, "ro");

	int ghost_rw = make("fifo.ghost", O_RDWR), ghost = open("fifo.ghost", O_RDONLY);
	zdtm_check(ghost >= 0 && write(ghost_rw, data, sizeof data) == sizeof data, "ghost");
	zdtm_check(unlink("fifo.ghost") == 0 && close(ghost_rw) == 0, "ghost unlink");

	int gone = make("fifo.gone", O_RDWR);
	zdtm_check(unlink("fifo.gone") == 0, "gone unlink");

	int gone_r = make("fifo.gone_wo", O_RDONLY | O_NONBLOCK), gone_w = open("fifo.gone_wo", O_WRONLY);
	zdtm_check(gone_w >= 0 && unlink("fifo.gone_wo") == 0, "gone_wo");
	zdtm_ready();
	zdtm_wait();

	read_back(rw, "rw", 0);
	still_fifo("fifo.rw");
	read_back(ro, "ro", 1);
	still_fifo("fifo.ro");
	read_back(ghost, "ghost", 1);
	zdtm_check(access("fifo.ghost", F_OK) < 0 && access("fifo.gone", F_OK) < 0 && access("fifo.gone_wo", F_OK) < 0,
		   "a removed FIFO has its name again");
	zdtm_check(fcntl(gone, F_GETFL) & O_RDWR, "gone is no longer read-write");
	zdtm_check(write(gone, "g", 1) == 1 && read(gone, data, 1) == 1 && data[0] == 'g', "gone reads another FIFO");
	zdtm_check((fcntl(gone_r, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK) &&
		   (fcntl(gone_w, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == O_WRONLY, "gone_wo's flags changed");
	zdtm_check(write(gone_w, "w", 1) == 1 && read(gone_r, data, 2) == 1 && data[0] == 'w', "gone_wo's ends are two FIFOs");
	zdtm_check(close(gone_w) == 0 && read(gone_r, data, 1) == 0, "gone_wo has a writer the program does not hold");
	zdtm_check(close(rw) == 0 && close(ro) == 0 && close(ghost) == 0 && close(gone) == 0 && close(gone_r) == 0, "close");
	zdtm_check(unlink("fifo.rw") == 0 && unlink("fifo.ro") == 0, "unlink");
	zdtm_pass();
}
