/* test_sha.c -- SHA-256 and SHA-1 against the FIPS 180 examples, around
 * the padding boundaries (55, 56, 63, 64 bytes), and a million bytes. */
#include <stdlib.h>
#include <string.h>

#include "sha.h"
#include "test.h"

static const char *hex256(const void *d, size_t n, char out[65]) {
  unsigned char md[32];
  lgw__sha256(d, n, md);
  lgw__hex(md, 32, out);
  return out;
}

static const char *hex1(const void *d, size_t n, char out[41]) {
  unsigned char md[20];
  lgw__sha1(d, n, md);
  lgw__hex(md, 20, out);
  return out;
}

TEST(sha256_examples) {
  char h[65];
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  ASSERT_STREQ(hex256("", 0, h),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_STREQ(hex256("abc", 3, h),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_STREQ(hex256(two, strlen(two), h),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256_block_edges) {
  char h[65], buf[64];
  memset(buf, 'a', sizeof buf);
  ASSERT_STREQ(hex256(buf, 55, h),
    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  ASSERT_STREQ(hex256(buf, 56, h),
    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  ASSERT_STREQ(hex256(buf, 63, h),
    "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
  ASSERT_STREQ(hex256(buf, 64, h),
    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(sha_million) {
  char h[65];
  char *m = malloc(1000000);
  ASSERT(m != NULL);
  memset(m, 'a', 1000000);
  ASSERT_STREQ(hex256(m, 1000000, h),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  ASSERT_STREQ(hex1(m, 1000000, h),
    "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  free(m);
}

TEST(sha1_examples) {
  char h[41];
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  ASSERT_STREQ(hex1("", 0, h), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  ASSERT_STREQ(hex1("abc", 3, h), "a9993e364706816aba3e25717850c26c9cd0d89d");
  ASSERT_STREQ(hex1(two, strlen(two), h),
               "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  /* the shape of a Redis script name */
  ASSERT_STREQ(hex1("return 1", 8, h),
               "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

int main(void) {
  RUN(sha256_examples);
  RUN(sha256_block_edges);
  RUN(sha_million);
  RUN(sha1_examples);
  return TEST_SUMMARY();
}
