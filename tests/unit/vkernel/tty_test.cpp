// The console's line discipline by itself (vkernel/tty.h): canonical
// editing, echo, ISIG characters, flow control and output processing, with
// the answers Linux's N_TTY gives for the same keys.

#include <gtest/gtest.h>
#include <signal.h>
#include <termios.h>

#include <string>
#include <vector>

#include "vkernel/tty.h"

namespace vk {
namespace {

struct Typed {
    std::string echo;
    std::vector<int> signals;
};

Typed type(LineDiscipline& ld, std::string_view keys) {
    LineDiscipline::Effects fx;
    ld.receive({reinterpret_cast<const u8*>(keys.data()), keys.size()}, fx);
    return {fx.echo, fx.signals};
}

std::string read_all(LineDiscipline& ld, std::size_t max = 4096) {
    std::string buf(max, '\0');
    const std::size_t n = ld.read({reinterpret_cast<u8*>(buf.data()), buf.size()});
    buf.resize(n);
    return buf;
}

std::string output(LineDiscipline& ld, std::string_view s) {
    return ld.process_output({reinterpret_cast<const u8*>(s.data()), s.size()});
}

TEST(LineDiscipline, DefaultsAreLinuxStdTermios) {
    const KTermios t = default_termios();
    EXPECT_EQ(t.c_iflag, static_cast<u32>(ICRNL | IXON));
    EXPECT_EQ(t.c_oflag, static_cast<u32>(OPOST | ONLCR));
    EXPECT_EQ(t.c_lflag,
              static_cast<u32>(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN));
    EXPECT_EQ(t.c_cflag & CBAUD, static_cast<u32>(B38400));
    EXPECT_EQ(t.c_cc[VINTR], 3);
    EXPECT_EQ(t.c_cc[VERASE], 0x7f);
    EXPECT_EQ(t.c_cc[VEOF], 4);
    EXPECT_EQ(t.c_cc[VMIN], 1);
    EXPECT_EQ(t.c_cc[VSUSP], 26);
}

TEST(LineDiscipline, CanonicalLineWithCarriageReturn) {
    LineDiscipline ld;
    const Typed t = type(ld, "abc");
    EXPECT_EQ(t.echo, "abc");
    EXPECT_FALSE(ld.readable());  // no line yet
    EXPECT_EQ(type(ld, "\r").echo, "\r\n");  // ICRNL, then ONLCR on the echo
    EXPECT_TRUE(ld.readable());
    EXPECT_EQ(ld.available(), 4u);
    EXPECT_EQ(read_all(ld), "abc\n");
    EXPECT_FALSE(ld.readable());
}

TEST(LineDiscipline, ReadStopsAtLineEndAndKeepsTheRest) {
    LineDiscipline ld;
    type(ld, "one\ntwo\n");
    EXPECT_EQ(read_all(ld, 2), "on");
    EXPECT_EQ(read_all(ld), "e\n");
    EXPECT_EQ(read_all(ld), "two\n");
}

TEST(LineDiscipline, EraseKillWordErase) {
    LineDiscipline ld;
    EXPECT_EQ(type(ld, "ab\x7f").echo, "ab\b \b");
    type(ld, "c\n");
    EXPECT_EQ(read_all(ld), "ac\n");

    EXPECT_EQ(type(ld, "xyz\x15").echo, "xyz\b \b\b \b\b \b");  // ECHOKE: wiped visually
    type(ld, "\n");
    EXPECT_EQ(read_all(ld), "\n");

    // VWERASE takes the word and the blanks after it (Linux: alnum and '_').
    std::string wiped;
    for (int i = 0; i < 5; i++) wiped += "\b \b";
    EXPECT_EQ(type(ld, "foo bar  \x17").echo, "foo bar  " + wiped);
    type(ld, "\n");
    EXPECT_EQ(read_all(ld), "foo \n");
}

TEST(LineDiscipline, EraseOfAnEmptyLineDoesNothing) {
    LineDiscipline ld;
    EXPECT_EQ(type(ld, "\x7f\x15").echo, "");
    type(ld, "\n");
    EXPECT_EQ(read_all(ld), "\n");
}

TEST(LineDiscipline, EchoCtlAndItsErase) {
    LineDiscipline ld;
    EXPECT_EQ(type(ld, "\x01").echo, "^A");
    EXPECT_EQ(type(ld, "\x7f").echo, "\b \b\b \b");  // two columns go
}

TEST(LineDiscipline, EraseOfATabGoesBackToItsColumn) {
    LineDiscipline ld;
    output(ld, "$ ");  // a prompt: the line starts at column 2
    EXPECT_EQ(type(ld, "a\t").echo, "a\t");
    EXPECT_EQ(type(ld, "\x7f").echo, std::string(5, '\b'));  // column 8 back to 3
}

TEST(LineDiscipline, KillWithoutEchokeEchoesTheCharAndNewline) {
    LineDiscipline ld;
    KTermios t = ld.termios();
    t.c_lflag &= ~ECHOKE;
    ld.set_termios(t);
    EXPECT_EQ(type(ld, "ab\x15").echo, "ab^U\r\n");
}

TEST(LineDiscipline, EndOfFile) {
    LineDiscipline ld;
    EXPECT_EQ(type(ld, "\x04").echo, "");  // VEOF is not echoed
    EXPECT_TRUE(ld.readable());
    EXPECT_TRUE(ld.at_eof());
    EXPECT_EQ(read_all(ld), "");
    EXPECT_FALSE(ld.readable());
    // In the middle of a line, VEOF ends the line without a newline.
    type(ld, "ab\x04");
    EXPECT_EQ(read_all(ld), "ab");
    EXPECT_FALSE(ld.readable());
}

TEST(LineDiscipline, SignalCharacters) {
    LineDiscipline ld;
    type(ld, "partial");
    const Typed c = type(ld, "\x03");
    EXPECT_EQ(c.signals, std::vector<int>{SIGINT});
    EXPECT_EQ(c.echo, "^C");
    type(ld, "\n");
    EXPECT_EQ(read_all(ld), "\n");  // the partial line was flushed
    EXPECT_EQ(type(ld, "\x1c").signals, std::vector<int>{SIGQUIT});
    EXPECT_EQ(type(ld, "\x1a").signals, std::vector<int>{SIGTSTP});
    // NOFLSH keeps the input; no ISIG makes them ordinary bytes.
    KTermios t = ld.termios();
    t.c_lflag |= NOFLSH;
    ld.set_termios(t);
    type(ld, "x\x03y\n");
    EXPECT_EQ(read_all(ld), "xy\n");
    t.c_lflag &= ~ISIG;
    ld.set_termios(t);
    const Typed plain = type(ld, "\x03\n");
    EXPECT_TRUE(plain.signals.empty());
    EXPECT_EQ(read_all(ld), "\x03\n");
}

TEST(LineDiscipline, DisabledControlCharacterMatchesNothing) {
    LineDiscipline ld;
    KTermios t = ld.termios();
    t.c_cc[VINTR] = 0;  // _POSIX_VDISABLE
    ld.set_termios(t);
    EXPECT_TRUE(type(ld, std::string_view("\0\n", 2)).signals.empty());
}

TEST(LineDiscipline, EchoOffAndEchonl) {
    LineDiscipline ld;
    KTermios t = ld.termios();
    t.c_lflag &= ~ECHO;
    ld.set_termios(t);
    EXPECT_EQ(type(ld, "secret\n").echo, "");
    t.c_lflag |= ECHONL;
    ld.set_termios(t);
    EXPECT_EQ(type(ld, "pw\n").echo, "\r\n");
    EXPECT_EQ(read_all(ld), "secret\n");
}

TEST(LineDiscipline, CarriageReturnMapping) {
    LineDiscipline ld;
    KTermios t = ld.termios();
    t.c_iflag &= ~ICRNL;
    t.c_lflag &= ~ICANON;
    ld.set_termios(t);
    type(ld, "\r");
    EXPECT_EQ(read_all(ld), "\r");
    t.c_iflag |= IGNCR;
    ld.set_termios(t);
    type(ld, "a\rb");
    EXPECT_EQ(read_all(ld), "ab");
    t.c_iflag = INLCR;
    ld.set_termios(t);
    type(ld, "\n");
    EXPECT_EQ(read_all(ld), "\r");
}

TEST(LineDiscipline, NonCanonicalBytesAreReadableAtOnce) {
    LineDiscipline ld;
    KTermios t = ld.termios();
    t.c_lflag &= ~(ICANON | ECHO);
    ld.set_termios(t);
    EXPECT_EQ(type(ld, "xy\x7f").echo, "");
    EXPECT_TRUE(ld.readable());
    EXPECT_EQ(read_all(ld, 1), "x");
    EXPECT_EQ(read_all(ld), "y\x7f");
}

TEST(LineDiscipline, ModeSwitchesKeepTypedInput) {
    LineDiscipline ld;
    type(ld, "half");
    KTermios t = ld.termios();
    t.c_lflag &= ~ICANON;
    ld.set_termios(t);  // the unfinished line becomes readable
    EXPECT_EQ(read_all(ld), "half");
    type(ld, "raw");
    t.c_lflag |= ICANON;
    ld.set_termios(t);  // unread raw input is pushed as one line
    EXPECT_TRUE(ld.readable());
    EXPECT_EQ(read_all(ld), "raw");
}

TEST(LineDiscipline, LiteralNext) {
    LineDiscipline ld;
    const Typed t = type(ld, "\x16\x03\n");
    EXPECT_TRUE(t.signals.empty());
    EXPECT_EQ(t.echo, "^\b^C\r\n");
    EXPECT_EQ(read_all(ld), "\x03\n");
}

TEST(LineDiscipline, FlowControl) {
    LineDiscipline ld;
    EXPECT_EQ(type(ld, "\x13").echo, "");
    EXPECT_TRUE(ld.stopped());
    type(ld, "\x11");
    EXPECT_FALSE(ld.stopped());
    type(ld, "\x13");
    KTermios t = ld.termios();
    t.c_iflag &= ~IXON;
    ld.set_termios(t);  // turning IXON off restarts output
    EXPECT_FALSE(ld.stopped());
    type(ld, "\x13\n");
    EXPECT_EQ(read_all(ld), "\x13\n");
}

TEST(LineDiscipline, OutputProcessing) {
    LineDiscipline ld;
    EXPECT_EQ(output(ld, "a\nb\n"), "a\r\nb\r\n");
    KTermios t = ld.termios();
    t.c_oflag = OPOST | OCRNL;
    ld.set_termios(t);
    EXPECT_EQ(output(ld, "a\r\n"), "a\n\n");  // the cursor stays in column 1, as Linux's
    EXPECT_EQ(output(ld, "\t"), "\t");          // ... count of it says
    t.c_oflag = OPOST | ONLCR | XTABS;
    ld.set_termios(t);
    output(ld, "\n");
    ld.set_termios(t);
    EXPECT_EQ(output(ld, "ab\tc\n"), "ab      c\r\n");
    t.c_oflag = ONLCR;  // without OPOST nothing is processed
    ld.set_termios(t);
    EXPECT_EQ(output(ld, "a\n"), "a\n");
}

TEST(LineDiscipline, LineLengthIsBounded) {
    LineDiscipline ld;
    type(ld, std::string(LineDiscipline::kBufSize + 100, 'x'));
    EXPECT_FALSE(ld.full());  // the line can still be ended or erased
    type(ld, "\n");
    EXPECT_TRUE(ld.full());   // now the host's input waits
    EXPECT_EQ(read_all(ld, 8192).size(), LineDiscipline::kBufSize);
    EXPECT_FALSE(ld.full());
}

}  // namespace
}  // namespace vk
