/* Loading the configuration: sources, the config file's syntax, value checks by kind, the
 * cross-key rules, reload and the dump. The table itself is config_table.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"

struct ops_config {
    char *text[OPS_K_COUNT]; /* the value in effect, "" when unset */
    uint64_t u[OPS_K_COUNT]; /* UINT and BOOL value, ENUM index */
    ops_source src[OPS_K_COUNT];
    char *file; /* the file read, or NULL */
};

/* The values one source sets: pointers into the caller's strings or the file buffer. */
typedef struct layer {
    const char *v[OPS_K_COUNT];
    unsigned line[OPS_K_COUNT]; /* file only: where each key was set */
} layer;

/* Where a value was set, for error messages: "environment", "command line", "FILE:LINE". */
typedef struct where {
    ops_source src;
    const char *file;
    unsigned line;
} where;

/* Each rule says value(lo) ≤ value(hi). */
static const struct {
    ops_key lo, hi;
} order_rules[] = {
    {OPS_K_COOLDOWN_INITIAL_S, OPS_K_COOLDOWN_MAX_S},
    {OPS_K_RATE_KEY_PER_S, OPS_K_RATE_KEY_PER_MIN},
    {OPS_K_RATE_IP_PER_S, OPS_K_RATE_IP_PER_MIN},
    {OPS_K_RATE_GLOBAL_PER_S, OPS_K_RATE_GLOBAL_PER_MIN},
    {OPS_K_MAX_CONNECTIONS_PER_IP, OPS_K_MAX_CONNECTIONS},
    {OPS_K_AUDIT_MAX_RECOMPUTE_DAY, OPS_K_AUDIT_MAX_RECOMPUTE_WEEK},
};

const char *ops_source_str(ops_source s)
{
    static const char *const names[] = {
        [OPS_SRC_DEFAULT] = "default",
        [OPS_SRC_FILE] = "file",
        [OPS_SRC_ENV] = "environment",
        [OPS_SRC_FLAG] = "command line",
    };
    return (unsigned)s <= OPS_SRC_FLAG ? names[s] : "?";
}

static void where_str(const where *w, char *out, size_t cap)
{
    if (w->src == OPS_SRC_FILE) {
        (void)snprintf(out, cap, "%s:%u", w->file, w->line);
    } else {
        (void)snprintf(out, cap, "%s", ops_source_str(w->src));
    }
}

/* ---- value checks, one per kind; each fills why on failure ---- */

static bool printable_utf8(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);

    while (n > 0) {
        size_t k = ops__utf8_seq(p, n);
        if (k == 0 || (k == 1 && (p[0] < 0x20 || p[0] == 0x7f))) {
            return false;
        }
        p += k, n -= k;
    }
    return true;
}

static bool check_uint(const ops_keydef *d, const char *v, uint64_t *u, char *why, size_t cap)
{
    size_t n = strlen(v);
    uint64_t x = 0;
    bool ok = n > 0 && n <= 20 && !(n > 1 && v[0] == '0');

    for (size_t i = 0; ok && i < n; i++) {
        unsigned dgt = (unsigned)(v[i] - '0');
        if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - dgt) / 10) {
            ok = false;
        } else {
            x = x * 10 + dgt;
        }
    }
    if (!ok || x < d->min || x > d->max) {
        ops__errf(why, cap, "must be %s%llu..%llu", ok ? "" : "a whole number ",
                  (unsigned long long)d->min, (unsigned long long)d->max);
        return false;
    }
    *u = x;
    return true;
}

static bool check_url(const char *v)
{
    size_t skip = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
    size_t host = skip ? strcspn(v + skip, "/:?#") : 0;

    if (host == 0) {
        return false;
    }
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            return false;
        }
    }
    return true;
}

static bool lower_hex(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* 64 lower-case hex digits, or the shape of a signed-note verifier key: a name of 0x21..0x7E
 * without '+', '+', 8 lower-case hex digits, '+', standard base64 (the key itself is checked
 * by whoever uses it, against the origin it names). */
static bool check_nodekey(const char *v)
{
    const char *p1 = strchr(v, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;

    if (p1 == NULL) {
        return strlen(v) == 64 && lower_hex(v, 64);
    }
    if (p1 == v || p2 == NULL || p2 - p1 != 9 || !lower_hex(p1 + 1, 8) || p2[1] == '\0') {
        return false;
    }
    for (const char *c = v; c < p1; c++) {
        if (*c < 0x21 || *c > 0x7e) {
            return false;
        }
    }
    for (const char *c = p2 + 1; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '+' || *c == '/' || *c == '=')) {
            return false;
        }
    }
    return true;
}

