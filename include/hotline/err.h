/* err.h - error codes shared by every hotline module.
 *
 * Fallible functions return 0 on success and a negative HL_E* code on failure
 * (or -errno passed through). Functions that can say more fill a caller-owned
 * `char err[HL_ERR_LEN]`. Every int-returning prototype is HL_MUSTCHECK.
 */
#ifndef HOTLINE_ERR_H
#define HOTLINE_ERR_H

#define HL_MUSTCHECK __attribute__((warn_unused_result))
#define HL_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Size of the message buffers filled by functions that take `char *err`. */
#define HL_ERR_LEN 256

enum {
    HL_OK = 0,
    HL_EINVAL = -1001,   /* invalid argument or input */
    HL_ENOMEM = -1002,   /* out of memory (only where allocation may fail) */
    HL_EIO = -1003,      /* I/O or store error */
    HL_EPROTO = -1004,   /* malformed message */
    HL_ETOOBIG = -1005,  /* over a size limit */
    HL_ENOTFOUND = -1006,
    HL_EEXIST = -1007,
    HL_EAGAIN = -1008,   /* try again later */
    HL_ECONFLICT = -1009,
    HL_EUNSUPPORTED = -1010,
    HL_ETIMEDOUT = -1011,
    HL_EFORBIDDEN = -1012, /* the actor may not do this */
};

/* Returns a static English description of an HL_E* code or -errno. */
const char *hl_strerror(int code);

#endif
