/* filecopy: file-descriptor state a checkpoint must carry across -- file
 * offsets moved by read/write and lseek, positional I/O that leaves the
 * offset alone, O_APPEND, and sizes changed by ftruncate.  Every step is
 * checked against a known byte pattern, so a wrong offset shows up as a
 * wrong checksum or a "mismatch" line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_SIZE (300 * 1024 + 123) /* odd tail: no chunk size divides it */
#define SEQ_CHUNK 7000               /* sequential read/write chunk */
#define POS_CHUNK 4096               /* pread/pwrite chunk */
#define APPEND_SIZE 5000             /* last bytes, written with O_APPEND */
#define JUNK_SIZE 1000               /* appended then cut off by ftruncate */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static unsigned char pattern_byte(off_t offset)
{
	return (unsigned char)(offset * 31 + offset / 251);
}

static void fill_pattern(unsigned char *buf, off_t offset, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(offset + (off_t)i);
}

static void write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0)
			die("write");
		buf += n;
		len -= (size_t)n;
	}
}

static size_t read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static uint64_t fnv1a(const unsigned char *buf, size_t len)
{
	uint64_t hash = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ buf[i]) * 0x100000001b3ULL;
	return hash;
}

static off_t size_by_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		die("stat");
	return st.st_size;
}

static off_t size_by_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		die("fstat");
	return st.st_size;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd < 0)
		die(path);
	return fd;
}

static void create_source(const char *path)
{
	unsigned char buf[4096];
	int fd = open_or_die(path, O_WRONLY | O_CREAT | O_TRUNC);
	for (off_t off = 0; off < FILE_SIZE; off += (off_t)sizeof buf) {
		size_t len = FILE_SIZE - off < (off_t)sizeof buf ? (size_t)(FILE_SIZE - off) : sizeof buf;
		fill_pattern(buf, off, len);
		write_all(fd, buf, len);
	}
	close(fd);
}

/* First half: plain read/write, so both file offsets advance together. */
static off_t copy_sequential(int src, int dst, off_t end)
{
	unsigned char buf[SEQ_CHUNK];
	off_t done = 0;
	while (done < end) {
		size_t want = end - done < SEQ_CHUNK ? (size_t)(end - done) : SEQ_CHUNK;
		size_t got = read_full(src, buf, want);
		write_all(dst, buf, got);
		done += (off_t)got;
	}
	return done;
}

/* Middle part, back to front with pread/pwrite: the first pwrite lands past
 * EOF and leaves a hole that later chunks fill; no offset moves. */
static off_t copy_positional(int src, int dst, off_t begin, off_t end)
{
	unsigned char buf[POS_CHUNK];
	off_t chunk_end = end;
	while (chunk_end > begin) {
		off_t chunk_begin = chunk_end - POS_CHUNK > begin ? chunk_end - POS_CHUNK : begin;
		size_t len = (size_t)(chunk_end - chunk_begin);
		if (pread(src, buf, len, chunk_begin) != (ssize_t)len)
			die("pread");
		if (pwrite(dst, buf, len, chunk_begin) != (ssize_t)len)
			die("pwrite");
		chunk_end = chunk_begin;
	}
	return end - begin;
}

static off_t copy_appending(const char *dst_path, int src, off_t begin, off_t len)
{
	unsigned char buf[APPEND_SIZE];
	int fd = open_or_die(dst_path, O_WRONLY | O_APPEND);
	if (lseek(src, begin, SEEK_SET) != begin)
		die("lseek SEEK_SET");
	write_all(fd, buf, read_full(src, buf, (size_t)len));
	close(fd);
	return len;
}

static int tail_matches_pattern(int fd)
{
	unsigned char got[100], want[100];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = lseek(fd, -(off_t)sizeof got, SEEK_CUR);
	if (end < 0 || start != end - (off_t)sizeof got)
		die("lseek SEEK_END/SEEK_CUR");
	fill_pattern(want, start, sizeof want);
	return read_full(fd, got, sizeof got) == sizeof got && memcmp(got, want, sizeof got) == 0;
}

static void append_junk_then_truncate(const char *dst_path, int dst)
{
	unsigned char junk[JUNK_SIZE];
	int fd = open_or_die(dst_path, O_WRONLY | O_APPEND);
	memset(junk, 0xa5, sizeof junk);
	write_all(fd, junk, sizeof junk);
	close(fd);
	printf("size after junk append: %lld\n", (long long)size_by_fd(dst));
	if (ftruncate(dst, FILE_SIZE) < 0)
		die("ftruncate");
	printf("size after ftruncate: %lld\n", (long long)size_by_fd(dst));
}

static void verify_copy(const char *src_path, const char *dst_path)
{
	static unsigned char src_buf[FILE_SIZE + 1], dst_buf[FILE_SIZE + 1];
	int src = open_or_die(src_path, O_RDONLY);
	int dst = open_or_die(dst_path, O_RDONLY);
	size_t src_len = read_full(src, src_buf, sizeof src_buf);
	size_t dst_len = read_full(dst, dst_buf, sizeof dst_buf);
	int same = src_len == dst_len && memcmp(src_buf, dst_buf, src_len) == 0;
	printf("verify: %s, %zu bytes, checksum=%016llx\n", same ? "match" : "mismatch",
	       dst_len, (unsigned long long)fnv1a(dst_buf, dst_len));
	close(src);
	close(dst);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	char src_path[4096], dst_path[4096];
	snprintf(src_path, sizeof src_path, "%s/ckpt-filecopy.src", dir);
	snprintf(dst_path, sizeof dst_path, "%s/ckpt-filecopy.dst", dir);

	create_source(src_path);
	printf("source size: %lld\n", (long long)size_by_path(src_path));

	const off_t half = FILE_SIZE / 2, tail = FILE_SIZE - APPEND_SIZE;
	int src = open_or_die(src_path, O_RDONLY);
	int dst = open_or_die(dst_path, O_RDWR | O_CREAT | O_TRUNC);
	printf("sequential: %lld bytes\n", (long long)copy_sequential(src, dst, half));
	printf("positional: %lld bytes\n", (long long)copy_positional(src, dst, half, tail));
	printf("offset after positional: %lld\n", (long long)lseek(dst, 0, SEEK_CUR));
	printf("appended: %lld bytes\n", (long long)copy_appending(dst_path, src, tail, APPEND_SIZE));
	printf("tail via SEEK_END/SEEK_CUR: %s\n", tail_matches_pattern(dst) ? "ok" : "mismatch");
	append_junk_then_truncate(dst_path, dst);
	close(src);
	close(dst);

	verify_copy(src_path, dst_path);
	if (unlink(src_path) < 0 || unlink(dst_path) < 0)
		die("unlink");
	puts("removed files");
	return 0;
}