static bool check_enum(const ops_keydef *d, const char *v, uint64_t *u, char *why, size_t cap)
{
    size_t used;

    for (size_t i = 0; d->choices[i] != NULL; i++) {
        if (strcmp(v, d->choices[i]) == 0) {
            *u = i;
            return true;
        }
    }
    used = (size_t)snprintf(why, cap, "must be one of");
    for (size_t i = 0; d->choices[i] != NULL && used < cap; i++) {
        used += (size_t)snprintf(why + used, cap - used, "%s%s", i ? ", " : " ", d->choices[i]);
    }
    return false;
}

/* Checks v against d; on success *u holds its number (0 for text kinds). */
static bool check_value(const ops_keydef *d, const char *v, uint64_t *u, char *why, size_t cap)
{
    ops_hostport hp;
    ops_cidr cidrs[OPS_CIDR_LIST_MAX];
    size_t n;

    *u = 0;
    if (v[0] == '\0' && d->kind != OPS_KIND_CIDRS) {
        if (d->def[0] == '\0') {
            return true; /* unset */
        }
        ops__errf(why, cap, "must not be empty");
        return false;
    }
    switch (d->kind) {
    case OPS_KIND_UINT:
        return check_uint(d, v, u, why, cap);
    case OPS_KIND_BOOL:
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
            ops__errf(why, cap, "must be 0 or 1");
            return false;
        }
        *u = v[0] == '1';
        return true;
    case OPS_KIND_STRING:
        if (!printable_utf8(v)) {
            ops__errf(why, cap, "must be UTF-8 text without control characters");
            return false;
        }
        return true;
    case OPS_KIND_PATH:
        if (v[0] != '/' || !printable_utf8(v)) {
            ops__errf(why, cap, "must be an absolute path");
            return false;
        }
        return true;
    case OPS_KIND_LISTEN:
        return ops_hostport_parse(v, &hp, why, cap) == TALLY_OK;
    case OPS_KIND_CIDRS:
        return ops_cidr_list_parse(v, cidrs, OPS_CIDR_LIST_MAX, &n, why, cap) == TALLY_OK;
    case OPS_KIND_ENUM:
        return check_enum(d, v, u, why, cap);
    case OPS_KIND_URL:
        if (!check_url(v)) {
            ops__errf(why, cap, "must be an http:// or https:// URL with a host");
            return false;
        }
        return true;
    case OPS_KIND_NODEKEY:
        if (!check_nodekey(v)) {
            ops__errf(why, cap, "must be a verifier key (`tally key`) or 64 lower-case hex digits");
            return false;
        }
        return true;
    }
    tally_assert_fail("unknown kind", __FILE__, __LINE__);
}

/* ---- sources ---- */

static bool is_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

