/* password.c: passwords as a first factor (AAL1 only, seed 003 §3.1). argon2id through
 * libsodium; the policy follows NIST SP 800-63B §5.1.1.2: a length floor and ceiling, no
 * composition rules, and a refusal of values known to be common or breached. The list below
 * is the head of the public breach corpora's frequency tables (SecLists' most common
 * passwords), lower-cased; it is compared without case. A deployment that wants the full
 * corpus puts a k-anonymity range check in front of this one; the embedded list keeps the
 * check offline and deterministic. */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define PW_OPS 2
#define PW_MEM (19u * 1024 * 1024)

static const char *const common_passwords[] = {
    "123456789012",
    "password1234",
    "qwertyuiopas",
    "iloveyou1234",
    "passwordpassword",
    "password123!",
    "password@123",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "abc123456789",
    "123456123456",
    "111111111111",
    "000000000000",
    "123123123123",
    "qwertyqwerty",
    "letmeinletmein",
    "welcome12345",
    "welcome123!!",
    "admin1234567",
    "administrator",
    "changeme1234",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "superman1234",
    "princess1234",
    "sunshine1234",
    "monkey123456",
    "dragon123456",
    "master123456",
    "starwars1234",
    "whatever1234",
    "qazwsxedcrfv",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "asdfghjkl123",
    "p@ssw0rd1234",
    "p@ssword1234",
    "passw0rd1234",
    "mypassword123",
    "iloveyouiloveyou",
    "correcthorsebatterystaple",
    "michael12345",
    "jennifer1234",
    "1234567890123",
    "12345678910",
    "1234567891011",
    "987654321000",
    "098765432112",
    "mustang12345",
    "shadow123456",
    "jordan232323",
    "liverpool1234",
    "arsenal12345",
    "chelsea12345",
    "manchester123",
    "blessing1234",
    "godisgood123",
    "jesus1234567",
    "nigeria12345",
    "kenya1234567",
    "ghana1234567",
    "lagos1234567",
    "nairobi12345",
    "qwerty12345678",
    "password12345",
    "password123456",
    "welcome1234567",
    "secret123456",
    "summer2024!!",
    "winter2024!!",
    "spring2024!!",
    "autumn2024!!",
    "summer2025!!",
    "winter2025!!",
    "spring2025!!",
    "autumn2025!!",
    "summer2026!!",
    "winter2026!!",
    "company12345",
    "letmein12345",
    "loveyou12345",
    "computer1234",
    "internet1234",
    NULL,
};

static bool is_common(const char *pw, size_t n)
{
    for (size_t i = 0; common_passwords[i]; i++)
        if (strlen(common_passwords[i]) == n && strncasecmp(common_passwords[i], pw, n) == 0)
            return true;
    return false;
}

/* Whether b follows a (dir 1) or precedes it (dir -1) in one of the sequences people walk:
 * the alphabet, the digits, the keyboard's rows, each read cyclically. */
static bool adjacent(char a, char b, int dir)
{
    static const char *const rows[] = {
        "abcdefghijklmnopqrstuvwxyz", "1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", NULL};
    a = (char)(a | 0x20);
    b = (char)(b | 0x20);
    for (size_t r = 0; rows[r]; r++) {
        const char *p = strchr(rows[r], a);
        if (p == NULL || a == '\0')
            continue;
        size_t len = strlen(rows[r]), k = (size_t)(p - rows[r]);
        if (rows[r][(k + len + (size_t)(dir > 0 ? 1 : len - 1)) % len] == b)
            return true;
    }
    return false;
}

/* A single repeated character, or a walk along one of the sequences above in one direction
 * (abcdef, 987654, qwerty, 1234567890123). */
static bool is_trivial(const char *pw, size_t n)
{
    bool same = true, up = true, down = true;
    for (size_t i = 1; i < n; i++) {
        same = same && pw[i] == pw[0];
        up = up && adjacent(pw[i - 1], pw[i], 1);
        down = down && adjacent(pw[i - 1], pw[i], -1);
    }
    return same || up || down;
}

nova_status nova_password_check(const char *pw, size_t n, const char *context, const char **why)
{
    size_t cps = 0;
    *why = NULL;
    if (pw == NULL || !nova_utf8_valid(pw, n)) {
        *why = "password: must be valid UTF-8";
        return NOVA_INVALID;
    }
    for (size_t i = 0; i < n;) {
        size_t l = nova_utf8_len(pw + i, n - i);
        if (l == 0 || (l == 1 && ((unsigned char)pw[i] < 0x20 || pw[i] == 0x7f))) {
            *why = "password: control characters are not allowed";
            return NOVA_INVALID;
        }
        i += l;
        cps++;
    }
    if (cps < NOVA_PASSWORD_MIN) {
        *why = "password: at least 12 characters";
        return NOVA_INVALID;
    }
    if (cps > NOVA_PASSWORD_MAX) {
        *why = "password: at most 128 characters";
        return NOVA_INVALID;
    }
    if (is_common(pw, n)) {
        *why = "password: this password is common in breach corpora; choose another";
        return NOVA_INVALID;
    }
    if (is_trivial(pw, n)) {
        *why = "password: a repeated character or a keyboard or alphabet run is too easy to "
               "guess";
        return NOVA_INVALID;
    }
    if (context && strlen(context) >= 4) {
        size_t cl = strlen(context);
        for (size_t i = 0; i + cl <= n; i++)
            if (strncasecmp(pw + i, context, cl) == 0) {
                *why = "password: must not contain the account's name or email";
                return NOVA_INVALID;
            }
    }
    return NOVA_OK;
}

nova_status nova_password_hash(const char *pw, size_t n, char out[NOVA_PASSWORD_HASH_MAX])
{
    _Static_assert(crypto_pwhash_STRBYTES <= NOVA_PASSWORD_HASH_MAX, "hash buffer");
    if (sodium_init() < 0)
        return NOVA_INTERNAL;
    if (crypto_pwhash_str(out, pw, n, PW_OPS, PW_MEM) != 0)
        return NOVA_NOMEM; /* libsodium fails only when it cannot allocate */
    return NOVA_OK;
}

static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* The argon2id of a random value nobody knows, with the same parameters: an unknown account
 * or one without a password costs as much as a wrong password. */
static void dummy_make(void)
{
    uint8_t raw[32];
    if (nova_random_bytes(raw, sizeof(raw)) != NOVA_OK ||
        crypto_pwhash_str(dummy_hash, (const char *)raw, sizeof(raw), PW_OPS, PW_MEM) != 0)
        dummy_hash[0] = '\0';
    sodium_memzero(raw, sizeof(raw));
}

bool nova_password_verify(const char *hash, const char *pw, size_t n)
{
    if (sodium_init() < 0)
        return false;
    bool real = hash != NULL && *hash != '\0';
    if (!real) {
        pthread_once(&dummy_once, dummy_make);
        /* The result does not matter: only the time it takes. */
        volatile int sink = dummy_hash[0] ? crypto_pwhash_str_verify(dummy_hash, pw, n) : 0;
        (void)sink;
        return false;
    }
    return crypto_pwhash_str_verify(hash, pw, n) == 0;
}
