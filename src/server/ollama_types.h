// Ollama's HTTP API, as its clients send and read it: every request body hearth
// accepts on /api/*, parsed with strict type checks, and every response body,
// built with the keys in the order Ollama writes them. The shapes follow
// Ollama's api/types.go and server/routes.go; where hearth differs it says so
// at the declaration. No I/O here: the server maps engine and store results
// into the plain structs below and sends what the builders return.
//
// Conventions of the wire: durations are integer nanoseconds; timestamps are
// RFC 3339 with nanoseconds; a JSON null counts as an absent field; unknown
// fields are ignored; a field of the wrong type is a 400 naming the field.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server::ollama {

// Request and response bodies keep their keys in order: Ollama's responses list
// keys in a fixed order, and a JSON schema given as `format` generates its
// properties in the order the client wrote them.
using Json = nlohmann::ordered_json;
using Clock = std::chrono::system_clock;
using Nanos = std::chrono::nanoseconds;

// A request the server refuses: `status` is the HTTP status, what() the message
// sent as {"error": what()}.
struct WireError : std::runtime_error {
  explicit WireError(const std::string& message, int status = 400)
      : std::runtime_error(message), status(status) {}
  int status = 400;
};

// The body as JSON. An empty or all-blank body is "missing request body" (400),
// as in Ollama; otherwise server::parse_json_body's rules (json_body.h), its
// refusals as WireError 400.
Json parse_body(std::string_view body);

// ---------------------------------------------------------------- keep_alive

// How long a model stays loaded after a request. Ollama's Duration: a number of
// seconds (fractions allowed) or a Go duration string ("5m", "1h30m", "300ms");
// a negative value of either form means forever; 0 unloads once the request ends.
class KeepAlive {
 public:
  static KeepAlive forever() { return KeepAlive(true, Nanos::zero()); }
  static KeepAlive after(Nanos d) { return d < Nanos::zero() ? forever() : KeepAlive(false, d); }

  bool is_forever() const { return forever_; }
  bool unloads_now() const { return !forever_ && duration_ == Nanos::zero(); }
  Nanos duration() const { return duration_; }  // Nanos::max() when forever
  bool operator==(const KeepAlive&) const = default;

 private:
  KeepAlive(bool forever, Nanos d) : forever_(forever), duration_(forever ? Nanos::max() : d) {}
  bool forever_;
  Nanos duration_;
};

// Ollama's default when a request gives none.
inline constexpr Nanos kDefaultKeepAlive = std::chrono::minutes(5);

// A keep_alive value: a number or a duration string, else a WireError naming
// keep_alive. Seconds beyond what fits in nanoseconds count as forever.
KeepAlive parse_keep_alive(const Json& value);

// ------------------------------------------------------------------- options

// Every option Ollama knows, by its wire name, each set only when the request
// (or the model's stored parameters) gave it. Types as Ollama's: integers are
// int64, floats float (Ollama's float32).
struct Options {
  // Prediction options: applied per request.
  std::optional<int64_t> num_keep;
  std::optional<int64_t> seed;
  std::optional<int64_t> num_predict;  // < 0: until the context is full
  std::optional<int64_t> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> typical_p;
  std::optional<int64_t> repeat_last_n;
  std::optional<float> temperature;
  std::optional<float> repeat_penalty;
  std::optional<float> presence_penalty;
  std::optional<float> frequency_penalty;
  std::optional<std::vector<std::string>> stop;
  // Runner options: fixed when the model is loaded.
  std::optional<int64_t> num_ctx;
  std::optional<int64_t> num_batch;
  std::optional<int64_t> num_gpu;
  std::optional<int64_t> main_gpu;
  std::optional<bool> use_mmap;
  std::optional<int64_t> num_thread;
  std::optional<int64_t> draft_num_predict;  // speculative decoding; hearth has no draft model

  bool operator==(const Options&) const = default;
};

// Options parsed from a JSON object, and the names that were not options.
struct ParsedOptions {
  Options options;
  // Names neither Ollama's options nor ones it removed, in the order given: the
  // caller logs them (Ollama logs "invalid option provided" and goes on).
  std::vector<std::string> unknown;
};

