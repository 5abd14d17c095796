/*
 * cet_err.c: the table behind cet_err.h, and naming any rc of the one space.
 */
#include "base/cet_err.h"

#include <errno.h>
#include <string.h>

/* store/store.h's STORE_NOSPACE: the base names it without including the store. */
#define CET_STORE_NOSPACE (-30503)

static const struct {
    const char *code;
    int status;
    const char *message;
} cet_err_rows[] = {
#define CET_ERR_ROW(name, code, status, msg) [CET_E_##name - CET_E__BASE - 1] = {code, status, msg},
    CET_ERR_TABLE(CET_ERR_ROW)
#undef CET_ERR_ROW
};
_Static_assert(sizeof cet_err_rows / sizeof cet_err_rows[0] == (size_t)CET_E__COUNT,
               "one table row per code");

static int row_of(cet_err_t e) { return cet_err_is_code((int)e) ? (int)e - CET_E__BASE - 1 : -1; }

cet_err_t cet_err_of(int rc)
{
    switch (cet_rc_class(rc)) {
    case CET_OK: return CET_E_OK;
    case CET_REFUSED: return (cet_err_t)rc;
    case CET_AGAIN: return CET_E_OVERLOADED;
    default: break;
    }
    switch (rc) {
    case ENOSPC: case EDQUOT: case EFBIG: case CET_STORE_NOSPACE: return CET_E_STORAGE_FULL;
    default: return CET_E_STORAGE;
    }
}

const char *cet_err_code(cet_err_t e)
{
    if (e == CET_E_OK) return "ok";
    int i = row_of(e);
    return i >= 0 ? cet_err_rows[i].code : "internal";
}

int cet_err_status(cet_err_t e)
{
    if (e == CET_E_OK) return 200;
    int i = row_of(e);
    return i >= 0 ? cet_err_rows[i].status : 500;
}

const char *cet_err_message(cet_err_t e)
{
    if (e == CET_E_OK) return "ok";
    int i = row_of(e);
    return i >= 0 ? cet_err_rows[i].message : "internal error";
}

cet_err_t cet_err_from_code(const char *code)
{
    if (strcmp(code, "ok") == 0) return CET_E_OK;
    for (int i = 0; i < CET_E__COUNT; i++)
        if (strcmp(cet_err_rows[i].code, code) == 0) return (cet_err_t)(CET_E__BASE + 1 + i);
    return CET_E__END;
}

/* The base does not link LMDB: the store registers its namer at open. */
static const char *(*store_namer)(int rc);

void cet_strerror_set_store(const char *(*namer)(int rc)) { store_namer = namer; }

const char *cet_strerror(int rc)
{
    if (rc == CET_OK) return "ok";
    if (rc > 0) return strerror(rc);
    if (cet_err_is_code(rc)) return cet_err_code((cet_err_t)rc);
    switch (rc) {
    case CET_REFUSED: return "refused";
    case CET_AGAIN: return "try again";
    case CET_FAILED: return "failed";
    case CET_DONE: return "done";
    default: break;
    }
    if (rc >= -30999 && rc <= -30000 && store_namer) return store_namer(rc);
    return "unknown error";
}
