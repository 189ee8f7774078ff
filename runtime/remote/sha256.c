/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the shadow handshake: the job proves it
 * knows the token without sending it. Small and slow is fine: a handshake hashes a few hundred
 * bytes.
 */
#include "remote/remote.h"

static const uint32_t rt_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rt_ror(uint32_t x, int n) { return x >> n | x << (32 - n); }

static void rt_sha256_block(struct rt_sha256 *s, const unsigned char *p)
{
	uint32_t w[64], v[8];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = rt_ror(w[i - 15], 7) ^ rt_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = rt_ror(w[i - 2], 17) ^ rt_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (int i = 0; i < 8; i++)
		v[i] = s->h[i];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = v[7] + (rt_ror(v[4], 6) ^ rt_ror(v[4], 11) ^ rt_ror(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + rt_k[i] + w[i];
		uint32_t t2 = (rt_ror(v[0], 2) ^ rt_ror(v[0], 13) ^ rt_ror(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		for (int j = 7; j > 0; j--)
			v[j] = v[j - 1];
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		s->h[i] += v[i];
}

void rt_sha256_init(struct rt_sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	for (int i = 0; i < 8; i++)
		s->h[i] = iv[i];
	s->len = 0;
}

void rt_sha256_update(struct rt_sha256 *s, const void *data, size_t n)
{
	const unsigned char *p = data;
	while (n--) {
		s->buf[s->len++ % 64] = *p++;
		if (s->len % 64 == 0)
			rt_sha256_block(s, s->buf);
	}
}

void rt_sha256_final(struct rt_sha256 *s, unsigned char out[32])
{
	uint64_t bits = s->len * 8;
	unsigned char pad = 0x80, zero = 0;
	rt_sha256_update(s, &pad, 1);
	while (s->len % 64 != 56)
		rt_sha256_update(s, &zero, 1);
	for (int i = 7; i >= 0; i--) {
		unsigned char b = (unsigned char)(bits >> (8 * i));
		rt_sha256_update(s, &b, 1);
	}
	for (int i = 0; i < 32; i++)
		out[i] = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* HMAC-SHA256 of the concatenation of parts (pointer, length pairs) */
void rt_hmac_sha256(const unsigned char *key, size_t key_len, const struct rt_part *parts, int nparts, unsigned char out[32])
{
	unsigned char k[64] = { 0 }, pad[64], inner[32];
	struct rt_sha256 s;
	if (key_len > 64) {
		rt_sha256_init(&s);
		rt_sha256_update(&s, key, key_len);
		rt_sha256_final(&s, k);
	} else {
		rt_memcpy(k, key, key_len);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	rt_sha256_init(&s);
	rt_sha256_update(&s, pad, 64);
	for (int i = 0; i < nparts; i++)
		rt_sha256_update(&s, parts[i].p, parts[i].n);
	rt_sha256_final(&s, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	rt_sha256_init(&s);
	rt_sha256_update(&s, pad, 64);
	rt_sha256_update(&s, inner, 32);
	rt_sha256_final(&s, out);
}
