/* sha256.h - SHA-256 (FIPS 180-4), for storing tokens as hashes only. */
#ifndef HOTLINE_SHA256_H
#define HOTLINE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
} hl_sha256_t;

void hl_sha256_init(hl_sha256_t *s);
void hl_sha256_update(hl_sha256_t *s, const void *data, size_t len);
void hl_sha256_final(hl_sha256_t *s, uint8_t out[32]);
/* The hash of data as 64 lower-case hex digits and a NUL. */
void hl_sha256_hex(const void *data, size_t len, char out[65]);

#endif
