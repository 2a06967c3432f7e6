#pragma once
// The test peer's identity: the host end of popek-os's network tests and benchmarks. The shipped
// policy (guest/files/etc/policy) lets alice connect to and accept its public key, and no other.
namespace popek::test {

inline constexpr const char* kTestPeerSecret = "a9d38b7eb43c902fa7b43f70338246b164ee141ab0156a618eae8736ede9882b";
inline constexpr const char* kTestPeerPublic = "095fde52bb9adf8ef57595bd6beb61491c0f0423ab84d85ff05bf7e017ca1373";
/// A second test identity: known to popek-os (/etc/keys/known) but allowed to reach nobody.
inline constexpr const char* kVisitorSecret = "2ccbcc8679295c1049f79ba1e494ee30d53a0ad516b1d60d105d74df70644b98";
inline constexpr const char* kVisitorPublic = "87f073a6da5ecc9554a85dbbfd58aa612be9be6c91301891b6fd762b41b3784c";

}  // namespace popek::test
