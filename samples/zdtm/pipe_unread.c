/*
 * A pipe whose both ends the process holds, with unread bytes in it at the checkpoint: after a
 * restart they are read first, then what is written afterwards; the read end keeps O_NONBLOCK,
 * the write end's dup shares its open file description, a second open of the read end (through
 * /proc/self/fd, as CRIU's pipe02) has one of its own with its own flags, and the pipe keeps its
 * size.
 */
#include "zdtm.h"

static const char before[] = "written before the checkpoint";
static const char after[] = "and after it";

int main(void)
{
	int p[2];
	zdtm_check(pipe2(p, O_NONBLOCK) == 0, "pipe2: %s", strerror(errno));
	zdtm_check(fcntl(p[1], F_SETFL, 0) == 0, "F_SETFL");
	zdtm_check(fcntl(p[0], F_SETPIPE_SZ, 128 * 1024) >= 128 * 1024, "F_SETPIPE_SZ: %s", strerror(errno));
	int dup_w = dup(p[1]);
	char self[32];
	snprintf(self, sizeof self, "/proc/self/fd/%d", p[0]);
	int reader2 = open(self, O_RDONLY);	/* its own open file description, blocking */
	zdtm_check(reader2 >= 0 && !(fcntl(reader2, F_GETFL) & O_NONBLOCK), "second open: %s", strerror(errno));
	zdtm_check(write(dup_w, before, sizeof before) == sizeof before, "write before");
	zdtm_ready();
	zdtm_wait();

	char buf[256];
	zdtm_check(fcntl(p[0], F_GETPIPE_SZ) == 128 * 1024, "pipe size %d", fcntl(p[0], F_GETPIPE_SZ));
	zdtm_check(fcntl(p[0], F_GETFL) & O_NONBLOCK, "the read end lost O_NONBLOCK");
	zdtm_check(!(fcntl(p[1], F_GETFL) & O_NONBLOCK), "the write end gained O_NONBLOCK");
	zdtm_check(fcntl(dup_w, F_SETFL, O_NONBLOCK) == 0 && (fcntl(p[1], F_GETFL) & O_NONBLOCK),
		   "the write end's dup does not share its open file description");
	zdtm_check(write(p[1], after, sizeof after) == sizeof after, "write after: %s", strerror(errno));
	ssize_t n = read(p[0], buf, sizeof buf);
	zdtm_check(n == sizeof before + sizeof after, "read %zd bytes, want %zu", n, sizeof before + sizeof after);
	zdtm_check(memcmp(buf, before, sizeof before) == 0 && memcmp(buf + sizeof before, after, sizeof after) == 0,
		   "the pipe's bytes differ: \"%s\"", buf);
	zdtm_check(read(p[0], buf, sizeof buf) < 0 && errno == EAGAIN, "the pipe has more bytes than were written");
	zdtm_check(!(fcntl(reader2, F_GETFL) & O_NONBLOCK), "the second open of the read end shares the first's flags");
	zdtm_check(write(p[1], "x", 1) == 1 && read(reader2, buf, 1) == 1 && buf[0] == 'x', "the second open reads another pipe");
	close(p[1]);
	close(dup_w);
	zdtm_check(read(p[0], buf, sizeof buf) == 0, "no end of file once every write end is closed");
	zdtm_pass();
}
