/* authmetrics.c: counters of the token service for /metrics (seed 003 §11.1): grants by type
 * and result, DPoP proof outcomes (replays apart), client authentication failures by method.
 * Lock-free atomics, summed across threads only when rendered. */
#include <inttypes.h>
#include <stdatomic.h>

#include "internal.h"

static const char *const grant_names[API_GRANT_N] = {"client_credentials", "refresh_token"};
static const char *const dpop_names[API_DPOP_N] = {"verified", "invalid_dpop_proof",
                                                   "use_dpop_nonce", "replayed"};
static const char *const method_names[API_CAUTH_N] = {"client_secret", "private_key_jwt",
                                                      "tls_client_auth"};

static _Atomic uint64_t grants[API_GRANT_N][2];
static _Atomic uint64_t dpop[API_DPOP_N];
static _Atomic uint64_t cauth_failed[API_CAUTH_N];

void api_metric_grant(int grant, bool issued)
{
    atomic_fetch_add_explicit(&grants[grant][issued], 1, memory_order_relaxed);
}

void api_metric_dpop(int outcome)
{
    atomic_fetch_add_explicit(&dpop[outcome], 1, memory_order_relaxed);
}

void api_metric_client_auth_failed(int method)
{
    atomic_fetch_add_explicit(&cauth_failed[method], 1, memory_order_relaxed);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

nova_status api_auth_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_token_grants_total Token requests by grant type and result.\n"
             "# TYPE nova_token_grants_total counter\n");
    for (int g = 0; st == NOVA_OK && g < API_GRANT_N; g++)
        for (int ok = 0; st == NOVA_OK && ok < 2; ok++)
            st = nova_buf_printf(
                out, "nova_token_grants_total{grant_type=\"%s\",result=\"%s\"} %" PRIu64 "\n",
                grant_names[g], ok ? "issued" : "refused", LOAD(grants[g][ok]));
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(out, "# HELP nova_dpop_proofs_total DPoP proofs checked, by "
                                       "outcome (replayed: a jti seen before).\n"
                                       "# TYPE nova_dpop_proofs_total counter\n");
    for (int d = 0; st == NOVA_OK && d < API_DPOP_N; d++)
        st = nova_buf_printf(out, "nova_dpop_proofs_total{outcome=\"%s\"} %" PRIu64 "\n",
                             dpop_names[d], LOAD(dpop[d]));
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(out, "# HELP nova_client_auth_failures_total Failed client "
                                       "authentications at the OAuth endpoints, by method.\n"
                                       "# TYPE nova_client_auth_failures_total counter\n");
    for (int m = 0; st == NOVA_OK && m < API_CAUTH_N; m++)
        st = nova_buf_printf(out, "nova_client_auth_failures_total{method=\"%s\"} %" PRIu64 "\n",
                             method_names[m], LOAD(cauth_failed[m]));
    return st;
}
