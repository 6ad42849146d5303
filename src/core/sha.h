/*
 * sha.h -- SHA-256 (provider and config keys) and SHA-1 (Redis script
 * names), FIPS 180-4, one call over a buffer. Small and self-contained:
 * the library needs no crypto library for two digests.
 */
#ifndef LGW_SHA_H
#define LGW_SHA_H

#include <stddef.h>

void lgw__sha256(const void *data, size_t len, unsigned char out[32]);
void lgw__sha1(const void *data, size_t len, unsigned char out[20]);
/* Lower-case hex of n bytes into out (2 n + 1 bytes). */
void lgw__hex(const unsigned char *md, size_t n, char *out);

#endif
