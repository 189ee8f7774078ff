/* remote: what the shadow benchmark times, from inside a (relinked) program.
 *   remote stat FILE N         N stat calls after WARM_UP untimed ones; prints ns per call
 *   remote write FILE MIB      writes MIB MiB in 1 MiB chunks, fsyncs; prints MB/s
 *   remote read FILE           reads it back in 1 MiB chunks; prints MB/s
 *   remote ping HOST PORT N    N round trips of a 40-byte message with an echo server (after
 *                              WARM_UP untimed ones); ns each
 *   remote send HOST PORT MIB  sends MIB MiB to a copy server, waits for its "ok"; prints MB/s
 *   remote recv HOST PORT      receives until the server closes; prints MB/s */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int dial(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		exit(1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int copy(const char *host, int port, long mib, char *buf, size_t size)
{
	int fd = dial(host, port);
	long total = 0;
	ssize_t n;
	double t0 = now();
	if (mib >= 0) {
		for (long i = 0; i < mib; i++)
			for (size_t done = 0; done < size; done += (size_t)n)
				if ((n = write(fd, buf + done, size - done)) <= 0)
					return 1;
		shutdown(fd, SHUT_WR);
		total = mib * (long)size;
	}
	while ((n = read(fd, buf, size)) > 0)	/* the server's "ok", or the file */
		total += mib >= 0 ? 0 : n;
	printf("%.1f\n", total / 1e6 / (now() - t0));
	return 0;
}

/* calls made before the clock starts: the connection, the shadow's handshake, both sides' caches */
#define WARM_UP 500

static int ping(const char *host, int port, long n)
{
	char msg[40] = "ping", back[40];
	int fd = dial(host, port);
	double t0 = 0;
	for (long i = -WARM_UP; i < n; i++) {
		if (i == 0)
			t0 = now();
		if (write(fd, msg, sizeof msg) != sizeof msg)
			return 1;
		for (size_t got = 0; got < sizeof back;) {
			ssize_t r = read(fd, back + got, sizeof back - got);
			if (r <= 0)
				return 1;
			got += (size_t)r;
		}
	}
	printf("%.1f\n", (now() - t0) / n * 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "ping") && argc > 4)
		return ping(argv[2], atoi(argv[3]), atol(argv[4]));
	if (!strcmp(argv[1], "send") && argc > 4)
		return copy(argv[2], atoi(argv[3]), atol(argv[4]), buf, sizeof buf);
	if (!strcmp(argv[1], "recv") && argc > 3)
		return copy(argv[2], atoi(argv[3]), -1, buf, sizeof buf);
	if (!strcmp(argv[1], "stat") && argc > 3) {
		struct stat st;
		long n = atol(argv[3]);
		double t0 = 0;
		for (long i = -WARM_UP; i < n; i++) {
			if (i == 0)
				t0 = now();
			if (stat(argv[2], &st) < 0)
				return 1;
		}
		printf("%.1f\n", (now() - t0) / n * 1e9);
		return 0;
	}
	if (!strcmp(argv[1], "write") && argc > 3) {
		long mib = atol(argv[3]);
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		memset(buf, 'x', sizeof buf);
		double t0 = now();
		for (long i = 0; i < mib; i++)
			if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf)
				return 1;
		if (fsync(fd) < 0)
			return 1;
		printf("%.1f\n", mib * 1.048576 / (now() - t0));
		return close(fd);
	}
	if (!strcmp(argv[1], "read")) {
		int fd = open(argv[2], O_RDONLY);
		long total = 0;
		ssize_t n;
		double t0 = now();
		while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
			total += n;
		printf("%.1f\n", total / 1e6 / (now() - t0));
		return fd < 0;
	}
	return 2;
}
