/* alloc.c - allocation with a fatal OOM policy and test-time failure injection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"

static hl_oom_handler_t oom_handler;
static unsigned long fail_countdown;

static void default_oom(size_t size)
{
    /* Not through log.c: formatting may itself allocate. */
    fprintf(stderr, "hotline: out of memory allocating %zu bytes\n", size);
    abort();
}

static int should_fail(void)
{
    if (fail_countdown == 0) return 0;
    return --fail_countdown == 0;
}

static void *oom(size_t size)
{
    (oom_handler ? oom_handler : default_oom)(size);
    return NULL;
}

void *hl_malloc(size_t size)
{
    void *p = should_fail() ? NULL : malloc(size ? size : 1);
    return p ? p : oom(size);
}

void *hl_calloc(size_t n, size_t size)
{
    void *p = should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom(n * size);
}

void *hl_realloc(void *ptr, size_t size)
{
    void *p = should_fail() ? NULL : realloc(ptr, size ? size : 1);
    return p ? p : oom(size);
}

char *hl_strndup(const char *s, size_t n)
{
    char *p = hl_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hl_strdup(const char *s)
{
    return s ? hl_strndup(s, strlen(s)) : NULL;
}

void hl_free(void *ptr)
{
    free(ptr);
}

void hl_alloc_set_oom_handler(hl_oom_handler_t handler)
{
    oom_handler = handler;
}

void hl_alloc_fail_after(unsigned long n)
{
    fail_countdown = n;
}
