/* envelope.c - Envelope decoding with limits and string validation. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/envelope.h"
#include "hotline/utf8.h"

/* An unpacked envelope lives in one arena: protobuf-c allocates a message,
 * its strings and nested messages one by one (a dozen or more malloc/free
 * pairs per intake, a tenth of the router's time), so they are carved out of
 * a block sized for the encoding instead, and freed with it. protobuf-c
 * allocates the envelope itself first, so it sits right after the arena's
 * header and hl_envelope_free finds the arena from it. */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} chunk_t;

typedef struct {
    chunk_t *head; /* the first chunk: the one the envelope is in */
    chunk_t *cur;
    size_t next_cap;
} arena_t;

#define ALIGN_UP(n) (((n) + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1))

static chunk_t *chunk_new(size_t cap)
{
    chunk_t *c = hl_malloc(sizeof *c + cap);
    if (!c) return NULL; /* only when a test's OOM handler returns */
    c->next = NULL;
    c->used = 0;
    c->cap = cap;
    return c;
}

static void *arena_alloc(void *data, size_t size)
{
    arena_t *a = data;
    size = ALIGN_UP(size ? size : 1);
    if (a->cur->cap - a->cur->used < size) {
        chunk_t *c = chunk_new(size > a->next_cap ? size : a->next_cap);
        if (!c) return NULL;
        a->cur->next = c;
        a->cur = c;
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += size;
    return p;
}

static void arena_free(void *data, void *ptr)
{
    (void)data, (void)ptr; /* all of it goes with the arena */
}

static void arena_release(arena_t *a)
{
    for (chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        hl_free(c);
    }
}

/* The arena lives at the start of its first chunk, the envelope after it. */
#define ARENA_HDR ALIGN_UP(sizeof(arena_t))

static hl_envelope_t *unpack(const void *data, size_t len)
{
    /* The decoded structs and strings of an encoding of len bytes take
     * about twice len: one chunk is enough for nearly every envelope. */
    size_t cap = ALIGN_UP(ARENA_HDR + sizeof(hl_envelope_t) + 2 * len + 512);
    chunk_t *first = chunk_new(cap);
    if (!first) return NULL;
    arena_t *a = (arena_t *)(void *)first->data;
    *a = (arena_t){first, first, cap / 2 > 1024 ? cap / 2 : 1024};
    first->used = ARENA_HDR;
    ProtobufCAllocator al = {arena_alloc, arena_free, a};
    hl_envelope_t *env = hotline__envelope__unpack(&al, len, data);
    if (!env || (void *)env != (void *)(first->data + ARENA_HDR)) {
        /* Not decodable, or (a protobuf-c that allocates otherwise) not
         * where hl_envelope_free would look for its arena. */
        arena_release(a);
        return NULL;
    }
    return env;
}

static void release(hl_envelope_t *env)
{
    arena_release((arena_t *)(void *)((unsigned char *)env - ARENA_HDR));
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int check(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
                 int depth, char err[HL_ERR_LEN])
{
    if (depth > 16) {
        snprintf(err, HL_ERR_LEN, "message nested too deeply");
        return HL_EPROTO;
    }
    while (p < end) {
        uint64_t key, len;
        if (read_varint(&p, end, &key)) goto malformed;
        unsigned wire = (unsigned)(key & 7);
        uint64_t tag = key >> 3;
        switch (wire) {
        case 0:
            if (read_varint(&p, end, &len)) goto malformed;
            continue;
        case 1:
            if (end - p < 8) goto malformed;
            p += 8;
            continue;
        case 5:
            if (end - p < 4) goto malformed;
            p += 4;
            continue;
        case 2: break;
        default: goto malformed;
        }
        if (read_varint(&p, end, &len) || len > (uint64_t)(end - p)) goto malformed;
        const ProtobufCFieldDescriptor *f =
            tag <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)tag) : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_STRING && !hl_utf8_valid((const char *)p, len)) {
            snprintf(err, HL_ERR_LEN, "%s.%s is not valid UTF-8 (or contains NUL)",
                     desc->short_name, f->name);
            return HL_EINVAL;
        }
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            int rc = check(f->descriptor, p, p + len, depth + 1, err);
            if (rc) return rc;
        }
        p += len;
    }
    return 0;
malformed:
    snprintf(err, HL_ERR_LEN, "malformed %s encoding", desc->short_name);
    return HL_EPROTO;
}

int hl_proto_check_strings(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
                           char err[HL_ERR_LEN])
{
    return check(desc, data, (const uint8_t *)data + len, 0, err);
}

int hl_envelope_unpack(const void *data, size_t len, size_t max, hl_envelope_t **out,
                       uint64_t *request_id, char err[HL_ERR_LEN])
{
    *out = NULL;
    if (request_id) *request_id = 0;
    if (len > max) {
        snprintf(err, HL_ERR_LEN, "envelope of %zu bytes is over the limit of %zu", len, max);
        return HL_ETOOBIG;
    }
    hl_envelope_t *env = unpack(data, len);
    if (!env) {
        snprintf(err, HL_ERR_LEN, "not a valid Envelope encoding");
        return HL_EPROTO;
    }
    if (request_id) *request_id = env->request_id;
    int rc = hl_proto_check_strings(&hotline__envelope__descriptor, data, len, err);
    if (rc) goto fail;
    if (env->schema > HL_SCHEMA_VERSION) {
        snprintf(err, HL_ERR_LEN, "schema %u is newer than this router's %d", env->schema,
                 HL_SCHEMA_VERSION);
        rc = HL_EUNSUPPORTED;
        goto fail;
    }
    if (env->body_case == HOTLINE__ENVELOPE__BODY__NOT_SET) {
        snprintf(err, HL_ERR_LEN, "envelope has no known message kind");
        rc = HL_EUNSUPPORTED;
        goto fail;
    }
    *out = env;
    return 0;
fail:
    release(env);
    return rc;
}

void hl_envelope_free(hl_envelope_t **env_p)
{
    if (!*env_p) return;
    release(*env_p);
    *env_p = NULL;
}

void hl_envelope_pack(const hl_envelope_t *env, hl_buf_t *out)
{
    size_t n = hotline__envelope__get_packed_size(env);
    hl_buf_reserve(out, n);
    hotline__envelope__pack(env, (uint8_t *)out->data + out->len);
    out->len += n;
    out->data[out->len] = '\0';
}
