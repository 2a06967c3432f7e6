#include <cstdio>

int main() { std::puts("popek " POPEK_VERSION); return 0; }
