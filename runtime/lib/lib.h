/*
 * lib/: what any room may use and that knows nothing of the runtime's state: strings and memory,
 * numbers as text, descriptors and small files, CRC-32C. Nothing here keeps state but caches.
 */
#ifndef RT_LIB_H
#define RT_LIB_H

#include <stdint.h>
#include <stddef.h>
#include <asm/unistd_64.h>
#include "arch/x86_64/syscall.h"
#include "lib/kernel.h"

/* extern declarations too, so that every reference is PC-relative and needs no GOT */
#pragma GCC visibility push(hidden)

#define RT_PATH_MAX	4096

/*
 * The length of a string literal, counted by the compiler (s "" accepts nothing but a literal):
 * the one way the runtime counts one. RT_LITERAL(s) gives a literal and that length as two
 * arguments, for calls that take a buffer and its length.
 */
#define RT_LITERAL_LEN(s)	(sizeof(s "") - 1)
#define RT_LITERAL(s)		(s), RT_LITERAL_LEN(s)

/* string.c */
size_t rt_strlen(const char *s);
const char *rt_getenv(char **envp, const char *name);
void *rt_memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int rt_memcmp(const void *a, const void *b, size_t n);
int rt_streq(const char *a, const char *b);
int rt_starts_with(const char *s, const char *prefix);
char *rt_put(char *out, const char *s);

/* number.c */
char *rt_utoa(uint64_t v, char *buf);

/* fd.c */
int rt_write_all(int fd, const char *buf, size_t len);
int rt_pwrite_all(long fd, const void *buf, uint64_t len, uint64_t off);
void rt_write_line(const char *const *parts, unsigned n);
char *rt_fd_path(char *out, long fd);
long rt_high_fd(long fd, long below, int cloexec);
long rt_read_file(const char *path, char *buf, size_t size);
int rt_absolute_path(char *out, const char *path);
int rt_each_number(const char *path, char *buf, size_t size, int (*fn)(void *arg, long n), void *arg);
int rt_each_fd(char *buf, size_t size, int (*fn)(void *arg, long fd), void *arg);
int rt_each_task(char *buf, size_t size, int (*fn)(void *arg, long tid), void *arg);

/* crc32c.c */
uint32_t rt_crc32c(uint32_t crc, const void *data, size_t n);

#pragma GCC visibility pop
#endif
