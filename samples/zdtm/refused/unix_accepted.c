/*
 * unix_accepted: an AF_UNIX stream connection made through a listening socket that the program
 * has closed since, both ends the program's. A restart makes such a connection again through its
 * listener (samples/zdtm/unix_bound.c): without it, the ends' names cannot be given back, so the
 * checkpoint warns about both ends and a restart refuses the image, naming the first.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "unix_accepted.sock" };
	int listener = socket(AF_UNIX, SOCK_STREAM, 0), client = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(a.sun_path);
	zdtm_check(bind(listener, (struct sockaddr *)&a, sizeof a) == 0 && listen(listener, 1) == 0, "listen: %s", strerror(errno));
	zdtm_check(connect(client, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
	int server = accept(listener, NULL, NULL);
	zdtm_check(server >= 0 && write(client, "x", 1) == 1, "accept: %s", strerror(errno));
	close(listener);
	zdtm_ready();
	zdtm_wait();
	char c;
	zdtm_check(read(server, &c, 1) == 1, "the connection lost its byte");
	zdtm_pass();
}
