/*
 * inotify: watches of a directory and of a file come back with their numbers (one after a removed
 * watch, so numbers have a gap) and masks, re-added by path, and report what happens after the
 * restart; the instance keeps O_NONBLOCK.
 */
#include "zdtm.h"
#include <sys/inotify.h>
#include <sys/stat.h>

static char events[4096] __attribute__((aligned(8)));

/* The next event, waiting for one */
static const struct inotify_event *next_event(int fd)
{
	static ssize_t len, at;
	if (at >= len) {
		fcntl(fd, F_SETFL, 0);
		len = read(fd, events, sizeof events);
		fcntl(fd, F_SETFL, O_NONBLOCK);
		at = 0;
		zdtm_check(len > 0, "read: %s", strerror(errno));
	}
	const struct inotify_event *e = (const void *)(events + at);
	at += sizeof *e + e->len;
	return e;
}

int main(void)
{
	zdtm_check(mkdir("watched", 0755) == 0, "mkdir");
	int f = open("file", O_WRONLY | O_CREAT, 0644);
	zdtm_check(f >= 0 && close(f) == 0, "file");
	int fd = inotify_init1(IN_NONBLOCK);
	zdtm_check(fd >= 0, "inotify_init1: %s", strerror(errno));
	int gone = inotify_add_watch(fd, ".", IN_ATTRIB);
	int dir = inotify_add_watch(fd, "watched", IN_CREATE | IN_ONLYDIR);
	zdtm_check(gone >= 0 && dir >= 0 && inotify_rm_watch(fd, gone) == 0, "watches: %s", strerror(errno));
	int file = inotify_add_watch(fd, "file", IN_MODIFY);
	zdtm_check(file >= 0, "watch file");
	char drain[256];
	while (read(fd, drain, sizeof drain) > 0)	/* the removed watch's IN_IGNORED */
		;
	zdtm_ready();
	zdtm_wait();

	zdtm_check(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	zdtm_check(read(fd, drain, sizeof drain) < 0 && errno == EAGAIN, "events nobody caused");
	f = open("watched/new", O_WRONLY | O_CREAT, 0644);
	zdtm_check(f >= 0 && close(f) == 0, "create");
	const struct inotify_event *e = next_event(fd);
	zdtm_check(e->wd == dir && (e->mask & IN_CREATE) && !strcmp(e->name, "new"), "create: wd %d (want %d), mask %#x",
		   e->wd, dir, e->mask);
	f = open("file", O_WRONLY | O_APPEND);
	zdtm_check(f >= 0 && write(f, "x", 1) == 1 && close(f) == 0, "modify");
	e = next_event(fd);
	zdtm_check(e->wd == file && (e->mask & IN_MODIFY), "modify: wd %d (want %d), mask %#x", e->wd, file, e->mask);
	zdtm_check(chmod(".", 0755) == 0 && read(fd, drain, sizeof drain) < 0, "the removed watch came back");
	zdtm_check(inotify_rm_watch(fd, file) == 0, "the file's watch is not at its number");
	zdtm_pass();
}
