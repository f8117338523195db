/* envelope.h - framing of the wire contract (proto/hotline.proto).
 *
 * The one place where bytes from the bus become messages and back. Unpacking
 * enforces the size limit, the schema version, that a body is present, and
 * that every string field anywhere in the message is valid UTF-8 without NUL
 * bytes (protobuf-c alone would silently cut a string at an embedded NUL).
 */
#ifndef HOTLINE_ENVELOPE_H
#define HOTLINE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/hotline.pb-c.h"

#include "hotline/buf.h"
#include "hotline/err.h"

#define HL_SCHEMA_VERSION 1

typedef Hotline__Envelope hl_envelope_t;

/* Decode len bytes. On success *out is a new envelope the caller frees with
 * hl_envelope_free (the envelope and everything in it are one allocation:
 * no part of it may be freed, kept or replaced on its own). If request_id is
 * not NULL it is set to the envelope's request id whenever the bytes decode,
 * even when the envelope is rejected afterwards (so the answer can still be
 * matched), and to 0 otherwise.
 * Errors (err filled, *out NULL):
 *   HL_ETOOBIG       len > max
 *   HL_EPROTO        not a valid Envelope encoding
 *   HL_EINVAL        a string is not valid UTF-8 or contains NUL
 *   HL_EUNSUPPORTED  no body (unknown message kind) or schema newer than ours */
HL_MUSTCHECK int hl_envelope_unpack(const void *data, size_t len, size_t max, hl_envelope_t **out,
                                    uint64_t *request_id, char err[HL_ERR_LEN]);
/* Free an envelope from hl_envelope_unpack; NULLs the pointer. */
void hl_envelope_free(hl_envelope_t **env_p);
/* Encode env (borrowed) into out (appended). */
void hl_envelope_pack(const hl_envelope_t *env, hl_buf_t *out);

/* Walk a protobuf encoding of `desc` and check that every string field, in
 * nested messages too, is valid UTF-8 without NUL. Returns 0, HL_EINVAL
 * (err names the field) or HL_EPROTO. */
HL_MUSTCHECK int hl_proto_check_strings(const ProtobufCMessageDescriptor *desc, const void *data,
                                        size_t len, char err[HL_ERR_LEN]);

#endif