static bool is_foreign(const char *name, size_t n)
{
    for (const char *const *f = ops_config_foreign(); *f != NULL; f++) {
        if (strlen(*f) == n && memcmp(*f, name, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Records key[0..kn) = value in l after every check; a name not starting with TALLY_ has been
 * filtered out by the caller. */
static tally_status set_key(layer *l, const where *w, const char *key, size_t kn, const char *value,
                            char *err, size_t errcap)
{
    char at[512], why[256];
    const ops_keydef *d;
    uint64_t u;
    int id;

    where_str(w, at, sizeof(at));
    if (is_foreign(key, kn)) {
        return TALLY_OK;
    }
    id = ops_config_find(key, kn);
    if (id < 0) {
        ops__errf(err, errcap, "%.*s: unknown key (%s)", (int)kn, key, at);
        return TALLY_EINVAL;
    }
    if (id == OPS_K_CONFIG && w->src == OPS_SRC_FILE) {
        ops__errf(err, errcap, "TALLY_CONFIG cannot be set in the config file (%s)", at);
        return TALLY_EINVAL;
    }
    d = ops_config_def((ops_key)id);
    if (l->v[id] != NULL) {
        if (w->src == OPS_SRC_FILE) {
            ops__errf(err, errcap, "%s: set twice (%s, first on line %u)", d->name, at,
                      l->line[id]);
        } else {
            ops__errf(err, errcap, "%s: set twice (%s)", d->name, at);
        }
        return TALLY_EINVAL;
    }
    if (strlen(value) > OPS_CONFIG_VALUE_MAX) {
        ops__errf(err, errcap, "%s: value longer than %u bytes (%s)", d->name, OPS_CONFIG_VALUE_MAX,
                  at);
        return TALLY_ELIMIT;
    }
    if (!check_value(d, value, &u, why, sizeof(why))) {
        ops__errf(err, errcap, "%s=%.80s: %s (%s)", d->name, value, why, at);
        return TALLY_EINVAL;
    }
    l->v[id] = value;
    l->line[id] = w->line;
    return TALLY_OK;
}

/* Flags and environment: lists of "KEY=value". Flags must all be TALLY_ keys. */
static tally_status read_list(const char *const *list, ops_source src, layer *l, char *err,
                              size_t errcap)
{
    where w = {.src = src};
    tally_status st;

    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        const char *eq = strchr(list[i], '=');
        size_t kn = eq ? (size_t)(eq - list[i]) : 0;
        bool tally = kn >= 6 && memcmp(list[i], "TALLY_", 6) == 0;
        if (src == OPS_SRC_ENV && !tally) {
            continue; /* another program's variable, or a malformed environ entry */
        }
        if (!tally) {
            ops__errf(err, errcap, "'%.80s' is not TALLY_KEY=value (command line)", list[i]);
            return TALLY_EINVAL;
        }
        st = set_key(l, &w, list[i], kn, eq + 1, err, errcap);
        if (st != TALLY_OK) {
            return st;
        }
    }
    return TALLY_OK;
}

/* Reads the whole file into a NUL-terminated malloc'd buffer. */
static tally_status slurp(const char *path, bool may_be_absent, char **out, size_t *n, char *err,
                          size_t errcap)
{
    FILE *f;
    char *buf;
    size_t got;

    *out = NULL, *n = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT && may_be_absent) {
            return TALLY_OK;
        }
        ops__errf(err, errcap, "config file %s: %s", path, strerror(errno));
        return errno == ENOENT ? TALLY_ENOTFOUND : TALLY_EIO;
    }
    buf = malloc(OPS_CONFIG_FILE_MAX + 2);
    if (buf == NULL) {
        fclose(f);
        return TALLY_ENOMEM;
    }
    got = fread(buf, 1, OPS_CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        ops__errf(err, errcap, "config file %s: read error", path);
        fclose(f), free(buf);
        return TALLY_EIO;
    }
    fclose(f);
    if (got > OPS_CONFIG_FILE_MAX) {
        ops__errf(err, errcap, "config file %s: larger than %u bytes", path, OPS_CONFIG_FILE_MAX);
        free(buf);
        return TALLY_ELIMIT;
    }
    buf[got] = '\0';
    *out = buf, *n = got;
    return TALLY_OK;
}

/* Parses one line in place (NUL-terminated, no newline). Fills *key, *kn and *value, or leaves
 * *key NULL for a blank or comment line; false for a malformed line. */
static bool parse_line(char *s, const char **key, size_t *kn, const char **value)
{
    size_t n = strlen(s);
    char *eq, *v;

    *key = NULL;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0' || *s == '#') {
        return true;
    }
    eq = strchr(s, '=');
    if (eq == NULL || !is_name(s, (size_t)(eq - s))) {
        return false;
    }
    v = eq + 1;
    n = strlen(v);
    if (n > 0 && v[0] == '"') {
        if (n < 2 || v[n - 1] != '"') {
            return false;
        }
        v[n - 1] = '\0';
        v++;
    }
    /* Characters systemd, a shell and this reader could each read differently. */
    if (strpbrk(v, "\"'\\$`") != NULL) {
        return false;
    }
    *key = s, *kn = (size_t)(eq - s), *value = v;
    return true;
}

