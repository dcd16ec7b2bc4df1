/* The §8 error table: one row per code, in the table's order, driving the name, HTTP status and
 * failure class lookups (and wire_err_from_name), so a code cannot be named or classed twice. */
#include <string.h>

#include "wire/wire.h"

typedef struct err_row {
    const char *name;
    unsigned http;
    char cls; /* §7.2 class: 'C', 'V', 'X', 'P', or 0 for "—" */
} err_row;

static const err_row errs[WIRE_ERR_COUNT] = {
    [WIRE_OK] = {"ok", 200, 0},
    [WIRE_BAD_REQUEST] = {"bad_request", 400, 'C'},
    [WIRE_UNKNOWN_ROUTE] = {"unknown_route", 404, 'C'},
    [WIRE_NOT_FOUND] = {"not_found", 404, 0},
    [WIRE_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, 'C'},
    [WIRE_FORBIDDEN] = {"forbidden", 403, 'P'},
    [WIRE_REQUEST_TIMEOUT] = {"request_timeout", 408, 'C'},
    [WIRE_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, 'C'},
    [WIRE_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415, 'C'},
    [WIRE_OVERLOADED] = {"overloaded", 503, 0},
    [WIRE_RATE_LIMITED] = {"rate_limited", 429, 'C'},
    [WIRE_IP_COOLDOWN] = {"ip_cooldown", 429, 'V'},
    [WIRE_HOTKEY_COOLDOWN] = {"hotkey_cooldown", 429, 'V'},
    [WIRE_IP_BLACKLISTED] = {"ip_blacklisted", 403, 0},
    [WIRE_HOTKEY_BLACKLISTED] = {"hotkey_blacklisted", 403, 0},
    [WIRE_AUTH_MISSING] = {"auth_missing", 401, 'C'},
    [WIRE_AUTH_MALFORMED] = {"auth_malformed", 400, 'C'},
    [WIRE_KEY_NOT_REGISTERED] = {"key_not_registered", 403, 'X'},
    [WIRE_TIMESTAMP_SKEW] = {"timestamp_skew", 401, 'C'},
    [WIRE_BAD_SIGNATURE] = {"bad_signature", 401, 'X'},
    [WIRE_NONCE_STALE] = {"nonce_stale", 409, 'C'},
    [WIRE_NONCE_REUSED] = {"nonce_reused", 409, 'C'},
    [WIRE_NONCE_REPLAY] = {"nonce_replay", 409, 'X'},
    [WIRE_MALFORMED_BODY] = {"malformed_body", 400, 'C'},
    [WIRE_NON_CANONICAL] = {"non_canonical", 400, 'C'},
    [WIRE_BATCH_TOO_LARGE] = {"batch_too_large", 413, 'C'},
    [WIRE_INVALID_FIELD] = {"invalid_field", 422, 'C'},
    [WIRE_PRICE_INCONSISTENT] = {"price_inconsistent", 422, 'C'},
    [WIRE_SIDES_INVALID] = {"sides_invalid", 422, 'C'},
    [WIRE_DUPLICATE_ITEM] = {"duplicate_item", 422, 'C'},
    [WIRE_ITEM_NONCE_MISMATCH] = {"item_nonce_mismatch", 422, 'C'},
    [WIRE_ITEM_SIGNATURE_INVALID] = {"item_signature_invalid", 422, 'C'},
    [WIRE_OUTCOME_INCOMPLETE] = {"outcome_incomplete", 422, 'C'},
    [WIRE_OUTCOME_INCONSISTENT] = {"outcome_inconsistent", 422, 'C'},
    [WIRE_ITEMS_REJECTED] = {"items_rejected", 422, 0},
    [WIRE_METAGRAPH_UNAVAILABLE] = {"metagraph_unavailable", 503, 0},
    [WIRE_TOKEN_MISSING] = {"token_missing", 401, 0},
    [WIRE_TOKEN_INVALID] = {"token_invalid", 401, 0},
    [WIRE_NOT_ELIGIBLE] = {"not_eligible", 403, 'C'},
    [WIRE_CHALLENGE_INVALID] = {"challenge_invalid", 401, 'C'},
    [WIRE_RANGE_INVALID] = {"range_invalid", 400, 0},
    [WIRE_ATTESTATION_INVALID] = {"attestation_invalid", 422, 'C'},
    [WIRE_ATTESTATION_DUPLICATE] = {"attestation_duplicate", 409, 0},
    [WIRE_COSIGNATURE_INVALID] = {"cosignature_invalid", 422, 'C'},
    [WIRE_ADMIN_UNAUTHORIZED] = {"admin_unauthorized", 401, 0},
    [WIRE_CONFLICT] = {"conflict", 409, 0},
    [WIRE_NOT_READY] = {"not_ready", 503, 0},
    [WIRE_SHUTTING_DOWN] = {"shutting_down", 503, 0},
    [WIRE_STORAGE_FULL] = {"storage_full", 507, 0},
    [WIRE_INTERNAL_ERROR] = {"internal_error", 500, 0},
};

const char *wire_err_name(wire_err e)
{
    return (unsigned)e < WIRE_ERR_COUNT ? errs[e].name : NULL;
}

unsigned wire_err_http(wire_err e)
{
    return (unsigned)e < WIRE_ERR_COUNT ? errs[e].http : 0;
}

char wire_err_class(wire_err e)
{
    return (unsigned)e < WIRE_ERR_COUNT ? errs[e].cls : 0;
}

wire_err wire_err_from_name(const char *name)
{
    if (name == NULL) {
        return WIRE_OK;
    }
    for (unsigned i = 1; i < WIRE_ERR_COUNT; i++) {
        if (strcmp(errs[i].name, name) == 0) {
            return (wire_err)i;
        }
    }
    return WIRE_OK;
}
