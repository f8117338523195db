/* kbstore.h - knowledge-base entries read from PostgreSQL into an index.
 *
 * One place for the query and the row layout, shared by the gateway (which
 * serves searches) and hotline-kb (which searches from a shell).
 */
#ifndef HOTLINE_KBSTORE_H
#define HOTLINE_KBSTORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"
#include "hotline/kbindex.h"

/* Read the published entries (ids NULL), or the entries ids[0..n) whatever
 * their status. Returns the result (the caller PQclears it), or NULL with err
 * filled. */
PGresult *hl_kbstore_query(PGconn *pg, const int64_t *ids, size_t n, char err[HL_ERR_LEN]);

/* Apply a hl_kbstore_query result to ix: published entries are put, others
 * removed. Returns how many the index refused (not UTF-8). Separate from the
 * query so a reader may lock the index only for this part. */
size_t hl_kbstore_apply(hl_kbindex_t *ix, const PGresult *res);

/* The statement that publishes or retires an entry: $1 id, $2 the version
 * the editor saw (no row comes back when it changed meanwhile), $3
 * 'published' or 'retired', $4 who; returns id, version, status. One text
 * for the gateway's API and hotline-kb. */
#define HL_KBSTORE_SET_STATUS                                                                            \
    "UPDATE kb_entries SET version = version + 1, status = $3, updated_at = now(), updated_by = $4, "      \
    "change = CASE $3 WHEN 'published' THEN 'publish' ELSE 'retire' END "                                \
    "WHERE id = $1 AND version = $2 RETURNING id, version, status"

#endif