static tally_status read_file(char *buf, size_t n, const char *path, layer *l, char *err,
                              size_t errcap)
{
    where w = {.src = OPS_SRC_FILE, .file = path};
    char *p = buf;
    tally_status st;

    if (memchr(buf, '\0', n) != NULL) {
        ops__errf(err, errcap, "%s: contains a NUL byte", path);
        return TALLY_EFORMAT;
    }
    while (p < buf + n) {
        char *nl = strchr(p, '\n');
        const char *key, *value;
        size_t kn;
        if (nl != NULL) {
            *nl = '\0';
        }
        w.line++;
        if (!parse_line(p, &key, &kn, &value)) {
            ops__errf(err, errcap, "%s:%u: expected KEY=value, a # comment or a blank line", path,
                      w.line);
            return TALLY_EFORMAT;
        }
        if (key != NULL && kn >= 6 && memcmp(key, "TALLY_", 6) == 0) {
            st = set_key(l, &w, key, kn, value, err, errcap);
            if (st != TALLY_OK) {
                return st;
            }
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    return TALLY_OK;
}

void ops_config_free(ops_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        free(cfg->text[i]);
    }
    free(cfg->file);
    free(cfg);
}

static tally_status check_rules(const ops_config *cfg, char *err, size_t errcap)
{
    for (size_t i = 0; i < sizeof(order_rules) / sizeof(order_rules[0]); i++) {
        ops_key lo = order_rules[i].lo, hi = order_rules[i].hi;
        if (cfg->u[lo] > cfg->u[hi]) {
            ops__errf(err, errcap, "%s=%s (%s) must not exceed %s=%s (%s)",
                      ops_config_def(lo)->name, cfg->text[lo], ops_source_str(cfg->src[lo]),
                      ops_config_def(hi)->name, cfg->text[hi], ops_source_str(cfg->src[hi]));
            return TALLY_EINVAL;
        }
    }
    return TALLY_OK;
}

/* Takes the highest layer's value for every key. */
static tally_status merge(const layer *layers[4], ops_config *cfg)
{
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        const ops_keydef *d = ops_config_def(i);
        const char *v = d->def;
        ops_source src = OPS_SRC_DEFAULT;
        char why[256];
        bool ok;
        for (int s = OPS_SRC_FLAG; s > OPS_SRC_DEFAULT; s--) {
            if (layers[s]->v[i] != NULL) {
                v = layers[s]->v[i], src = (ops_source)s;
                break;
            }
        }
        /* Every value was checked as it was read, and a test checks every default. */
        ok = check_value(d, v, &cfg->u[i], why, sizeof(why));
        TALLY_ASSERT(ok);
        cfg->src[i] = src;
        cfg->text[i] = strdup(v);
        if (cfg->text[i] == NULL) {
            return TALLY_ENOMEM;
        }
    }
    return TALLY_OK;
}

tally_status ops_config_load(const ops_config_src *src, ops_config **out, char *err, size_t errcap)
{
    layer *flags = NULL, *env = NULL, *file = NULL, none = {0};
    const layer *layers[4];
    ops_config *cfg = NULL;
    const char *path;
    char *buf = NULL;
    size_t n;
    tally_status st = TALLY_ENOMEM;

    *out = NULL;
    ops__errf(err, errcap, "out of memory");
    flags = calloc(1, sizeof(*flags));
    env = calloc(1, sizeof(*env));
    file = calloc(1, sizeof(*file));
    cfg = calloc(1, sizeof(*cfg));
    if (flags == NULL || env == NULL || file == NULL || cfg == NULL) {
        goto fail;
    }
    st = read_list(src->overrides, OPS_SRC_FLAG, flags, err, errcap);
    if (st == TALLY_OK) {
        st = read_list(src->env, OPS_SRC_ENV, env, err, errcap);
    }
    if (st != TALLY_OK) {
        goto fail;
    }
    path = flags->v[OPS_K_CONFIG] ? flags->v[OPS_K_CONFIG] : env->v[OPS_K_CONFIG];
    if (path == NULL) {
        path = src->default_file ? src->default_file : OPS_CONFIG_DEFAULT_FILE;
    }
    st = slurp(path, flags->v[OPS_K_CONFIG] == NULL && env->v[OPS_K_CONFIG] == NULL, &buf, &n, err,
               errcap);
    if (st != TALLY_OK) {
        goto fail;
    }
    if (buf != NULL) {
        st = read_file(buf, n, path, file, err, errcap);
        cfg->file = strdup(path);
        if (st == TALLY_OK && cfg->file == NULL) {
            st = TALLY_ENOMEM;
        }
        if (st != TALLY_OK) {
            goto fail;
        }
    }
    layers[OPS_SRC_DEFAULT] = &none, layers[OPS_SRC_FILE] = file;
    layers[OPS_SRC_ENV] = env, layers[OPS_SRC_FLAG] = flags;
    st = merge(layers, cfg);
    if (st == TALLY_OK) {
        st = check_rules(cfg, err, errcap);
    }
    if (st != TALLY_OK) {
        goto fail;
    }
    free(buf), free(file), free(env), free(flags);
    if (err != NULL && errcap > 0) {
        err[0] = '\0';
    }
    *out = cfg;
    return TALLY_OK;
fail:
    ops_config_free(cfg);
    free(buf), free(file), free(env), free(flags);
    return st;
}

