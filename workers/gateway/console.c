/* console.c - the agents' console: a few static files, read once at start.
 *
 * Only the files found in the console folder at start are served, from
 * memory, by exact name: no path from a request ever reaches the file
 * system, so "../" leads nowhere.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hotline/alloc.h"

#include "gateway.h"

#define MAX_FILE (4 << 20)

struct gw_file {
    char name[64];
    char *data;
    size_t len;
    const char *ctype;
};

static const char *ctype_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    if (!strcmp(dot, ".png")) return "image/png";
    if (!strcmp(dot, ".ico")) return "image/x-icon";
    return NULL;
}

int gw_console_load(gw_t *gw, const char *dir, char err[HL_ERR_LEN])
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, HL_ERR_LEN, "console folder %s: %s", dir, strerror(errno));
        return HL_EIO;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && !rc) {
        const char *ct = ctype_of(e->d_name);
        if (!ct || e->d_name[0] == '.' || strlen(e->d_name) >= sizeof gw->files->name) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
            if (f) fclose(f);
            continue;
        }
        char *data = hl_malloc((size_t)st.st_size + 1);
        size_t n = fread(data, 1, (size_t)st.st_size, f);
        fclose(f);
        if (n != (size_t)st.st_size) {
            hl_free(data);
            snprintf(err, HL_ERR_LEN, "cannot read %.200s", path);
            rc = HL_EIO;
            break;
        }
        gw->files = hl_realloc(gw->files, (gw->nfiles + 1) * sizeof *gw->files);
        struct gw_file *g = &gw->files[gw->nfiles++];
        snprintf(g->name, sizeof g->name, "%.63s", e->d_name);
        g->data = data;
        g->len = n;
        g->ctype = ct;
    }
    closedir(d);
    if (!rc && gw->nfiles == 0) {
        snprintf(err, HL_ERR_LEN, "console folder %s has no files to serve", dir);
        rc = HL_EIO;
    }
    return rc;
}

void gw_console_free(gw_t *gw)
{
    for (size_t i = 0; i < gw->nfiles; i++) hl_free(gw->files[i].data);
    hl_free(gw->files);
    gw->files = NULL;
    gw->nfiles = 0;
}

void gw_console(gw_req_t *r, const char *path)
{
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        gw_reply_error(r, 405, "method_not_allowed", "use GET here");
        gw_add_header(r, "Allow", "GET, HEAD");
        return;
    }
    if (!*path) {
        gw_reply_static(r, 301, "text/plain; charset=utf-8", "", 0);
        gw_add_header(r, "Location", "/console/");
        return;
    }
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    for (size_t i = 0; i < r->gw->nfiles; i++) {
        const struct gw_file *f = &r->gw->files[i];
        if (strcmp(f->name, name) != 0) continue;
        gw_reply_static(r, 200, f->ctype, f->data, f->len);
        gw_add_header(r, "Content-Security-Policy",
                      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                      "connect-src 'self'; frame-ancestors 'self'");
        gw_add_header(r, "X-Frame-Options", "SAMEORIGIN");
        gw_add_header(r, "Referrer-Policy", "no-referrer");
        return;
    }
    gw_reply_error(r, 404, "not_found", "no such file");
}
