#ifndef REPLFS_TESTS_SUPPORT_SANITIZERS_H_
#define REPLFS_TESTS_SUPPORT_SANITIZERS_H_

namespace replfs::testing {

// Whether this program runs under AddressSanitizer, whose shadow memory
// and quarantine multiply a process's RSS (so a memory bound on it means
// nothing). GCC says so by a macro, clang by __has_feature.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_SANITIZERS_H_
