/* Responses as msgpack maps with the keys of their JSON form (protocol §3), for a client whose
 * Accept prefers application/msgpack: objects become maps, arrays arrays, strings str, integers
 * int, booleans and null themselves. No JSON response of the node holds a real. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "net/node_int.h"

typedef struct sink {
    char *p;
    size_t n, cap;
    bool oom;
} sink;

static int sink_write(void *data, const char *buf, size_t len)
{
    sink *s = data;

    if (s->oom) {
        return -1;
    }
    if (s->n + len > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->n + len) {
            cap *= 2;
        }
        char *p = realloc(s->p, cap);
        if (p == NULL) {
            s->oom = true;
            return -1;
        }
        s->p = p, s->cap = cap;
    }
    memcpy(s->p + s->n, buf, len);
    s->n += len;
    return 0;
}

/* Depth is bounded by the responses the node builds (a handful of levels). */
static void pack(msgpack_packer *pk, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach((json_t *)v, key, item) {
            msgpack_pack_str(pk, strlen(key));
            msgpack_pack_str_body(pk, key, strlen(key));
            pack(pk, item);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, item) {
            pack(pk, item);
        }
        break;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(v));
        msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: msgpack_pack_int64(pk, (int64_t)json_integer_value(v)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(v)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    default: msgpack_pack_nil(pk); break;
    }
}

bool net__reply_msgpack(httpd_req *req, unsigned status, const json_t *json)
{
    sink s = {0};
    msgpack_packer pk;

    msgpack_packer_init(&pk, &s, sink_write);
    pack(&pk, json);
    if (s.oom) {
        free(s.p);
        return false;
    }
    httpd_req_reply(req, status, "application/msgpack", s.p, s.n);
    free(s.p);
    return true;
}
