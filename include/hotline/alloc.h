/* alloc.h - the one allocator of hotline.
 *
 * OOM policy: allocation failure is fatal. hl_malloc and friends never return
 * NULL; they call the OOM handler, which logs and aborts by default (as Redis
 * does). Tests may install a handler that records the failure instead, and may
 * make the n-th allocation fail with hl_alloc_fail_after().
 */
#ifndef HOTLINE_ALLOC_H
#define HOTLINE_ALLOC_H

#include <stddef.h>

typedef void (*hl_oom_handler_t)(size_t size);

/* Allocate size bytes; never returns NULL (see the OOM policy above). */
void *hl_malloc(size_t size);
/* Allocate n zeroed elements of size bytes; never returns NULL. */
void *hl_calloc(size_t n, size_t size);
/* Resize ptr (may be NULL); never returns NULL for size > 0. */
void *hl_realloc(void *ptr, size_t size);
/* Duplicate a NUL-terminated string; hl_strdup(NULL) returns NULL. */
char *hl_strdup(const char *s);
/* Duplicate n bytes of s and add a NUL. */
char *hl_strndup(const char *s, size_t n);
/* Free memory from the functions above; NULL is fine. */
void hl_free(void *ptr);

/* Replace the OOM handler (NULL restores the default that aborts). If the
 * handler returns, the allocation function returns NULL to its caller: only
 * tests that expect it may do this. */
void hl_alloc_set_oom_handler(hl_oom_handler_t handler);
/* Testing: the n-th allocation from now fails (0 disables). */
void hl_alloc_fail_after(unsigned long n);

#endif
