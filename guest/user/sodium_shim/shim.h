#pragma once
/// Installs the getrandom-backed random source, then runs sodium_init(); its result.
int pos_sodium_init();
