#include "engine/cet_err.h"

#include <string.h>

static const struct {
    const char *code;
    int status;
    const char *message;
} cet_err_rows[CET_E__COUNT] = {
#define CET_ERR_ROW(name, code, status, msg) [CET_E_##name] = {code, status, msg},
    CET_ERR_TABLE(CET_ERR_ROW)
#undef CET_ERR_ROW
};

const char *cet_err_code(cet_err_t e)
{
    return (unsigned)e < CET_E__COUNT ? cet_err_rows[e].code : "internal";
}

int cet_err_status(cet_err_t e)
{
    return (unsigned)e < CET_E__COUNT ? cet_err_rows[e].status : 500;
}

const char *cet_err_message(cet_err_t e)
{
    return (unsigned)e < CET_E__COUNT ? cet_err_rows[e].message : "internal error";
}

cet_err_t cet_err_from_code(const char *code)
{
    for (unsigned i = 0; i < CET_E__COUNT; i++)
        if (strcmp(cet_err_rows[i].code, code) == 0) return (cet_err_t)i;
    return CET_E__COUNT;
}
