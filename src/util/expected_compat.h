#pragma once
/// A minimal std::expected / std::unexpected for compilers whose standard library hides
/// <expected>: clang 16 with libstdc++ 12 (its <expected> needs __cpp_concepts >= 202002, which
/// clang 16 does not advertise). Only the fuzz targets are built that way; g++ 12 uses the real
/// one. The subset is what popek uses: construction from a value or an unexpected, bool test,
/// has_value, *, ->, value(), error(), value_or(); T may be void.
/// Declaring these in namespace std keeps every caller's spelling identical on both compilers.
#include <new>
#include <type_traits>
#include <utility>

namespace std {

template <class E>
class unexpected {
public:
    template <class Err = E>
        requires(!is_same_v<remove_cvref_t<Err>, unexpected>)
    constexpr explicit unexpected(Err&& e) : m_error(std::forward<Err>(e)) {}
    constexpr const E& error() const& noexcept { return m_error; }
    constexpr E& error() & noexcept { return m_error; }
    constexpr E&& error() && noexcept { return std::move(m_error); }

private:
    E m_error;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class expected {
public:
    using value_type = T;
    using error_type = E;

    constexpr expected() requires is_default_constructible_v<T> : m_has(true) { ::new (&m_value) T(); }
    template <class U = T>
        requires(!is_same_v<remove_cvref_t<U>, expected> && !is_same_v<remove_cvref_t<U>, unexpected<E>> &&
                 is_constructible_v<T, U>)
    constexpr expected(U&& v) : m_has(true) { ::new (&m_value) T(std::forward<U>(v)); }
    template <class G>
    constexpr expected(const unexpected<G>& u) : m_has(false) { ::new (&m_error) E(u.error()); }
    template <class G>
    constexpr expected(unexpected<G>&& u) : m_has(false) { ::new (&m_error) E(std::move(u).error()); }
    expected(const expected& o) : m_has(o.m_has) {
        if (m_has) ::new (&m_value) T(o.m_value); else ::new (&m_error) E(o.m_error);
    }
    expected(expected&& o) noexcept(is_nothrow_move_constructible_v<T>) : m_has(o.m_has) {
        if (m_has) ::new (&m_value) T(std::move(o.m_value)); else ::new (&m_error) E(std::move(o.m_error));
    }
    expected& operator=(expected o) {
        destroy();
        m_has = o.m_has;
        if (m_has) ::new (&m_value) T(std::move(o.m_value)); else ::new (&m_error) E(std::move(o.m_error));
        return *this;
    }
    ~expected() { destroy(); }

    constexpr bool has_value() const noexcept { return m_has; }
    constexpr explicit operator bool() const noexcept { return m_has; }
    constexpr T& operator*() & { return m_value; }
    constexpr const T& operator*() const& { return m_value; }
    constexpr T&& operator*() && { return std::move(m_value); }
    constexpr T* operator->() { return &m_value; }
    constexpr const T* operator->() const { return &m_value; }
    constexpr T& value() & { return m_value; }
    constexpr const T& value() const& { return m_value; }
    constexpr T&& value() && { return std::move(m_value); }
    constexpr E& error() & { return m_error; }
    constexpr const E& error() const& { return m_error; }
    constexpr E&& error() && { return std::move(m_error); }
    template <class U>
    constexpr T value_or(U&& other) const& { return m_has ? m_value : static_cast<T>(std::forward<U>(other)); }

private:
    void destroy() {
        if (m_has) m_value.~T(); else m_error.~E();
    }
    bool m_has;
    union {
        T m_value;
        E m_error;
    };
};

template <class E>
class expected<void, E> {
public:
    using value_type = void;
    using error_type = E;
    constexpr expected() : m_has(true) {}
    template <class G>
    constexpr expected(const unexpected<G>& u) : m_has(false), m_error(u.error()) {}
    template <class G>
    constexpr expected(unexpected<G>&& u) : m_has(false), m_error(std::move(u).error()) {}
    constexpr bool has_value() const noexcept { return m_has; }
    constexpr explicit operator bool() const noexcept { return m_has; }
    constexpr void operator*() const {}
    constexpr void value() const {}
    constexpr E& error() & { return m_error; }
    constexpr const E& error() const& { return m_error; }
    constexpr E&& error() && { return std::move(m_error); }

private:
    bool m_has;
    E m_error{};
};

}  // namespace std
