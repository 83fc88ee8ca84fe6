// `hearth cost`: what this server's traffic would cost on cloud APIs, against
// the electricity and hardware of running it here, and after how many months
// the hardware has paid for itself. The volume comes from a running server's
// own token counters (--server, via GET /metrics), from --tokens-per-day, or
// else is a typical 100K tokens a day; every assumption is printed.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"

namespace hearth::cli {

namespace {

constexpr double kDaysPerMonth = 30.44;
constexpr double kDefaultTokensPerDay = 100'000;

struct Price {
  std::string name;
  double input = 0, output = 0;  // USD per 1K tokens
};

// List prices (USD per 1K tokens, input / output) of a few common tiers as
// published in 2025: assumptions to be checked, and overridden with --price.
const std::vector<Price> kDefaultPrices = {{"gpt-4o", 0.0025, 0.01},
                                           {"gpt-4o-mini", 0.00015, 0.0006},
                                           {"claude-sonnet", 0.003, 0.015},
                                           {"claude-haiku", 0.0008, 0.004}};

struct CostOptions {
  std::optional<std::string> server;     // absent: not given
  std::optional<double> tokens_per_day;  // absent: --server, or a typical day
  double prompt_share = 0.75;
  std::vector<std::string> prices;
  double watts = 60;
  double kwh_price = 0.30;
  double hardware = 1500;
  bool json = false;
};

// "NAME=IN/OUT" (USD per 1K tokens).
Price parse_price(const std::string& s) {
  const auto eq = s.find('='), slash = s.find('/', eq == std::string::npos ? 0 : eq);
  Price p;
  try {
    if (eq == std::string::npos || eq == 0 || slash == std::string::npos)
      throw std::invalid_argument(s);
    p.name = s.substr(0, eq);
    size_t a = 0, b = 0;
    p.input = std::stod(s.substr(eq + 1, slash - eq - 1), &a);
    p.output = std::stod(s.substr(slash + 1), &b);
    if (a != slash - eq - 1 || b != s.size() - slash - 1) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format(
        "--price wants NAME=INPUT/OUTPUT in USD per 1K tokens (e.g. mymodel=0.003/0.015), got '{}'",
        s));
  }
  if (!(p.input >= 0 && p.output >= 0 && p.input < 1e6 && p.output < 1e6))
    throw std::invalid_argument(fmt::format("--price '{}': prices must be between 0 and 1e6", s));
  return p;
}

// The sum over every series of `name` in a Prometheus text exposition.
double sum_of(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || !line.starts_with(name)) continue;
    size_t at = name.size();
    if (at < line.size() && line[at] == '{') at = line.find('}', at);
    if (at == std::string::npos || at >= line.size() || (line[at] != '}' && line[at] != ' '))
      continue;  // another metric whose name starts the same way
    std::istringstream v(line.substr(line[at] == '}' ? at + 1 : at));
    double x = 0;
    if (v >> x) sum += x;
  }
  return sum;
}

struct Volume {
  double prompt_per_day = 0, generated_per_day = 0;
  std::string source;  // said to the user
};

Volume from_server(const std::string& url) {
  const ServerAddress a = address_of(url, "--server");
  const auto r = http_call(a, "GET", "/metrics");
  if (r.status != 200)
    throw std::runtime_error(
        fmt::format("{}:{}/metrics answered {}: {}", a.host, a.port, r.status, error_message(r)));
  const double prompt = sum_of(r.body, "llm_prompt_tokens_total");
  const double generated = sum_of(r.body, "llm_generated_tokens_total");
  const double start = sum_of(r.body, "process_start_time_seconds");
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (start <= 0)
    throw std::runtime_error(
        fmt::format("{}:{}/metrics has no process_start_time_seconds", a.host, a.port));
  const double days = std::max(now - start, 60.0) / 86400;
  Volume v{
      prompt / days, generated / days,
      fmt::format("the server at {}:{}: {:.0f} prompt and {:.0f} generated tokens in {:.1f} hours "
                  "of uptime, extrapolated to a day",
                  a.host, a.port, prompt, generated, days * 24)};
  if (days < 1.0 / 24) v.source += " (under an hour: a rough guess)";
  return v;
}

std::string months(double m) {
  if (!std::isfinite(m)) return "never";
  return fmt::format("{:.1f}", m);
}

