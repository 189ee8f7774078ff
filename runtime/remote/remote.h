/*
 * remote/: remote system calls (docs/shadow-protocol.md): the connection to the shadow and its
 * handshake (connection.c), name lookup (resolve.c), SHA-256 for the handshake (sha256.c), the
 * file offsets shared between processes (cursors.c), the virtual file table that gives remote
 * files local descriptor numbers (vfiles.c), images kept on the shadow (image.c).
 */
#ifndef RT_REMOTE_H
#define RT_REMOTE_H

#include "base/base.h"

#pragma GCC visibility push(hidden)

#define RT_VPATH	1024	/* a remote path, its NUL included */

/* sha256.c */
struct rt_sha256 { uint32_t h[8]; unsigned char buf[64]; uint64_t len; };
struct rt_part { const void *p; size_t n; };
void rt_sha256_init(struct rt_sha256 *s);
void rt_sha256_update(struct rt_sha256 *s, const void *data, size_t n);
void rt_sha256_final(struct rt_sha256 *s, unsigned char out[32]);
void rt_hmac_sha256(const unsigned char *key, size_t key_len, const struct rt_part *parts, int nparts, unsigned char out[32]);

/* connection.c */
struct rt_request {
	uint32_t op, handle, flags, count;
	uint64_t offset;
	const void *tail;		/* a path (with its NUL) or data */
	size_t tail_len;
	const void *tail2;		/* a second path (rename) */
	size_t tail2_len;
};
extern int rt_remote_on;		/* CKPT_SHADOW was given */
extern long rt_remote_fd;		/* the connection, -1 when none (8 bytes: the restorer pokes it) */
extern uint64_t rt_remote_gen;		/* connections made so far: handles of older ones are stale */
union rt_target { uint64_t word; struct { uint32_t addr; uint16_t port, pad; } at; };
extern union rt_target rt_remote_target;	/* where the shadow is (see connection.c) */
void rt_remote_init(char **envp);
void rt_remote_forked(void);
#define RT_RECONNECTED	(-100000)	/* rt_remote_call: the session is new, handles must be opened again */
int rt_remote_kind_is_child(void);
const char *rt_remote_addr_env(void);
long rt_remote_call(const struct rt_request *rq, void *out, size_t out_max, size_t *out_len);
long rt_remote_path_call(uint32_t op, uint32_t flags, uint32_t count, const char *path, void *out, size_t max);
void rt_remote_close(long handle);
int rt_remote_path_is_local(const char *abs);
const char *rt_remote_stdio(int fd);
void rt_remote_exit(long status);

/* resolve.c: HOST (LEN bytes, up to a ':') as an IPv4 address in network order; 0 if not found */
int rt_resolve(const char *host, size_t len, uint32_t *addr);

/* image.c */
long rt_image_remote_open(const char *name);
long rt_image_remote_pwrite(long handle, const void *buf, uint64_t len, uint64_t off);
long rt_image_remote_finish(long handle, const char *name, uint64_t size, long r);
const char *rt_image_source(const char *spec);
_Noreturn void rt_cannot_restart(const char *spec, const char *why);

/* cursors.c */
extern long rt_cursors_fd;	/* the shared cursor table's memfd, -1 when none (8 bytes: a restart pokes -1) */
uint64_t *rt_cursor_offset(int32_t c);
void rt_cursor_hold(int32_t c);
void rt_cursor_drop(int32_t c);
void rt_cursor_held(int32_t c);
void rt_cursors_forked(void);
void rt_cursors_exit(void);
uint32_t rt_cursors_slot_for_exec(void);
void rt_cursors_adopt_slot(uint32_t slot_plus_1);
int32_t rt_cursor_new(uint64_t offset);
int rt_cursors_share(void);
void rt_cursors_recount(const int32_t *held, int n);
int rt_cursors_restarted(void);
int rt_cursors_adopt(long fd);

/* vfiles.c */
void rt_vfiles_before_fork(void);
void rt_vfiles_forked(void);
void rt_vfiles_exit(void);
void rt_vfiles_vfork_save(void);
void rt_vfiles_vfork_done(void);
int rt_remote_handles(long nr);
long rt_remote_refusal(const struct rt_ctx *c, long nr);
long rt_sys_remote(const struct rt_ctx *c, long nr);
int rt_remote_placeholder(long fd);
void rt_vfiles_init(char **envp);
char **rt_vfiles_exec_env(char **envp);

#pragma GCC visibility pop
#endif
