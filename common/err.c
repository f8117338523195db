/* err.c - descriptions of the HL_E* codes. */
#include <string.h>

#include "hotline/err.h"

const char *hl_strerror(int code)
{
    switch (code) {
    case HL_OK: return "success";
    case HL_EINVAL: return "invalid argument";
    case HL_ENOMEM: return "out of memory";
    case HL_EIO: return "input/output or store error";
    case HL_EPROTO: return "malformed message";
    case HL_ETOOBIG: return "over the size limit";
    case HL_ENOTFOUND: return "not found";
    case HL_EEXIST: return "already exists";
    case HL_EAGAIN: return "try again later";
    case HL_ECONFLICT: return "conflict";
    case HL_EUNSUPPORTED: return "not supported";
    case HL_ETIMEDOUT: return "timed out";
    case HL_EFORBIDDEN: return "not allowed for this actor";
    default: break;
    }
    if (code < 0 && code > -4096) return strerror(-code);
    return "unknown error";
}
