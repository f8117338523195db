/* kbstore.c - knowledge-base entries from PostgreSQL into an index (see kbstore.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/buf.h"
#include "hotline/kbstore.h"

#define ENTRY_COLUMNS                                                                                         \
    "SELECT id, version, title, array_to_string(variants, E'\\n'), answer, coalesce(category, ''), "          \
    "coalesce((extract(epoch FROM valid_from) * 1000)::bigint, 0), "                                           \
    "coalesce((extract(epoch FROM valid_to) * 1000)::bigint, 0), status FROM kb_entries "

PGresult *hl_kbstore_query(PGconn *pg, const int64_t *ids, size_t n, char err[HL_ERR_LEN])
{
    PGresult *res;
    if (!ids) {
        res = PQexec(pg, ENTRY_COLUMNS "WHERE status = 'published'");
    } else {
        hl_buf_t arr = HL_BUF_INIT;
        hl_buf_putc(&arr, '{');
        for (size_t i = 0; i < n; i++) {
            if (i) hl_buf_putc(&arr, ',');
            hl_buf_put_i64(&arr, ids[i]);
        }
        hl_buf_putc(&arr, '}');
        const char *p[1] = {arr.data};
        res = PQexecParams(pg, ENTRY_COLUMNS "WHERE id = ANY($1::bigint[])", 1, NULL, p, NULL, NULL, 0);
        hl_buf_free(&arr);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, HL_ERR_LEN, "knowledge base: %s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

size_t hl_kbstore_apply(hl_kbindex_t *ix, const PGresult *res)
{
    size_t skipped = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = atoll(PQgetvalue(res, i, 0));
        if (strcmp(PQgetvalue(res, i, 8), "published") != 0) {
            hl_kbindex_remove(ix, id);
            continue;
        }
        hl_kb_entry_t e = {id,
                           atoi(PQgetvalue(res, i, 1)),
                           PQgetvalue(res, i, 2),
                           PQgetvalue(res, i, 3),
                           PQgetvalue(res, i, 4),
                           PQgetvalue(res, i, 5),
                           atoll(PQgetvalue(res, i, 6)),
                           atoll(PQgetvalue(res, i, 7))};
        if (hl_kbindex_put(ix, &e) != 0) skipped++;
    }
    return skipped;
}
