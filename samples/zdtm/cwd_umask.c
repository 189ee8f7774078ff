/*
 * cwd_umask: the working directory and the umask survive. The sample moves into a subdirectory
 * two levels down and sets umask 027. After the restart (started from the directory above) getcwd
 * names the same subdirectory, umask is still 027, relative paths resolve from there, and a file
 * and a directory created with modes 0666 and 0777 get 0640 and 0750.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static mode_t current_umask(void)
{
	mode_t m = umask(0);
	umask(m);
	return m;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	zdtm_check(stat(path, &st) == 0, "%s was not created where expected", path);
	return st.st_mode & 07777;
}

int main(void)
{
	static char before[PATH_MAX], after[PATH_MAX], path[PATH_MAX + 16];
	zdtm_check(mkdir("cwd_umask", 0755) == 0 && mkdir("cwd_umask/inner", 0755) == 0, "cannot make the subdirectories");
	zdtm_check(chdir("cwd_umask/inner") == 0, "cannot enter cwd_umask/inner");
	umask(027);
	zdtm_check(getcwd(before, sizeof before) != NULL, "getcwd failed");
	zdtm_ready();
	zdtm_wait();

	zdtm_check(getcwd(after, sizeof after) != NULL, "getcwd failed after the restart");
	zdtm_check(!strcmp(before, after), "the working directory is %s, not %s", after, before);
	zdtm_check(current_umask() == 027, "the umask is %03o, not 027", (unsigned)current_umask());
	int fd = open("made", O_WRONLY | O_CREAT | O_EXCL, 0666);
	zdtm_check(fd >= 0, "cannot create a file in the working directory: %s", strerror(errno));
	close(fd);
	zdtm_check(mkdir("made.d", 0777) == 0, "cannot create a directory in the working directory");
	snprintf(path, sizeof path, "%s/made", before);
	zdtm_check(mode_of(path) == 0640, "the new file has mode %03o, not 0640", (unsigned)mode_of(path));
	snprintf(path, sizeof path, "%s/made.d", before);
	zdtm_check(mode_of(path) == 0750, "the new directory has mode %03o, not 0750", (unsigned)mode_of(path));
	zdtm_pass();
}
