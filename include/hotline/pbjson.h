/* pbjson.h - protobuf-c messages as JSON (jansson), for the tools and the API.
 *
 * Every field of the message is written, by its .proto name, defaults
 * included (readers need not know proto3's omission rules); unset
 * sub-messages and oneof members not chosen are left out. Enums are written
 * by name without their prefix: State in upper case as stored ("SIGNED"),
 * every other enum in lower case as on the API ("complaint", "try_later").
 * Maps are objects; 64-bit integers are JSON integers; bytes are not used by
 * the contract and are written as null.
 */
#ifndef HOTLINE_PBJSON_H
#define HOTLINE_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* A new JSON object for m (the caller owns the reference); NULL for NULL. */
json_t *hl_pb_to_json(const ProtobufCMessage *m);

/* The JSON name of an enum value: "SIGNED", "try_later", ...; "" when the
 * value is unknown. Writes into out (at most n bytes). */
const char *hl_pb_enum_name(const ProtobufCEnumDescriptor *d, int value, char *out, size_t n);

#endif
