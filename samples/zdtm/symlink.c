/*
 * O_PATH|O_NOFOLLOW descriptors of symbolic links (CRIU's symlink and symlink01): one whose link
 * is still there, one whose link the program removed. After a restart each is still a descriptor
 * of a link, not of the file it points to, and reads the same target.
 */
#include "zdtm.h"
#include <sys/stat.h>

static void is_link(int fd, const char *target, const char *what)
{
	struct stat st;
	char buf[256];
	zdtm_check(fstat(fd, &st) == 0 && S_ISLNK(st.st_mode), "%s is not a symbolic link's descriptor", what);
	ssize_t n = readlinkat(fd, "", buf, sizeof buf - 1);
	zdtm_check(n >= 0, "%s: readlinkat: %s", what, strerror(errno));
	buf[n] = 0;
	zdtm_check(!strcmp(buf, target), "%s points to %s, not %s", what, buf, target);
	zdtm_check((fcntl(fd, F_GETFL) & O_PATH) && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "%s lost O_PATH or FD_CLOEXEC", what);
}

int main(void)
{
	int f = open("symlink.file", O_WRONLY | O_CREAT, 0644);
	zdtm_check(f >= 0 && close(f) == 0, "creat");
	zdtm_check(symlink("symlink.file", "symlink.kept") == 0 && symlink("symlink.file", "symlink.gone") == 0, "symlink");
	int kept = open("symlink.kept", O_PATH | O_NOFOLLOW | O_CLOEXEC), gone = open("symlink.gone", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	zdtm_check(kept >= 0 && gone >= 0, "open: %s", strerror(errno));
	zdtm_check(unlink("symlink.gone") == 0, "unlink");
	is_link(kept, "symlink.file", "kept");
	is_link(gone, "symlink.file", "gone");
	zdtm_ready();
	zdtm_wait();

	is_link(kept, "symlink.file", "kept");
	is_link(gone, "symlink.file", "gone");
	zdtm_check(access("symlink.gone", F_OK) < 0 && errno == ENOENT, "the removed link has its name again");
	zdtm_pass();
}
