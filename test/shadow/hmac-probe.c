/* Prints the runtime's HMAC-SHA256 (runtime/remote/sha256.c, compiled as it is) of argv[2..] keyed with
 * argv[1], in hex: test/shadow/hmac.test.ts compares it with node:crypto. */
#include <stdio.h>
#include <string.h>
#include "../../runtime/remote/sha256.c"

void *rt_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }

int main(int argc, char **argv)
{
	struct rt_part parts[16];
	unsigned char mac[32];
	int n = 0;
	for (int i = 2; i < argc && n < 16; i++, n++)
		parts[n] = (struct rt_part){ argv[i], strlen(argv[i]) };
	rt_hmac_sha256((const unsigned char *)argv[1], strlen(argv[1]), parts, n, mac);
	for (int i = 0; i < 32; i++)
		printf("%02x", mac[i]);
	printf("\n");
	return 0;
}
