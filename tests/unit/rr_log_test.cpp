// The record/replay log's reader and writer (src/replay/rr_log.h, docs/record-replay.md): a
// round trip keeps every field; the reader treats the file as hostile (every truncation, bad
// magic, version, lengths, types and bytes after the end are one error, never a crash).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "replay/rr_log.h"

namespace popek::replay {
namespace {

namespace fs = std::filesystem;

std::vector<Event> sample_events() {
    std::vector<Event> v;
    Event exit;
    exit.type = EventType::Exit;
    exit.icount = 1234;
    exit.rip = 0x100040;
    exit.kind = ExitKind::PioOut;
    exit.addr = 0x3f8;
    exit.size = 1;
    exit.checksum = 0x0123456789abcdefULL;
    v.push_back(exit);
    Event read;
    read.type = EventType::Read;
    read.icount = 1300;
    read.bytes = {0x60};
    v.push_back(read);
    Event rnd;
    rnd.type = EventType::Random;
    rnd.icount = 1400;
    rnd.bytes = {1, 2, 3, 4, 5, 6, 7, 8};
    rnd.delivered = true;
    v.push_back(rnd);
    Event in;
    in.type = EventType::Input;
    in.icount = 1500;
    in.idle = 7;
    in.bytes = {'l', 's', '\n'};
    v.push_back(in);
    Event dma;
    dma.type = EventType::Dma;
    dma.icount = 1600;
    dma.gpa = 0x402004;
    dma.bytes = {0, 0, 0, 0, 0x11, 0x02, 0, 0};
    v.push_back(dma);
    Event frame;
    frame.type = EventType::Frame;
    frame.icount = 1700;
    frame.idle = 9;
    frame.nic = 2;
    frame.bytes = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    v.push_back(frame);
    Event share;
    share.type = EventType::Share;
    share.icount = 1800;
    share.gathered = 17;
    share.size = 4096;
    share.bytes = std::vector<uint8_t>(48, 0x5a);
    v.push_back(share);
    Event end;
    end.type = EventType::End;
    end.icount = 2000;
    end.status = 1;
    end.memory.fill(0xab);
    end.serial.fill(0xcd);
    v.push_back(end);
    return v;
}

std::vector<uint8_t> write_log(const std::vector<Event>& events, const std::string& config = "accel=bt\n") {
    const fs::path p = fs::temp_directory_path() / ("popek-rr-unit-" + std::to_string(::getpid()) + ".rr");
    auto w = LogWriter::create(p.string(), config);
    EXPECT_TRUE(w) << w.error().message;
    for (const Event& e : events) w->write(e);
    EXPECT_TRUE(w->finish());
    std::ifstream f(p, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    fs::remove(p);
    return bytes;
}

/// Reads every event; the first error's message, or "" when the log is whole.
std::string read_all(std::vector<uint8_t> bytes, std::vector<Event>* out = nullptr) {
    auto r = LogReader::open(std::move(bytes));
    if (!r) return r.error().message;
    for (;;) {
        auto e = r->next();
        if (!e) return e.error().message;
        if (!*e) return "";
        if (out) out->push_back(std::move(**e));
    }
}

TEST(RrLog, RoundTripKeepsEveryField) {
    const auto events = sample_events();
    std::vector<Event> got;
    auto bytes = write_log(events, "accel=interp\nmem_mib=64\n");
    auto r = LogReader::open(bytes);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->config(), "accel=interp\nmem_mib=64\n");
    ASSERT_EQ(read_all(bytes, &got), "");
    ASSERT_EQ(got.size(), events.size());
    EXPECT_EQ(got[0].rip, 0x100040u);
    EXPECT_EQ(got[0].kind, ExitKind::PioOut);
    EXPECT_EQ(got[0].addr, 0x3f8u);
    EXPECT_EQ(got[0].checksum, 0x0123456789abcdefULL);
    EXPECT_EQ(got[1].bytes, std::vector<uint8_t>{0x60});
    EXPECT_TRUE(got[2].delivered);
    EXPECT_EQ(got[2].bytes.size(), 8u);
    EXPECT_EQ(got[3].idle, 7u);
    EXPECT_EQ(got[3].bytes, (std::vector<uint8_t>{'l', 's', '\n'}));
    EXPECT_EQ(got[4].gpa, 0x402004u);
    EXPECT_EQ(got[4].icount, 1600u);
    EXPECT_EQ(got[4].bytes, (std::vector<uint8_t>{0, 0, 0, 0, 0x11, 0x02, 0, 0}));
    EXPECT_EQ(got[5].idle, 9u);
    EXPECT_EQ(got[5].nic, 2u);
    EXPECT_EQ(got[5].bytes.size(), 9u);
    EXPECT_EQ(got[6].type, EventType::Share);
    EXPECT_EQ(got[6].icount, 1800u);
    EXPECT_EQ(got[6].size, 4096u);
    EXPECT_EQ(got[6].gathered, 17u);
    EXPECT_EQ(got[6].bytes, std::vector<uint8_t>(48, 0x5a));
    EXPECT_EQ(got[7].status, 1u);
    EXPECT_EQ(got[7].icount, 2000u);
    EXPECT_EQ(got[7].memory[31], 0xab);
    EXPECT_EQ(got[7].serial[0], 0xcd);
}

TEST(RrLog, EveryTruncationIsAnError) {
    const auto bytes = write_log(sample_events());
    for (size_t n = 0; n < bytes.size(); ++n) {
        std::string err = read_all(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
        EXPECT_NE(err, "") << "a log cut to " << n << " bytes was accepted";
    }
    EXPECT_EQ(read_all(bytes), "");
}

TEST(RrLog, HostileHeadersAreRefused) {
    auto bytes = write_log(sample_events());
    auto bad_magic = bytes;
    bad_magic.at(0) = 'X';
    EXPECT_NE(read_all(bad_magic).find("bad magic"), std::string::npos);
    auto bad_version = bytes;
    bad_version.at(8) = 9;
    EXPECT_NE(read_all(bad_version).find("version 9"), std::string::npos);
    auto old_version = bytes;
    old_version.at(8) = 3;
    EXPECT_NE(read_all(old_version).find("version 3"), std::string::npos);
    // Version 4 (before Share events) is still read, but a Share event in it is not.
    std::vector<Event> no_share = sample_events();
    std::erase_if(no_share, [](const Event& e) { return e.type == EventType::Share; });
    auto v4 = write_log(no_share);
    v4.at(8) = 4;
    EXPECT_EQ(read_all(v4), "");
    auto v4_share = bytes;
    v4_share.at(8) = 4;
    EXPECT_NE(read_all(v4_share).find("unknown type 8"), std::string::npos) << read_all(v4_share);
    auto huge_config = bytes;
    huge_config.at(15) = 0x7f;   // config length's top byte
    EXPECT_NE(read_all(huge_config).find("VM description"), std::string::npos);
}

TEST(RrLog, HostileEventsAreRefused) {
    const std::string config = "accel=bt\n";
    const size_t first = 16 + config.size();   // the first event's type byte
    auto base = write_log(sample_events(), config);
    auto unknown = base;
    unknown.at(first) = 0x42;
    EXPECT_NE(read_all(unknown).find("unknown type 66"), std::string::npos);
    auto bad_kind = base;
    bad_kind.at(first + 1 + 8 + 8) = 0;   // type, icount, rip, then the exit kind
    EXPECT_NE(read_all(bad_kind).find("exit kind 0"), std::string::npos);
    // A Read event claiming 4 GiB of data.
    std::vector<Event> one(1);
    one[0].type = EventType::Read;
    one[0].bytes = {1, 2, 3};
    auto big = write_log(one, config);
    big.at(first + 9 + 3) = 0xff;   // the length's top byte
    EXPECT_NE(read_all(big).find("bytes of data"), std::string::npos);
    // Dma events: more than kMaxDma bytes, or none, are refused before anything is read.
    std::vector<Event> dma(1);
    dma[0].type = EventType::Dma;
    dma[0].gpa = 0x1000;
    dma[0].bytes = {7};
    auto over = write_log(dma, config);
    over.at(first + 9 + 8 + 2) = 0x01;   // length 0x10001
    EXPECT_NE(read_all(over).find("65537 bytes of data"), std::string::npos) << read_all(over);
    auto empty = write_log(dma, config);
    empty.at(first + 9 + 8) = 0;   // length 0
    EXPECT_NE(read_all(empty).find("0 bytes of data"), std::string::npos) << read_all(empty);
    // A Frame event of more than kMaxFrame bytes.
    std::vector<Event> frame(1);
    frame[0].type = EventType::Frame;
    frame[0].bytes = {7};
    auto long_frame = write_log(frame, config);
    long_frame.at(first + 9 + 8 + 1 + 3) = 0x01;   // type, icount, idle, nic, the length's top byte
    EXPECT_NE(read_all(long_frame).find("bytes of data"), std::string::npos) << read_all(long_frame);
    // A Share answer longer than kMaxShareAnswer, or empty.
    std::vector<Event> share(1);
    share[0].type = EventType::Share;
    share[0].size = 12;
    share[0].bytes = {7};
    auto long_share = write_log(share, config);
    long_share.at(first + 9 + 8 + 1) = 0x01;   // type, icount, gathered, scattered, the length's second byte: 257
    EXPECT_NE(read_all(long_share).find("257 bytes of data"), std::string::npos) << read_all(long_share);
    auto empty_share = write_log(share, config);
    empty_share.at(first + 9 + 8) = 0;
    EXPECT_NE(read_all(empty_share).find("0 bytes of data"), std::string::npos) << read_all(empty_share);
    // Bytes after the End event; a log without one.
    auto trailing = write_log(sample_events(), config);
    trailing.push_back(0);
    EXPECT_NE(read_all(trailing).find("after its End event"), std::string::npos);
    const auto all = sample_events();
    std::vector<Event> no_end(all.begin(), all.begin() + 2);
    EXPECT_NE(read_all(write_log(no_end, config)).find("without its End event"), std::string::npos);
}

}  // namespace
}  // namespace popek::replay
