/*
 * unix_listen_queued: a connection waiting on an AF_UNIX listening socket, not yet accepted
 * (CRIU's sk-unix-listen01-04): the waiting connection's server end is no descriptor of the
 * program's and cannot be made again, so the checkpoint warns about the listener and the
 * client's end, and a restart refuses the image, naming the first.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/socket.h>
#include <sys/un.h>

int main(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "unix_listen_queued.sock" };
	int listener = socket(AF_UNIX, SOCK_STREAM, 0), client = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(a.sun_path);
	zdtm_check(bind(listener, (struct sockaddr *)&a, sizeof a) == 0 && listen(listener, 4) == 0, "listen: %s", strerror(errno));
	zdtm_check(connect(client, (struct sockaddr *)&a, sizeof a) == 0 && write(client, "x", 1) == 1, "connect: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	int server = accept(listener, NULL, NULL);
	char c;
	zdtm_check(server >= 0 && read(server, &c, 1) == 1, "the waiting connection is gone");
	zdtm_pass();
}
