/// sodium-test: libsodium (Debian's libsodium.a, linked through guest/user/sodium_shim/shim.cpp) in a
/// popek-os process: BLAKE2b of a fixed message, an X25519/XSalsa20-Poly1305 box between two
/// fresh key pairs, and a tampered box that must be rejected.
#include <sodium.h>

#include "rt/ulib.h"
#include "sodium_shim/shim.h"

using namespace pos;

int main(int, char**) {
    if (pos_sodium_init() < 0) {
        print("sodium-test: sodium_init failed\n");
        return 1;
    }
    unsigned char hash[32];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>("popek-os"), 8, nullptr, 0);
    char hex[65];
    for (int i = 0; i < 32; ++i) format(hex + 2 * i, 3, "%02x", hash[i]);
    print("blake2b(popek-os)=%s\n", hex);

    unsigned char alice_pk[crypto_box_PUBLICKEYBYTES], alice_sk[crypto_box_SECRETKEYBYTES];
    unsigned char bob_pk[crypto_box_PUBLICKEYBYTES], bob_sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(alice_pk, alice_sk);
    crypto_box_keypair(bob_pk, bob_sk);
    const char message[] = "hello from ring 3";
    constexpr size_t len = sizeof message - 1;
    unsigned char nonce[crypto_box_NONCEBYTES], sealed[crypto_box_MACBYTES + len], opened[len + 1] = {};
    randombytes_buf(nonce, sizeof nonce);
    int ok = crypto_box_easy(sealed, reinterpret_cast<const unsigned char*>(message), len, nonce, bob_pk, alice_sk);
    if (ok == 0) ok = crypto_box_open_easy(opened, sealed, sizeof sealed, nonce, alice_pk, bob_sk);
    print("box: %s \"%s\"\n", ok == 0 ? "opened" : "FAILED", reinterpret_cast<char*>(opened));
    sealed[crypto_box_MACBYTES + 3] ^= 1;
    int tampered = crypto_box_open_easy(opened, sealed, sizeof sealed, nonce, alice_pk, bob_sk);
    print("tampered box: %s\n", tampered == 0 ? "ACCEPTED" : "rejected");
    return ok == 0 && tampered != 0 ? 0 : 1;
}