uint64_t ops_config_u64(const ops_config *cfg, ops_key k)
{
    ops_kind kind = ops_config_def(k)->kind;
    TALLY_ASSERT(kind == OPS_KIND_UINT || kind == OPS_KIND_BOOL || kind == OPS_KIND_ENUM);
    return cfg->u[k];
}

bool ops_config_bool(const ops_config *cfg, ops_key k)
{
    TALLY_ASSERT(ops_config_def(k)->kind == OPS_KIND_BOOL);
    return cfg->u[k] != 0;
}

const char *ops_config_str(const ops_config *cfg, ops_key k)
{
    TALLY_ASSERT((unsigned)k < OPS_K_COUNT);
    return cfg->text[k];
}

ops_source ops_config_source(const ops_config *cfg, ops_key k)
{
    TALLY_ASSERT((unsigned)k < OPS_K_COUNT);
    return cfg->src[k];
}

const char *ops_config_file(const ops_config *cfg)
{
    return cfg->file;
}

tally_status ops_config_require(const ops_config *cfg, unsigned role, char *err, size_t errcap)
{
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        const ops_keydef *d = ops_config_def(i);
        if ((d->required & role) != 0 && cfg->text[i][0] == '\0') {
            ops__errf(err, errcap, "%s: required by tally %s and not set", d->name,
                      role & OPS_ROLE_AUDIT ? "audit" : "serve");
            return TALLY_EINVAL;
        }
    }
    return TALLY_OK;
}

tally_status ops_config_reload(const ops_config *old, const ops_config_src *src, ops_config **out,
                               char *err, size_t errcap)
{
    ops_config *cfg;
    tally_status st;

    *out = NULL;
    st = ops_config_load(src, &cfg, err, errcap);
    if (st != TALLY_OK) {
        return st;
    }
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        const ops_keydef *d = ops_config_def(i);
        if (!d->reload && strcmp(old->text[i], cfg->text[i]) != 0) {
            ops__errf(err, errcap,
                      "%s: changed from '%.80s' to '%.80s', which needs a restart; reload "
                      "refused, the old configuration stays in effect",
                      d->name, old->text[i], cfg->text[i]);
            ops_config_free(cfg);
            return TALLY_ECONFLICT;
        }
    }
    *out = cfg;
    return TALLY_OK;
}

size_t ops_config_diff(const ops_config *a, const ops_config *b,
                       void (*fn)(ops_key k, const char *was, const char *now, void *arg),
                       void *arg)
{
    size_t n = 0;

    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        if (strcmp(a->text[i], b->text[i]) != 0) {
            n++;
            if (fn != NULL) {
                fn((ops_key)i, a->text[i], b->text[i], arg);
            }
        }
    }
    return n;
}

void ops_config_dump(const ops_config *cfg,
                     void (*fn)(const ops_keydef *def, const char *value, ops_source src,
                                void *arg),
                     void *arg)
{
    for (unsigned i = 0; i < OPS_K_COUNT; i++) {
        fn(ops_config_def(i), cfg->text[i], cfg->src[i], arg);
    }
}

ops_hostport ops_config_listen(const ops_config *cfg, ops_key k)
{
    ops_hostport hp;
    tally_status st;

    TALLY_ASSERT(ops_config_def(k)->kind == OPS_KIND_LISTEN);
    st = ops_hostport_parse(cfg->text[k], &hp, NULL, 0);
    TALLY_ASSERT(st == TALLY_OK); /* checked when loaded */
    return hp;
}

size_t ops_config_cidrs(const ops_config *cfg, ops_key k, ops_cidr *out)
{
    size_t n;
    tally_status st;

    TALLY_ASSERT(ops_config_def(k)->kind == OPS_KIND_CIDRS);
    st = ops_cidr_list_parse(cfg->text[k], out, OPS_CIDR_LIST_MAX, &n, NULL, 0);
    TALLY_ASSERT(st == TALLY_OK); /* checked when loaded */
    return n;
}
