/*
 * files_append: an O_APPEND log keeps appending. Five lines are written before the checkpoint,
 * then the descriptor is seeked back to 0, so that only O_APPEND (not the saved offset) puts the
 * next writes at the end. After the restart five more lines are written, and the file holds all
 * ten lines, in order, and nothing else.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <fcntl.h>

#define LOG "append.log"

static void log_line(int fd, int n)
{
	char line[32];
	int len = snprintf(line, sizeof line, "line %d\n", n);
	zdtm_check(write(fd, line, (size_t)len) == len, "cannot write line %d: %s", n, strerror(errno));
}

int main(void)
{
	int fd = open(LOG, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	zdtm_check(fd >= 0, "cannot create " LOG);
	for (int n = 1; n <= 5; n++)
		log_line(fd, n);
	lseek(fd, 0, SEEK_SET);
	zdtm_ready();
	zdtm_wait();

	zdtm_check(fcntl(fd, F_GETFL) & O_APPEND, "the log lost O_APPEND");
	for (int n = 6; n <= 10; n++)
		log_line(fd, n);
	close(fd);
	char want[256] = "", have[256] = "";
	for (int n = 1; n <= 10; n++)
		snprintf(want + strlen(want), sizeof want - strlen(want), "line %d\n", n);
	int check = open(LOG, O_RDONLY);
	ssize_t len = read(check, have, sizeof have - 1);
	zdtm_check(len >= 0 && !strcmp(have, want), "the log holds \"%s\", not lines 1 to 10", have);
	zdtm_pass();
}
