/* The admin wrappers' HTTP glue: the ops URL, the admin token, one call, the error body. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin_int.h"
#include "cli/cli.h"
#include "net/net.h"

bool cli_admin_opt(cli_admin *a, int c, const char *arg)
{
    switch (c) {
    case 0x100:
        a->ops = arg;
        return true;
    case 0x101:
        a->token_file = arg;
        return true;
    case 0x102:
        a->dir_opt = arg;
        return true;
    default:
        return false;
    }
}

int cli_admin_open(cli_admin *a)
{
    const char *ops = a->ops ? a->ops : CLI_OPS_DEFAULT;

    a->dir = cli_dir(a->dir_opt);
    if (client_url_parse(ops, &a->url) != TALLY_OK) {
        return cli_usage_error(a->cmd, "--ops takes http://host[:port], not '%s'", ops);
    }
    /* a URL with a path is a prefix (a proxy in front of the ops listener) */
    size_t tn = strlen(a->url.target);
    if (tn > 0 && a->url.target[tn - 1] == '/') {
        a->url.target[tn - 1] = '\0';
    }
    return CLI_OK;
}

void cli_admin_close(cli_admin *a)
{
    client_close(a->conn);
    a->conn = NULL;
    sodium_memzero(a->token, sizeof(a->token));
}

static int load_token(cli_admin *a)
{
    const char *env = getenv("TALLY_ADMIN_TOKEN_FILE");
    char path[4200], detail[NET_DETAIL_MAX] = "";
    tally_status st;

    if (a->token_file != NULL) {
        snprintf(path, sizeof(path), "%s", a->token_file);
    } else if (env != NULL && env[0] != '\0') {
        snprintf(path, sizeof(path), "%s", env);
    } else {
        snprintf(path, sizeof(path), "%s/%s", a->dir, NET_ADMIN_TOKEN_FILE);
    }
    st = net_admin_token(path, false, a->token, detail);
    if (st != TALLY_OK) {
        fprintf(stderr,
                "tally %s: no admin token: %s (give --admin-token-file, or --dir of the "
                "node)\n",
                a->cmd, detail[0] ? detail : path);
        return st == TALLY_ENOTFOUND || st == TALLY_EIO ? CLI_AUTH : cli_exit_code(st);
    }
    a->have_token = true;
    return CLI_OK;
}

static int exit_of_http(unsigned status)
{
    switch (status) {
    case 400:
    case 413:
    case 422:
        return CLI_DATA;
    case 401:
    case 403:
        return CLI_AUTH;
    case 404:
        return CLI_NOT_FOUND;
    case 409:
        return CLI_CONFLICT;
    case 429:
    case 503:
        return CLI_IO;
    case 507:
        return CLI_FULL;
    default:
        return CLI_INTERNAL;
    }
}

int cli_admin_call(cli_admin *a, const char *method, const char *path, json_t *body,
                   json_t **resp_out)
{
    char target[CLIENT_TARGET_MAX + 600], auth[80];
    client_header h = {"Authorization", auth};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    client_request rq = {.method = method,
                         .target = target,
                         .headers = &h,
                         .n_headers = 1,
                         .body = text,
                         .body_n = text ? strlen(text) : 0,
                         .content_type = text ? "application/json" : NULL};
    client_response *r = NULL;
    json_t *o = NULL;
    tally_status st;
    unsigned code;
    int rc = CLI_OK;

    if (resp_out != NULL) {
        *resp_out = NULL;
    }
    a->refused = false;
    if (body != NULL && text == NULL) {
        return cli_fail(a->cmd, TALLY_ENOMEM, "cannot build the request");
    }
    if (!a->have_token && (rc = load_token(a)) != CLI_OK) {
        free(text);
        return rc;
    }
    snprintf(auth, sizeof(auth), "Bearer %s", a->token);
    snprintf(target, sizeof(target), "%s%s", strcmp(a->url.target, "/") ? a->url.target : "", path);
    st = TALLY_OK;
    if (a->conn == NULL) {
        client_cfg cc = {.host = a->url.host, .port = a->url.port};
        st = client_open(&cc, &a->conn);
    }
    if (st == TALLY_OK) {
        st = client_do(a->conn, &rq, &r);
    }
    free(text);
    if (st != TALLY_OK) {
        const char *why = a->conn ? client_error(a->conn) : tally_status_str(st);
        a->refused = strstr(why, "connection refused") != NULL;
        if (!a->quiet || !a->refused) {
            fprintf(stderr, "tally %s: no answer from the ops listener %s:%u: %s\n", a->cmd,
                    a->url.host, (unsigned)a->url.port, why);
        }
        return CLI_IO;
    }
    code = client_response_status(r);
    tally_bytes b = client_response_body(r);
    o = b.n ? json_loadb((const char *)b.p, b.n, 0, NULL) : NULL;
    client_response_free(r);
    if (code < 200 || code > 299) {
        const char *err = json_string_value(json_object_get(o, "error"));
        const char *msg = json_string_value(json_object_get(o, "message"));
        if (!a->quiet) {
            fprintf(stderr, "tally %s: the node refused: %u %s: %s\n", a->cmd, code,
                    err ? err : "?", msg ? msg : "(no message)");
        }
        rc = exit_of_http(code);
    }
    if (resp_out != NULL) {
        *resp_out = o;
    } else {
        json_decref(o);
    }
    return rc;
}

int cli_admin_probe(cli_admin *a)
{
    char target[CLIENT_TARGET_MAX + 600];
    client_request rq = {.method = "GET", .target = target};
    client_response *r = NULL;
    tally_status st = TALLY_OK;

    snprintf(target, sizeof(target), "%s/health", strcmp(a->url.target, "/") ? a->url.target : "");

    a->refused = false;
    if (a->conn == NULL) {
        client_cfg cc = {.host = a->url.host, .port = a->url.port};
        st = client_open(&cc, &a->conn);
    }
    if (st == TALLY_OK) {
        st = client_do(a->conn, &rq, &r);
    }
    client_response_free(r);
    if (st == TALLY_OK) {
        return CLI_OK;
    }
    a->refused = a->conn != NULL && strstr(client_error(a->conn), "connection refused") != NULL;
    if (!a->refused) {
        fprintf(stderr, "tally %s: no answer from the ops listener %s:%u: %s\n", a->cmd,
                a->url.host, (unsigned)a->url.port,
                a->conn ? client_error(a->conn) : tally_status_str(st));
    }
    return CLI_IO;
}

void cli_json_line(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
}

int cli_ident_args(const char *cmd, const char *ip, const char *hotkey, const char **kind,
                   const char **id)
{
    if ((ip == NULL) == (hotkey == NULL)) {
        return cli_usage_error(cmd, "give exactly one of --ip ADDR and --hotkey SS58");
    }
    *kind = ip ? "ip" : "hotkey";
    *id = ip ? ip : hotkey;
    return CLI_OK;
}
