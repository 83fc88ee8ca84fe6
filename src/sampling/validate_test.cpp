// validate(): every user-settable number, its range and the error's wording.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "sampling/sampler.h"

namespace hearth::sampling {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// The ParamError validate() throws for `p` after `edit`, or "" when it accepts.
std::string error_of(const std::function<void(SamplerParams&)>& edit, std::string* name = nullptr) {
  SamplerParams p;
  edit(p);
  try {
    validate(p);
  } catch (const ParamError& e) {
    if (name) *name = e.name;
    return e.what();
  }
  return "";
}

TEST(Validate, DefaultsAreValid) {
  EXPECT_EQ(error_of([](SamplerParams&) {}), "");
}

TEST(Validate, TopPNamesTheOptionTheRangeAndTheValue) {
  std::string name;
  EXPECT_EQ(error_of([](SamplerParams& p) { p.top_p = 1.5f; }, &name),
            "top_p must be in (0, 1], got 1.5");
  EXPECT_EQ(name, "top_p");
  EXPECT_NE(error_of([](SamplerParams& p) { p.top_p = 0; }), "");
  EXPECT_NE(error_of([](SamplerParams& p) { p.top_p = kNan; }), "");
  EXPECT_EQ(error_of([](SamplerParams& p) { p.top_p = 1; }), "");
}

TEST(Validate, EachFieldHasItsRange) {
  struct Case {
    std::function<void(SamplerParams&)> edit;
    const char* name;  // nullptr: valid
  };
  const Case cases[] = {
      {[](SamplerParams& p) { p.temperature = -0.1f; }, "temperature"},
      {[](SamplerParams& p) { p.temperature = kNan; }, "temperature"},
      {[](SamplerParams& p) { p.temperature = kInf; }, "temperature"},
      {[](SamplerParams& p) { p.temperature = 0; }, nullptr},
      {[](SamplerParams& p) { p.temperature = 5; }, nullptr},
      {[](SamplerParams& p) { p.top_k = -1; }, "top_k"},
      {[](SamplerParams& p) { p.top_k = 0; }, nullptr},
      {[](SamplerParams& p) { p.min_p = -0.01f; }, "min_p"},
      {[](SamplerParams& p) { p.min_p = 1.01f; }, "min_p"},
      {[](SamplerParams& p) { p.min_p = kNan; }, "min_p"},
      {[](SamplerParams& p) { p.min_p = 1; }, nullptr},
      {[](SamplerParams& p) { p.typical_p = 0; }, "typical_p"},
      {[](SamplerParams& p) { p.typical_p = 2; }, "typical_p"},
      {[](SamplerParams& p) { p.typical_p = 0.5f; }, nullptr},
      {[](SamplerParams& p) { p.repeat_penalty = 0; }, "repeat_penalty"},
      {[](SamplerParams& p) { p.repeat_penalty = -1; }, "repeat_penalty"},
      {[](SamplerParams& p) { p.repeat_penalty = kInf; }, "repeat_penalty"},
      {[](SamplerParams& p) { p.repeat_penalty = 1.3f; }, nullptr},
      {[](SamplerParams& p) { p.repeat_last_n = -2; }, "repeat_last_n"},
      {[](SamplerParams& p) { p.repeat_last_n = -1; }, nullptr},
      {[](SamplerParams& p) { p.presence_penalty = kNan; }, "presence_penalty"},
      {[](SamplerParams& p) { p.presence_penalty = -2; }, nullptr},
      {[](SamplerParams& p) { p.frequency_penalty = -kInf; }, "frequency_penalty"},
      {[](SamplerParams& p) { p.frequency_penalty = 2; }, nullptr},
  };
  for (const Case& c : cases) {
    std::string name;
    const std::string what = error_of(c.edit, &name);
    if (c.name == nullptr) {
      EXPECT_EQ(what, "");
    } else {
      EXPECT_EQ(name, c.name) << what;
      EXPECT_EQ(what.rfind(std::string(c.name) + " must be ", 0), 0u) << what;
    }
  }
}

TEST(Validate, ValuesAreShownAsTyped) {
  EXPECT_EQ(error_of([](SamplerParams& p) { p.min_p = 1.1f; }), "min_p must be in [0, 1], got 1.1");
  EXPECT_EQ(error_of([](SamplerParams& p) { p.temperature = kNan; }),
            "temperature must be a finite number >= 0, got nan");
  EXPECT_EQ(error_of([](SamplerParams& p) { p.repeat_last_n = -5; }),
            "repeat_last_n must be >= -1 (-1: all, 0: off), got -5");
}

TEST(Validate, ParamErrorIsAnInvalidArgument) {
  SamplerParams p;
  p.top_k = -3;
  EXPECT_THROW(validate(p), std::invalid_argument);
}

}  // namespace
}  // namespace hearth::sampling
