/* sim_validator_seed and `tally keygen --sim-validator`: the key they give is the one every
 * METAGRAPH of the simulation binds to validator uid miners + k, with a permit and stake, so an
 * auditor run with it is eligible on a simulated log (the audit benchmark relies on this). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/testutil.h"

#define SEED 3
#define MINERS 8

typedef struct seen {
    size_t metagraphs;
    size_t validators[SIM_VALIDATORS]; /* neurons found with the expected key, permit, stake */
    size_t other_permits;
    uint8_t pk[SIM_VALIDATORS][32];
} seen;

static tally_status on_record(const sim_record *rec, void *arg)
{
    seen *s = arg;
    schema_body b;

    if (rec->header.type != SCHEMA_METAGRAPH) {
        return TALLY_OK;
    }
    assert_int_equal(schema_body_decode(SCHEMA_METAGRAPH, rec->body, rec->body_len, &b), TALLY_OK);
    s->metagraphs++;
    for (size_t i = 0; i < b.u.metagraph.n_neurons; i++) {
        const schema_neuron *n = &b.u.metagraph.neurons[i];
        if (!n->validator_permit) {
            continue;
        }
        if (n->uid >= MINERS && n->uid < MINERS + SIM_VALIDATORS) {
            unsigned k = (unsigned)(n->uid - MINERS);
            assert_true(n->has_tally_key);
            assert_memory_equal(n->tally_key, s->pk[k], 32);
            assert_true(n->stake_rao > 0);
            s->validators[k]++;
        } else {
            s->other_permits++;
        }
    }
    schema_body_release(&b);
    return TALLY_OK;
}

static void test_seed_is_metagraph_key(void **state)
{
    sim_cfg cfg = {.seed = SEED, .miners = MINERS, .markets_per_day = 6, .code_version = "test"};
    uint8_t ks[32], sk[64], other[32];
    sim_gen *g = NULL;
    seen s = {0};

    (void)state;
    for (unsigned k = 0; k < SIM_VALIDATORS; k++) {
        assert_int_equal(sim_validator_seed(SEED, MINERS, k, ks), TALLY_OK);
        crypto_sign_seed_keypair(s.pk[k], sk, ks);
    }
    assert_int_equal(sim_validator_seed(SEED, MINERS, SIM_VALIDATORS, ks), TALLY_EINVAL);
    assert_int_equal(sim_validator_seed(SEED, 0, 0, ks), TALLY_EINVAL);
    /* another seed or miner count is another validator */
    assert_int_equal(sim_validator_seed(SEED + 1, MINERS, 0, ks), TALLY_OK);
    crypto_sign_seed_keypair(other, sk, ks);
    assert_memory_not_equal(other, s.pk[0], 32);
    assert_int_equal(sim_validator_seed(SEED, MINERS + 1, 0, ks), TALLY_OK);
    crypto_sign_seed_keypair(other, sk, ks);
    assert_memory_not_equal(other, s.pk[0], 32);

    assert_int_equal(sim_gen_new(&cfg, &g), TALLY_OK);
    for (uint64_t day = 0; day < 2; day++) {
        assert_int_equal(sim_gen_day(g, day, on_record, &s, NULL), TALLY_OK);
    }
    sim_gen_free(g);
    assert_true(s.metagraphs >= 2);
    assert_int_equal(s.other_permits, 0);
    for (unsigned k = 0; k < SIM_VALIDATORS; k++) {
        assert_int_equal(s.validators[k], s.metagraphs);
    }
}

/* The CLI writes the same key: `tally keygen --sim-validator K` prints its public key. */
static void test_keygen_flag(void **state)
{
    const char *bin = getenv("TALLY_BIN");
    char out[4096], want[80], hex[65];
    uint8_t ks[32], sk[64], pk[32];
    const char *dir;

    (void)state;
    if (bin == NULL) {
        skip();
    }
    dir = tu_tmpdir("simkey");
    assert_int_equal(sim_validator_seed(SEED, MINERS, 1, ks), TALLY_OK);
    crypto_sign_seed_keypair(pk, sk, ks);
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", pk[i]);
    }
    snprintf(want, sizeof(want), "key %s\n", hex);
    assert_int_equal(tu_run(out, sizeof(out),
                            "%s keygen --out %s/v.key --sim-validator 1 "
                            "--sim-seed %d --sim-miners %d",
                            bin, dir, SEED, MINERS),
                     0);
    assert_non_null(strstr(out, want));
    /* out of range, and exclusive with --seed */
    assert_int_not_equal(tu_run(out, sizeof(out),
                                "%s keygen --out %s/w.key --sim-validator 2 "
                                "2>/dev/null",
                                bin, dir),
                         0);
    assert_int_not_equal(tu_run(out, sizeof(out),
                                "%s keygen --out %s/w.key --sim-validator 0 "
                                "--seed %s 2>/dev/null",
                                bin, dir, hex),
                         0);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_is_metagraph_key),
        cmocka_unit_test(test_keygen_flag),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
