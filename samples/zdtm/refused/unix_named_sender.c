/*
 * unix_named_sender: an unread datagram on an AF_UNIX socket, sent by a socket bound to a name
 * (CRIU's socket_snd_addr): a restart could put the datagram back, but not with its sender's
 * address, so the checkpoint warns about the receiving socket and a restart refuses the image.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/socket.h>
#include <sys/un.h>

int main(void)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX, .sun_path = "unix_named_sender.to" };
	struct sockaddr_un from = { .sun_family = AF_UNIX, .sun_path = "unix_named_sender.from" };
	int receiver = socket(AF_UNIX, SOCK_DGRAM, 0), sender = socket(AF_UNIX, SOCK_DGRAM, 0);
	unlink(to.sun_path);
	unlink(from.sun_path);
	zdtm_check(bind(receiver, (struct sockaddr *)&to, sizeof to) == 0 && bind(sender, (struct sockaddr *)&from, sizeof from) == 0,
		   "bind: %s", strerror(errno));
	zdtm_check(sendto(sender, "hi", 2, 0, (struct sockaddr *)&to, sizeof to) == 2, "sendto: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	struct sockaddr_un got;
	char buf[4];
	zdtm_check(recvfrom(receiver, buf, sizeof buf, 0, (struct sockaddr *)&got, &(socklen_t){ sizeof got }) == 2 &&
		   !strcmp(got.sun_path, from.sun_path), "the datagram or its sender differ");
	zdtm_pass();
}