// Parses an `options` object (or a model's stored parameters: `what` is the
// word errors use, "option" or "parameter"). Like Ollama's Options.FromMap:
// integer options take any JSON number (a fraction is cut toward zero), float
// options any JSON number, booleans only true/false, stop only an array of
// strings; null leaves the option unset. Options Ollama removed (mirostat,
// mirostat_tau, mirostat_eta, penalize_newline, tfs_z, low_vram, f16_kv,
// vocab_only, use_mlock, numa, logits_all, embedding_only, rope_frequency_base,
// rope_frequency_scale, num_gqa) are ignored silently. A wrong type throws
// WireError: `option "temperature" must be a number, got string`. A value that
// is null or absent gives empty options; anything but an object throws.
ParsedOptions parse_options(const Json& object, std::string_view what = "option");

// A model's TEMPLATE as a create takes it (`hearth create`, POST /api/create):
// Jinja that parses, so that a broken one is refused at once rather than at
// every chat, and not Go template syntax (store::check_template). Throws
// std::invalid_argument naming the problem.
void check_model_template(const std::string& text);

// Each option that `request` sets, else the one `model` sets: a model's stored
// parameters are the defaults under a request's options (a request's `stop`
// replaces the model's whole list, as in Ollama).
Options merge_options(const Options& model, const Options& request);

// Options back to JSON, with only the options set, in declaration order: what
// a model stores as its parameters.
Json to_json(const Options& options);

// --------------------------------------------------------------- requests

// `format`: absent, null or "" (none), "json" (any JSON object), or a JSON
// schema object the output must satisfy; anything else is a 400.
struct Format {
  enum class Kind { kNone, kJson, kSchema };
  Kind kind = Kind::kNone;
  Json schema;  // the schema object when kind == kSchema
};

// `think`: absent, a boolean, or a level ("low", "medium", "high", "max").
struct Think {
  bool enabled = false;
  std::string level;  // "" when given as a boolean
};

// A tool call in a message: the model's (in responses) or a previous turn's (in
// requests). `arguments` is an object, its keys in the order given.
struct ToolCall {
  std::string id;  // "" when none
  int64_t index = 0;
  std::string name;
  Json arguments = Json::object();
};

// One chat message. `role` is lower-cased, as Ollama does. Images are accepted
// on the wire and refused by the parsers (hearth's models have no vision).
struct Message {
  std::string role;
  std::string content;
  std::string thinking;
  std::vector<ToolCall> tool_calls;
  std::string tool_name;
  std::string tool_call_id;
};

// POST /api/generate. An empty prompt only loads the model (done_reason
// "load"), or unloads it when keep_alive is 0 (done_reason "unload").
struct GenerateRequest {
  std::string model;
  std::string prompt;
  std::string suffix;
  std::string system;            // overrides the model's
  std::string template_;         // wire name "template": overrides the model's
  std::vector<int32_t> context;  // tokens of a previous exchange (deprecated by Ollama)
  bool stream = true;
  bool raw = false;  // the prompt is sent as is, with no template
  Format format;
  Options options;
  std::vector<std::string> unknown_options;
  std::optional<KeepAlive> keep_alive;  // absent: the server's default
  std::optional<Think> think;           // absent: a thinking template thinks
  std::optional<bool> truncate;         // absent: true
  std::optional<bool> shift;            // absent: true
  bool logprobs = false;
  int64_t top_logprobs = 0;  // 0..20
};

// POST /api/chat. No messages only loads (or, with keep_alive 0, unloads) the model.
struct ChatRequest {
  std::string model;
  std::vector<Message> messages;
  Json tools = Json::array();  // the tools as given (array of {type, function})
  // hearth's extension (Ollama has none): OpenAI's tool_choice, as given (null: auto).
  Json tool_choice;
  bool stream = true;
  Format format;
  Options options;
  std::vector<std::string> unknown_options;
  std::optional<KeepAlive> keep_alive;
  std::optional<Think> think;
  std::optional<bool> truncate;
  std::optional<bool> shift;
  bool logprobs = false;
  int64_t top_logprobs = 0;
};

// POST /api/embed. `input` is a string (an empty one embeds nothing) or an
// array of strings.
struct EmbedRequest {
  std::string model;
  std::vector<std::string> input;
  bool truncate = true;               // false: an input longer than the context is a 400
  std::optional<int64_t> dimensions;  // keep the first n (then normalize again)
  Options options;
  std::vector<std::string> unknown_options;
  std::optional<KeepAlive> keep_alive;
};

// POST /api/embeddings (legacy): one prompt; an empty one only loads the model.
struct EmbeddingsRequest {
  std::string model;
  std::string prompt;
  Options options;
  std::vector<std::string> unknown_options;
  std::optional<KeepAlive> keep_alive;
};

