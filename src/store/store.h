// The model store, in Ollama's layout: under the root (by default
// $HEARTH_HOME/models, $HEARTH_HOME defaulting to ~/.hearth) lie
// blobs/sha256-<hex> (content-addressed, verified before they become visible)
// and manifests/<host>/<namespace>/<model>/<tag> (JSON, see manifest.h).
// Every file is written through fs::AtomicFile: a crash leaves the old state.
//
// hearth adds in-place imports: a manifest whose model layer is a link (a
// small JSON blob naming a GGUF outside the store, with its size, mtime,
// inode and digest), so that a big GGUF is recorded without a copy; a link
// to a file that changed since is reported, not used.
//
// The bundled models (tiny-kjv) resolve and list with no setup; a manifest of
// the same name in the store takes precedence.
//
// Writers (create, import, copy, remove) change which blobs the manifests
// reference under an exclusive lock on <root>/store.lock (flock: between
// processes and between threads alike). A manifest that is replaced or
// removed takes with it the blobs no other manifest references. A long copy
// or quantization runs outside the lock; the blob it wrote is checked to be
// there (and the small ones written) under the lock, just before the manifest
// that references it.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/manifest.h"
#include "store/modelfile.h"
#include "store/name.h"

namespace hearth::store {

// Something the store cannot do; the message says what and why.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// No model of that name (HTTP 404). InvalidName (name.h) is a bad request (400).
class ModelNotFound : public StoreError {
 public:
  using StoreError::StoreError;
};
// A blob's bytes do not hash to the digest they were sent under (400).
class DigestMismatch : public StoreError {
 public:
  using StoreError::StoreError;
};

// One line of `hearth list` / GET /api/tags.
struct ModelEntry {
  std::string name;         // short form: "tiny-kjv:latest"
  std::string digest;       // the manifest's ("sha256:<hex>"); for a bundled model, its GGUF's
  uint64_t size = 0;        // bytes of the model's layers (the GGUF and the small ones)
  int64_t modified_ns = 0;  // the manifest's mtime, ns since the epoch
  std::string gguf_path;    // "" when the model's link is broken
  bool bundled = false;     // shipped with hearth, not in the store
};

// Everything a run needs to know about a model (GET /api/show).
struct ModelRecord {
  std::string name;             // short form
  std::string gguf_path;        // the file to load (a blob, an imported file or a bundled one)
  std::string model_digest;     // the GGUF's "sha256:<hex>"
  std::string manifest_digest;  // "" for a bundled model
  std::string template_text, system, license;            // empty when the model has none
  nlohmann::json parameters = nlohmann::json::object();  // Ollama option name -> value; stop: array
  std::vector<Message> messages;
  int64_t modified_ns = 0;
  uint64_t size = 0;  // the GGUF's bytes
  bool bundled = false;
  std::optional<std::string> imported_from;  // the GGUF's path for an in-place import
};

// The Modelfile that creates `rec` again (FROM its GGUF); what it does not
// have (template, system, license) stays unset.
Modelfile modelfile_of(const ModelRecord& rec);

// What `create` builds a model from (a Modelfile, or POST /api/create).
struct CreateSpec {
  // A blob digest "sha256:<hex>"; else, as Ollama reads FROM, the path of a
  // GGUF file when one is there (relative to base_dir), else a model name
  // ("alice/foo:q4" too).
  std::string from;
  std::string base_dir = ".";  // for a relative `from` path: the Modelfile's folder
  bool from_paths = true;      // false: `from` is never a path (a create over HTTP)
  // Unset: inherited from the base model. Set to "": removed.
  std::optional<std::string> template_text, system, license;
  std::optional<nlohmann::json> parameters;      // merged over the base model's
  std::optional<std::vector<Message>> messages;  // replace the base model's
  std::string quantize;  // "" or a type of quant::quantize_model ("q4_k_m", "q8_0", ...)

