/// whoami: the user this process runs as, and the public key that identifies it.
#include "rt/ulib.h"

using namespace pos;

int main(int, char**) {
    PosUserInfo info;
    long r = sys::whoami(&info);
    if (r < 0) {
        print("whoami: %s\n", error_string(r));
        return 1;
    }
    char hex[65];
    for (int i = 0; i < 32; ++i) format(hex + 2 * i, 3, "%02x", info.public_key[i]);
    print("%s key=%s\n", info.name, hex);
    return 0;
}
