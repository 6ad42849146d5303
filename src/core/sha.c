/*
 * sha.c -- SHA-256 and SHA-1 (FIPS 180-4) over one buffer: the message is
 * processed in 64-byte blocks, the last one or two padded with 0x80,
 * zeros and the length in bits (big-endian).
 */
#include "sha.h"

#include <stdint.h>
#include <string.h>

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

typedef void (*block_fn)(uint32_t *h, const unsigned char *b);

/* Runs block over data and its padding. */
static void digest(const void *data, size_t len, uint32_t *h, block_fn block) {
  const unsigned char *p = data;
  unsigned char tail[128];
  size_t rest = len % 64, n;
  uint64_t bits = (uint64_t)len * 8;
  int i;
  for (n = len / 64; n > 0; n--, p += 64) block(h, p);
  memset(tail, 0, sizeof tail);
  if (rest) memcpy(tail, p, rest);
  tail[rest] = 0x80;
  n = rest < 56 ? 64 : 128;
  for (i = 0; i < 8; i++)
    tail[n - 1 - i] = (unsigned char)(bits >> (8 * i));
  block(h, tail);
  if (n == 128) block(h, tail + 64);
}

/* ---- SHA-256 ------------------------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static void block256(uint32_t *h, const unsigned char *b) {
  uint32_t w[64], a, bb, c, d, e, f, g, hh, t1, t2;
  int i;
  for (i = 0; i < 16; i++) w[i] = be32(b + 4 * i);
  for (; i < 64; i++) {
    uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
  hh = h[7];
  for (i = 0; i < 64; i++) {
    t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
         K256[i] + w[i];
    t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) +
         ((a & bb) ^ (a & c) ^ (bb & c));
    hh = g, g = f, f = e, e = d + t1, d = c, c = bb, bb = a, a = t1 + t2;
  }
  h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e, h[5] += f,
  h[6] += g, h[7] += hh;
}

void lgw__sha256(const void *data, size_t len, unsigned char out[32]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  int i;
  digest(data, len, h, block256);
  for (i = 0; i < 8; i++) put_be32(out + 4 * i, h[i]);
}

/* ---- SHA-1 --------------------------------------------------------------- */

static void block1(uint32_t *h, const unsigned char *b) {
  uint32_t w[80], a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
  int i;
  for (i = 0; i < 16; i++) w[i] = be32(b + 4 * i);
  for (; i < 80; i++) w[i] = ROTL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  for (i = 0; i < 80; i++) {
    if (i < 20) f = (bb & c) | (~bb & d), k = 0x5a827999;
    else if (i < 40) f = bb ^ c ^ d, k = 0x6ed9eba1;
    else if (i < 60) f = (bb & c) | (bb & d) | (c & d), k = 0x8f1bbcdc;
    else f = bb ^ c ^ d, k = 0xca62c1d6;
    t = ROTL(a, 5) + f + e + k + w[i];
    e = d, d = c, c = ROTL(bb, 30), bb = a, a = t;
  }
  h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e;
}

void lgw__sha1(const void *data, size_t len, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                   0xc3d2e1f0};
  int i;
  digest(data, len, h, block1);
  for (i = 0; i < 5; i++) put_be32(out + 4 * i, h[i]);
}

void lgw__hex(const unsigned char *md, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[2 * n] = '\0';
}
