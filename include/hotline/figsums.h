/* figsums.h - the sums of a day's live figures, kept beside its cells.
 *
 * Once a local day is over (HL_FIGURES_SETTLED_MS after its end), its
 * cells in Redis (HL_FIGURES_KEY + day) no longer change, and their sums
 * per counter, unit and one of category, region or channel
 * (hl_figures_dims) can be kept beside them, one hash each
 * (HL_FIGURES_DIMS_KEY "c:", "r:", "h:" + day), for figures filtered by one
 * of those to read instead of every cell. Whoever reads the cells first
 * writes them: the gateway, or hotline-figures seal for the day it seals.
 * hotline-figures repair drops them with the cells it rewrites.
 */
#ifndef HOTLINE_FIGSUMS_H
#define HOTLINE_FIGSUMS_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "hotline/figures.h"

/* Whether the local day `day` (days since 1970-01-01, at offset_min from
 * UTC) is over by HL_FIGURES_SETTLED_MS at now_ms: its cells are final. */
bool hl_figsums_settled(int64_t day, int offset_min, int64_t now_ms);

/* Read the day's (YYYY-MM-DD) cells under WATCH and write their sums in one
 * MULTI/EXEC, which Redis refuses when the cells changed meanwhile (a
 * repair). Returns the cells' reply (the caller frees it), or NULL when
 * Redis failed; *kept (if not NULL): whether the sums were written (not
 * when the day has no cells). Blocking: for threads that may wait. */
redisReply *hl_figsums_keep(redisContext *rc, const char *day, bool *kept);

#endif
