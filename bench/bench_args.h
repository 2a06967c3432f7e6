#pragma once
// Command-line parsing shared by the bench programs: "--name VALUE" pairs and --help. Bad input is one
// line on stderr with the usage and status 2; --help prints the usage and status 0.
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

struct BenchOption {
    std::string_view name;
    std::function<void(const std::string&)> set;
};

/// Applies argv's options; returns the status to exit with, or nothing to go on.
inline std::optional<int> parse_bench_args(int argc, char** argv, std::string_view usage,
                                           std::initializer_list<BenchOption> options) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("%.*s\n", static_cast<int>(usage.size()), usage.data());
            return 0;
        }
        const BenchOption* match = nullptr;
        for (const BenchOption& o : options)
            if (o.name == a) match = &o;
        if (match == nullptr || i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s %.*s (%.*s)\n", argv[0], match == nullptr ? "unknown option" : "no value for",
                         static_cast<int>(a.size()), a.data(), static_cast<int>(usage.size()), usage.data());
            return 2;
        }
        match->set(argv[++i]);
    }
    return std::nullopt;
}