// POST /api/show. `model`, or the deprecated `name`.
struct ShowRequest {
  std::string model;
  bool verbose = false;  // full arrays in model_info (else arrays over 5 items are [])
  std::string system;    // shows the model as if its system prompt were this
};

// POST /api/copy.
struct CopyRequest {
  std::string source;
  std::string destination;
};

// DELETE /api/delete. `model`, or the deprecated `name` (which ollama-js sends).
struct DeleteRequest {
  std::string model;
};

// POST /api/create: a new model from an existing one (`from`) or from blobs
// (`files`: file name -> "sha256:<hex>"), with what it overrides.
struct CreateRequest {
  std::string model;  // or the deprecated `name`
  std::string from;
  std::vector<std::pair<std::string, std::string>> files;     // name -> digest, as given
  std::vector<std::pair<std::string, std::string>> adapters;  // name -> digest
  std::optional<std::string> template_;                       // wire name "template"
  std::optional<std::vector<std::string>> license;            // a string or an array of strings
  std::optional<std::string> system;
  Json parameters = Json::object();  // checked as options; stored as given
  std::vector<Message> messages;
  std::string quantize;  // or the deprecated `quantization`
  bool stream = true;
};

// POST /api/pull and /api/push: hearth has no registry and refuses both, but
// parses them so that the refusal names the model.
struct PullRequest {
  std::string model;  // or `name` (ollama-js sends `name`)
  bool insecure = false;
  bool stream = true;
};
using PushRequest = PullRequest;

// Each parser throws WireError (400) naming the field that has the wrong type,
// `model is required` when the model is missing or blank, and for a message or
// request with images, `model "<name>" does not support images`.
GenerateRequest parse_generate_request(const Json& body);
ChatRequest parse_chat_request(const Json& body);
EmbedRequest parse_embed_request(const Json& body);
EmbeddingsRequest parse_embeddings_request(const Json& body);
ShowRequest parse_show_request(const Json& body);
CopyRequest parse_copy_request(const Json& body);
DeleteRequest parse_delete_request(const Json& body);
CreateRequest parse_create_request(const Json& body);
PullRequest parse_pull_request(const Json& body);
PushRequest parse_push_request(const Json& body);

// The refusal for pull and push (501: hearth has no registry to reach).
WireError registry_refusal(std::string_view operation, std::string_view model);

// --------------------------------------------------------------- responses

// A model's details, as in /api/tags, /api/show and /api/ps.
struct ModelDetails {
  std::string parent_model;
  std::string format = "gguf";
  std::string family;                 // "llama"
  std::vector<std::string> families;  // {"llama"}
  std::string parameter_size;         // "3.2B"
  std::string quantization_level;     // "Q4_0"
};

// Statistics of a finished generation or chat (Ollama's Metrics).
struct GenerateStats {
  Nanos total{0};  // whole request, load included
  Nanos load{0};   // waiting for and loading the model
  int64_t prompt_eval_count = 0;
  Nanos prompt_eval{0};
  int64_t eval_count = 0;
  Nanos eval{0};
};

// /api/generate: one streamed piece of text.
//   {model, created_at, response, done: false}
Json generate_chunk(std::string_view model, Clock::time_point created, std::string_view text);

// /api/generate: the last object of a stream (`response` "") or the whole
// answer when not streaming. `context` is omitted when empty (raw mode).
//   {model, created_at, response, done: true, done_reason, context?,
//    total_duration, load_duration, prompt_eval_count, prompt_eval_duration,
//    eval_count, eval_duration}
// Ollama omits a statistic that is 0; hearth always sends all six.
Json generate_final(std::string_view model, Clock::time_point created, std::string_view response,
                    std::string_view done_reason, std::span<const int32_t> context,
                    const GenerateStats& stats);

// /api/generate with an empty prompt: done_reason "load" or "unload".
//   {model, created_at, response: "", done: true, done_reason}
Json generate_load(std::string_view model, Clock::time_point created, std::string_view done_reason);

// A message as responses carry it: {role, content, thinking?, tool_calls?}.
Json to_json(const Message& message);

// /api/chat: one streamed piece of the assistant's message.
//   {model, created_at, message: {role: "assistant", content}, done: false}
Json chat_chunk(std::string_view model, Clock::time_point created, std::string_view content);
// The same with a whole message piece (thinking, or a tool call: Ollama sends
// each call whole in one chunk).
Json chat_chunk(std::string_view model, Clock::time_point created, const Message& piece);

