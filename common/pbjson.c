/* pbjson.c - protobuf-c messages as JSON, by reflection over descriptors. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hotline/pbjson.h"

const char *hl_pb_enum_name(const ProtobufCEnumDescriptor *d, int value, char *out, size_t n)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    if (!n) return out;
    out[0] = '\0';
    if (!v) return out;
    const char *s = strchr(v->name, '_');
    s = s ? s + 1 : v->name;
    bool upper = strcmp(d->short_name, "State") == 0;
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) out[i] = upper ? s[i] : (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
    return out;
}

static json_t *scalar(const ProtobufCFieldDescriptor *f, const void *p)
{
    char name[64];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return json_string(hl_pb_enum_name(f->descriptor, *(const int *)p, name, sizeof name));
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        /* The envelope codec admits valid UTF-8 only; anything else is null. */
        return s ? json_string(s) : json_string("");
    }
    case PROTOBUF_C_TYPE_MESSAGE: return hl_pb_to_json(*(ProtobufCMessage *const *)p);
    default: return json_null();
    }
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    default: return 4;
    }
}

/* A map field: repeated FooEntry {key, value}. */
static bool is_map(const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return false;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return d->n_fields == 2 && n > 5 && strcmp(d->name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0 &&
           d->fields[0].type == PROTOBUF_C_TYPE_STRING;
}

json_t *hl_pb_to_json(const ProtobufCMessage *m)
{
    if (!m) return NULL;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *o = json_object();
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t chosen = *(const uint32_t *)(base + f->quantifier_offset);
            if (chosen != f->id) continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)p;
            if (is_map(f)) {
                json_t *obj = json_object();
                for (size_t k = 0; k < n; k++) {
                    const ProtobufCMessage *e = ((ProtobufCMessage *const *)arr)[k];
                    const ProtobufCMessageDescriptor *ed = e->descriptor;
                    const char *key = *(char *const *)((const char *)e + ed->fields[0].offset);
                    json_object_set_new(obj, key ? key : "", scalar(&ed->fields[1], (const char *)e + ed->fields[1].offset));
                }
                json_object_set_new(o, f->name, obj);
                continue;
            }
            json_t *a = json_array();
            size_t sz = elem_size(f->type);
            for (size_t k = 0; k < n; k++) {
                json_t *v = scalar(f, arr + k * sz);
                json_array_append_new(a, v ? v : json_null());
            }
            json_object_set_new(o, f->name, a);
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(ProtobufCMessage *const *)p) continue;
        json_t *v = scalar(f, p);
        json_object_set_new(o, f->name, v ? v : json_null());
    }
    return o;
}