void run_cost(const CostOptions& o) {
  if (!(o.prompt_share >= 0 && o.prompt_share <= 1))
    throw std::invalid_argument(
        fmt::format("--prompt-share must be between 0 and 1, got {}", o.prompt_share));
  if (!(o.watts >= 0 && o.watts < 1e6))
    throw std::invalid_argument("--watts must be between 0 and 1e6");
  if (!(o.kwh_price >= 0 && o.kwh_price < 1e3))
    throw std::invalid_argument("--kwh-price must be between 0 and 1000");
  if (!(o.hardware >= 0 && o.hardware < 1e9))
    throw std::invalid_argument("--hardware-cost must be between 0 and 1e9");
  if (o.server && o.tokens_per_day)
    throw std::invalid_argument("give --server or --tokens-per-day, not both");
  if (o.server && o.server->empty())
    throw std::invalid_argument("--server needs the server's host:port or URL");
  if (o.tokens_per_day && !(*o.tokens_per_day >= 0 && *o.tokens_per_day <= 1e12))
    throw std::invalid_argument(
        fmt::format("--tokens-per-day must be between 0 and 1e12, got {}", *o.tokens_per_day));

  Volume v;
  if (o.server) {
    v = from_server(*o.server);
  } else {
    const bool given = o.tokens_per_day.has_value();
    const double n = o.tokens_per_day.value_or(kDefaultTokensPerDay);
    v = {n * o.prompt_share, n * (1 - o.prompt_share),
         given
             ? fmt::format("--tokens-per-day {:.0f}, {:.0f}% of them prompt", n,
                           o.prompt_share * 100)
             : fmt::format("no volume given: a typical {:.0f} tokens a day, {:.0f}% of them prompt "
                           "(use --server or --tokens-per-day)",
                           n, o.prompt_share * 100)};
  }
  std::vector<Price> prices;
  if (o.prices.empty()) prices = kDefaultPrices;
  for (const auto& p : o.prices) prices.push_back(parse_price(p));

  const double electricity = o.watts / 1000 * 24 * kDaysPerMonth * o.kwh_price;  // per month
  struct Row {
    Price p;
    double monthly, break_even;
  };
  std::vector<Row> rows;
  for (const auto& p : prices) {
    const double monthly =
        (v.prompt_per_day * p.input + v.generated_per_day * p.output) / 1000 * kDaysPerMonth;
    const double saving = monthly - electricity;
    rows.push_back({p, monthly, saving > 0 ? o.hardware / saving : INFINITY});
  }

  if (o.json) {
    nlohmann::json j = {{"source", v.source},
                        {"prompt_tokens_per_day", v.prompt_per_day},
                        {"generated_tokens_per_day", v.generated_per_day},
                        {"watts", o.watts},
                        {"kwh_price", o.kwh_price},
                        {"hardware_cost", o.hardware},
                        {"electricity_per_month", electricity},
                        {"cloud", nlohmann::json::array()}};
    for (const auto& r : rows)
      j["cloud"].push_back(
          {{"name", r.p.name},
           {"input_per_1k", r.p.input},
           {"output_per_1k", r.p.output},
           {"per_month", r.monthly},
           {"break_even_months",
            std::isfinite(r.break_even) ? nlohmann::json(r.break_even) : nlohmann::json()}});
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("Volume: %s\n", v.source.c_str());
  std::printf("        %.0f prompt + %.0f generated tokens a day, %.0f a month\n", v.prompt_per_day,
              v.generated_per_day, (v.prompt_per_day + v.generated_per_day) * kDaysPerMonth);
  std::printf("Local:  %.0f W around the clock at %.2f per kWh = %.2f a month; hardware %.2f\n",
              o.watts, o.kwh_price, electricity, o.hardware);
  std::printf("\n| %-16s | %12s | %12s | %12s | %18s |\n", "cloud tier", "in / 1K tok",
              "out / 1K tok", "per month", "break-even months");
  std::printf(
      "|------------------|--------------|--------------|--------------|--------------------|\n");
  for (const auto& r : rows)
    std::printf("| %-16s | %12.5f | %12.5f | %12.2f | %18s |\n", r.p.name.c_str(), r.p.input,
                r.p.output, r.monthly, months(r.break_even).c_str());
  std::printf(
      "\nAssumptions: prices are %s, in USD per 1K tokens (override with --price NAME=IN/OUT);\n"
      "watts, price per kWh and hardware cost are --watts, --kwh-price and --hardware-cost;\n"
      "break-even = hardware cost / (cloud per month - electricity per month).\n",
      o.prices.empty() ? "published list prices of 2025 (check them)" : "as given");
}

}  // namespace

void add_cost(CLI::App& app) {
  auto o = std::make_shared<CostOptions>();
  auto* cmd = app.add_subcommand(
      "cost", "Compare the cost of this traffic on cloud APIs with running it here");
  cmd->add_option("--server", o->server,
                  "Read the volume from a running server's /metrics (host:port or URL)");
  cmd->add_option("--tokens-per-day", o->tokens_per_day,
                  "Tokens a day, prompt and generated (default 100000)");
  cmd->add_option("--prompt-share", o->prompt_share,
                  "Share of --tokens-per-day that is prompt (default 0.75)");
  cmd->add_option(
      "--price", o->prices,
      "A cloud tier NAME=IN/OUT in USD per 1K tokens (repeatable; replaces the defaults)");
  cmd->add_option("--watts", o->watts, "Average power draw of this machine (default 60)");
  cmd->add_option("--kwh-price", o->kwh_price, "Electricity price per kWh (default 0.30)");
  cmd->add_option("--hardware-cost", o->hardware, "What the machine cost (default 1500)");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] { run_cost(*o); });
}

}  // namespace hearth::cli
