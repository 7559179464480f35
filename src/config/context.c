#include "zakpos_backup/config/context.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void zb_context_init(zb_context *ctx, const char *config_file)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->config_file = config_file;
}

int zb_context_config(const zb_config **out, zb_context *ctx)
{
    *out = NULL;
    if (!ctx->config_loaded) {
        int rc = zb_config_load(&ctx->config, ctx->config_file);
        if (rc < 0)
            return rc;
        ctx->config_loaded = 1;
    }
    *out = &ctx->config;
    return 0;
}

int zb_context_config_fresh(zb_config *out, const zb_context *ctx) { return zb_config_load(out, ctx->config_file); }

const char *zb_context_archive(const zb_context *ctx, const char *arg)
{
    const zb_context_download *d = &ctx->download;
    return arg && d->spec && strcmp(arg, d->spec) == 0 ? d->local : arg;
}

void zb_context_print(const zb_context *ctx, const char *fmt, ...)
{
    if (ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void zb_context_free(zb_context *ctx)
{
    if (!ctx)
        return;
    if (ctx->config_loaded)
        zb_config_free(&ctx->config);
    ctx->config_loaded = 0;
}
