#pragma once
// The test peer's identity: the host end of popek-os's network tests and benchmarks. The shipped
// policy (guest/files/etc/policy) lets alice connect to and accept its public key, and no other.
namespace popek::test {

inline constexpr const char* kTestPeerSecret = "a9d38b7eb43c902fa7b43f70338246b164ee141ab0156a618eae8736ede9882b";
inline constexpr const char* kTestPeerPublic = "095fde52bb9adf8ef57595bd6beb61491c0f0423ab84d85ff05bf7e017ca1373";

}  // namespace popek::test
