#include "sampling/stop_strings.h"

#include <gtest/gtest.h>

namespace hearth::sampling {
namespace {

TEST(StopStrings, PassesTextWithoutStops) {
  StopStrings s({"</s>"});
  auto r = s.push("Hello, ");
  EXPECT_EQ(r.emit, "Hello, ");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(s.push("world").emit, "world");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, StopsWithinOnePiece) {
  StopStrings s({"User:"});
  auto r = s.push("Fine.\nUser: hi");
  EXPECT_EQ(r.emit, "Fine.\n");
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(s.push("more").stopped);
  EXPECT_EQ(s.push("more").emit, "");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, HoldsBackAPossibleStartAcrossPieces) {
  StopStrings s({"###"});
  auto r = s.push("answer #");
  EXPECT_EQ(r.emit, "answer ");
  EXPECT_FALSE(r.stopped);
  r = s.push("#");
  EXPECT_EQ(r.emit, "");
  r = s.push("# tail");
  EXPECT_EQ(r.emit, "");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStrings, ReleasesHeldTextWhenItIsNotAStop) {
  StopStrings s({"###"});
  EXPECT_EQ(s.push("a ##").emit, "a ");
  auto r = s.push("x");
  EXPECT_EQ(r.emit, "##x");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(s.push("b#").emit, "b");
  EXPECT_EQ(s.flush(), "#");  // end of generation: the held tail is text
}

TEST(StopStrings, EarliestOfSeveralStopsWins) {
  StopStrings s({"world", "lo w", ""});
  auto r = s.push("hel");
  EXPECT_EQ(r.emit, "he");  // "l" may begin "lo w"
  r = s.push("lo world");
  EXPECT_EQ(r.emit, "l");  // "lo w" starts before "world"
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(s.matched(), "lo w");
  EXPECT_EQ(StopStrings({"x"}).matched(), "");
}

TEST(StopStrings, SplitOneByteAtATime) {
  StopStrings s({"<|im_end|>"});
  std::string shown;
  bool stopped = false;
  for (char c : std::string("Amen.<|im_end|>ignored")) {
    auto r = s.push(std::string_view(&c, 1));
    shown += r.emit;
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  EXPECT_TRUE(stopped);
  EXPECT_EQ(shown, "Amen.");
}

TEST(StopStrings, NoStopsEmitsEverything) {
  StopStrings s({});
  EXPECT_EQ(s.push("abc").emit, "abc");
  EXPECT_FALSE(s.stopped());
}

}  // namespace
}  // namespace hearth::sampling