  static CreateSpec from_modelfile(const Modelfile& mf, std::string base_dir);
};

// Reads up to `cap` bytes into `buf`; returns 0 at the end. Throws on failure.
using ByteSource = std::function<size_t(char* buf, size_t cap)>;
// Progress of long operations ("copying", "quantizing", "verifying", ...).
using Progress = std::function<void(const std::string& status)>;

class Store {
 public:
  // `root` is the models folder itself (holding blobs/ and manifests/); it is
  // created on the first write.
  explicit Store(std::string root);
  // $HEARTH_HOME/models; $HEARTH_HOME defaults to $HOME/.hearth.
  static std::string default_root();

  const std::string& root() const { return root_; }

  // Every model in the store, then the bundled ones not shadowed by it, by name.
  // A manifest that cannot be read is skipped (it does not hide the others).
  std::vector<ModelEntry> list() const;

  // Throws InvalidName, ModelNotFound, or StoreError (a damaged manifest, a
  // missing blob, an imported file that changed since).
  ModelRecord resolve(std::string_view name) const;
  bool exists(std::string_view name) const;  // in the store or bundled

  // dst gets src's manifest (sharing its blobs); an existing dst is replaced.
  void copy(std::string_view src, std::string_view dst);
  // Removes the manifest, then the blobs no other manifest references. A
  // bundled model cannot be removed (ModelNotFound when not in the store).
  void remove(std::string_view name);
  // Removes every blob that no manifest references; returns how many. Do not
  // run it while another process may be creating a model (a blob written
  // before its manifest would go).
  size_t prune();

  bool has_blob(std::string_view digest) const;
  std::string blob_path(std::string_view digest) const;  // validated; the file may not exist
  // Stores the bytes of `source` as blob `digest` (POST /api/blobs/:digest).
  // The bytes are hashed while written to a temporary file, which becomes the
  // blob only when the hash matches (else DigestMismatch, nothing left behind).
  void write_blob(std::string_view digest, const ByteSource& source);
  void import_blob_from_file(const std::string& path, std::string_view expected_digest);
  // A blob of these bytes; returns its digest.
  std::string add_blob(std::string_view bytes);

  // Writes the model's blobs and then its manifest; an existing `name` is
  // replaced. Throws InvalidName, ModelNotFound (from), StoreError, and
  // std::invalid_argument for a bad template, parameter or quantization type
  // (all checked before anything is written). A failed create leaves no blob.
  void create(std::string_view name, const CreateSpec& spec, const Progress& progress = {});

  // Records the GGUF at `path` as model `name`: validated and hashed once,
  // then linked in place, or with `copy` copied into a verified blob.
  void import_gguf(std::string_view name, const std::string& path, bool copy,
                   const Progress& progress = {});

 private:
  struct Found;
  std::optional<Found> find_manifest(const ModelName& name) const;
  std::string read_blob_text(const Layer& layer, const std::string& model) const;
  std::vector<std::pair<std::string, Manifest>> all_manifests(bool strict) const;
  void write_manifest(const ModelName& name, const Manifest& m);
  // Called under the lock: writes the small blobs `m` references (their
  // bytes in `small`), checks that every other blob of `m` is there, writes
  // the manifest and removes the blobs of the one it replaces no manifest uses.
  void commit(const ModelName& name, const Manifest& m, const std::vector<std::string>& small);
  // Of `digests`, removes the blobs no manifest references (none when a
  // manifest cannot be read: it may use any); returns how many. Under the lock.
  size_t remove_unreferenced(const std::vector<std::string>& digests);
  // A blob a failed create or import wrote (`digest`, "" for none) goes again.
  void discard(const std::string& digest);
  // The end of a create or an import: the config layer of `m` (its GGUF at
  // gguf_path), then the commit under the lock; on failure `fresh` (a model
  // blob this create or import wrote, "" for none) is discarded.
  void commit_new(const ModelName& name, Manifest& m, const std::string& gguf_path,
                  std::vector<std::string>& small, const std::string& fresh);
  // These add the bytes of their small blob to `small` (for commit).
  Layer link_layer(const std::string& path, const std::string& digest, Progress progress,
                   std::vector<std::string>& small);
  Layer config_layer(const std::string& gguf_path, const Manifest& m,
                     std::vector<std::string>& small);
  // `fresh` gets the digest when the blob was not in the store before.
  Layer model_blob_from_file(const std::string& path, const Progress& progress, std::string& fresh);

  std::string root_;
};

}  // namespace hearth::store