// /api/chat: the last object (content "" when streamed; the whole message when not).
//   {model, created_at, message, done: true, done_reason, total_duration, ...}
Json chat_final(std::string_view model, Clock::time_point created, const Message& message,
                std::string_view done_reason, const GenerateStats& stats);

// /api/chat with no messages: done_reason "load" or "unload".
//   {model, created_at, message: {role: "assistant", content: ""}, done: true, done_reason}
Json chat_load(std::string_view model, Clock::time_point created, std::string_view done_reason);

// /api/embed: {model, embeddings, total_duration, load_duration, prompt_eval_count}.
// Each value is written as its shortest float32 decimal, as Ollama does.
struct EmbedStats {
  Nanos total{0};
  Nanos load{0};
  int64_t prompt_eval_count = 0;
};
Json embed_response(std::string_view model, std::span<const std::vector<float>> embeddings,
                    const EmbedStats& stats);

// /api/embeddings (legacy): {embedding} (float32 values widened to double, as Ollama does).
Json embeddings_response(std::span<const float> embedding);

// A model on disk, for /api/tags.
struct LocalModel {
  std::string name;  // "tiny-kjv:latest"
  Clock::time_point modified_at;
  int64_t size = 0;    // bytes on disk
  std::string digest;  // hex sha256 of the model file, no "sha256:" prefix
  ModelDetails details;
};

// /api/tags: {models: [{name, model, modified_at, size, digest, details}]}
// (`model` repeats `name`, as in Ollama).
Json tags_response(std::span<const LocalModel> models);

// Requests of one loaded model in hearth's scheduler. hearth's extension of
// /api/ps: Ollama has no such field, and its clients ignore it.
struct QueueInfo {
  int64_t active = 0;   // requests being evaluated now
  int64_t waiting = 0;  // requests queued behind them
};

// A loaded model, for /api/ps.
struct RunningModel {
  std::string name;
  int64_t size = 0;  // bytes of memory it holds
  std::string digest;
  ModelDetails details;
  std::optional<Clock::time_point> expires_at;  // absent: kept forever
  int64_t size_vram = 0;                        // 0: hearth runs on the CPU
  int64_t context_length = 0;
  QueueInfo queue;
};

// /api/ps: {models: [{name, model, size, digest, details, expires_at,
// size_vram, context_length, queue: {active, waiting}}]}. A model kept forever
// shows the latest time a system_clock can hold (2262-04-11T23:47:16.854775807Z);
// Ollama shows now + 292 years.
Json ps_response(std::span<const RunningModel> models);

// A tensor of a model, for a verbose /api/show.
struct TensorInfo {
  std::string name;
  std::string type;  // "Q4_0"
  std::vector<uint64_t> shape;
};

// What /api/show tells about a model.
struct ModelInfo {
  std::string license;     // several licenses joined with "\n"
  std::string modelfile;   // "# Modelfile generated by ..." text
  std::string parameters;  // format_parameters() of the stored parameters
  std::string template_;
  std::string system;
  ModelDetails details;
  std::vector<Message> messages;     // stored by /api/create; role and content only
  Json model_info = Json::object();  // GGUF metadata: {"general.architecture": "llama", ...}
  std::vector<TensorInfo> tensors;
  std::vector<std::string> capabilities;  // "completion", "embedding", "insert", "tools"
  Clock::time_point modified_at;
};

// /api/show: {license?, modelfile?, parameters?, template?, system?, details,
// messages?, model_info, tensors?, capabilities?, modified_at}; empty strings
// and lists are left out, as Ollama does.
Json show_response(const ModelInfo& info);

// A model's stored parameters as /api/show's `parameters` string: one line per
// value, the name left-aligned in 30 columns, a space, then the value as Go's
// %#v writes it (strings quoted and escaped, numbers shortest, one line per
// element of an array), e.g. `stop                           "[INST]"`.
std::string format_parameters(const Json& parameters);

// /api/version: {version}.
Json version_response(std::string_view version);

// Any failure: {error}. In a stream that already began, sent as the last line.
Json error_response(std::string_view message);

// /api/create, /api/pull, /api/push progress: {status, digest?, total?, completed?}.
Json progress_response(std::string_view status, std::string_view digest = {}, int64_t total = 0,
                       int64_t completed = 0);

}  // namespace hearth::server::ollama
