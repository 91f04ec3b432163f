// Package registry is the deployment API: one featurizer loaded once, and
// adapters created, loaded, swapped and dropped by name from the catalog.
// Decoded adapters sit in an LRU cache bounded in bytes; swapping between
// cached adapters is a pointer change (no featurizer reload, no copying).
//
// A Registry is safe for concurrent use by many goroutines.
package registry

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/train"
)

// Registry binds a featurizer to a catalog.
type Registry struct {
	eng *engine.Engine
	cat *catalog.Catalog
	log zerolog.Logger

	mu       sync.Mutex
	entries  map[string]*list.Element // versionKey → *Loaded
	active   map[string]int64         // lower-cased name → the version Get last resolved it to
	lru      *list.List               // front = most recently used
	bytes    int64
	maxBytes int64
}

// Loaded is a decoded adapter bound to the featurizer's backend.
type Loaded struct {
	Record catalog.Record
	Set    *adapter.Set
	Bound  *model.Adapter
	// MaxLength is the token limit the adapter was trained with.
	MaxLength int
}

// DefaultCacheBytes bounds the decoded-adapter cache (BERT-base adapters at
// size 64 are ~10 MB: a few dozen fit).
const DefaultCacheBytes = 512 << 20

// New makes a registry; cacheBytes ≤ 0 selects DefaultCacheBytes.
func New(eng *engine.Engine, cat *catalog.Catalog, log zerolog.Logger, cacheBytes int64) *Registry {
	if cacheBytes <= 0 {
		cacheBytes = DefaultCacheBytes
	}
	return &Registry{eng: eng, cat: cat, log: log, entries: map[string]*list.Element{}, active: map[string]int64{}, lru: list.New(), maxBytes: cacheBytes}
}

// Engine is the featurizer.
func (r *Registry) Engine() *engine.Engine { return r.eng }

// Catalog is the database file.
func (r *Registry) Catalog() *catalog.Catalog { return r.cat }

// ErrWrongBase reports an adapter trained on another base model.
var ErrWrongBase = errors.New("adapter was trained on another base model")

func key(name string) string { return lower(name) }

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// versionKey is the cache's key for one version of an adapter.
func versionKey(name string, version int64) string {
	return lower(name) + "@" + strconv.FormatInt(version, 10)
}

// Cached returns a cached adapter without touching the catalog: the
// microsecond swap. ref is a name (the version Get last resolved the name
// to) or name@N. ok is false when it is not cached.
func (r *Registry) Cached(ref string) (*Loaded, bool) {
	name, version, err := catalog.SplitVersion(ref)
	if err != nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if version == 0 {
		if version = r.active[lower(name)]; version == 0 {
			return nil, false
		}
	}
	el, ok := r.entries[versionKey(name, version)]
	if !ok {
		return nil, false
	}
	r.lru.MoveToFront(el)
	return el.Value.(*Loaded), true
}

// Get returns an adapter by reference — its name (the active version) or
// name@N (version N) — from the cache when the catalog still holds the same
// write of that version (one indexed lookup), else decoded from the catalog
// and checked against the featurizer's fingerprint. Versions are cached
// apart, so pinned and active versions of one adapter serve side by side.
func (r *Registry) Get(ctx context.Context, ref string) (*Loaded, error) {
	rec, err := r.cat.Info(ctx, ref)
	if err != nil {
		if name, version, perr := catalog.SplitVersion(ref); perr == nil && errors.Is(err, catalog.ErrNotFound) {
			r.evictVersion(name, version)
		}
		return nil, err
	}
	pinned := versionKey(rec.Name, rec.Version)
	if _, version, _ := catalog.SplitVersion(ref); version == 0 {
		r.mu.Lock()
		r.active[lower(rec.Name)] = rec.Version
		r.mu.Unlock()
	}
	if l, ok := r.Cached(pinned); ok && l.Record.Stamp == rec.Stamp {
		return l, nil
	}
	// The version Info resolved, even if the active one changes meanwhile.
	return r.load(ctx, pinned)
}

func (r *Registry) load(ctx context.Context, ref string) (*Loaded, error) {
	rec, blob, err := r.cat.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := r.checkBase(rec.Name, rec.BaseModel, rec.BaseFingerprint); err != nil {
		return nil, err
	}
	decode := adapter.Decode
	if rec.Checked {
		decode = adapter.DecodeTrusted // the catalog checked the bytes it stored
	}
	set, _, err := decode(blob)
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", rec.Name, err)
	}
	m := r.eng.Model()
	if err := set.Align(m); err != nil {
		return nil, fmt.Errorf("adapter %s: %w", rec.Name, err)
	}
	l := &Loaded{Record: rec, Set: set, Bound: set.Bind(m.Be), MaxLength: r.eng.MaxLength()}
	if v, err := strconv.Atoi(rec.Options["max_length"]); err == nil && v > 0 {
		l.MaxLength = v
	}
	r.put(l)
	return l, nil
}

func (r *Registry) checkBase(name, base, fp string) error {
	if fp != r.eng.Fingerprint() {
		return fmt.Errorf("%w: %s was trained on %s (fingerprint %.16s), this featurizer is %s (fingerprint %.16s)",
			ErrWrongBase, name, base, fp, r.eng.Name(), r.eng.Fingerprint())
	}
	return nil
}

func (r *Registry) put(l *Loaded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := versionKey(l.Record.Name, l.Record.Version)
	if el, ok := r.entries[k]; ok {
		r.remove(el)
	}
	r.entries[k] = r.lru.PushFront(l)
	r.bytes += l.Set.Bytes()
	for r.bytes > r.maxBytes && r.lru.Len() > 1 {
		r.remove(r.lru.Back())
	}
}

// remove drops a cache entry; r.mu is held. Bound memory is released by the
// garbage collector (cpu) once no running pass uses it.
func (r *Registry) remove(el *list.Element) {
	l := el.Value.(*Loaded)
	r.lru.Remove(el)
	delete(r.entries, versionKey(l.Record.Name, l.Record.Version))
	r.bytes -= l.Set.Bytes()
}

// evict drops every cached version of an adapter.
func (r *Registry) evict(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := lower(name) + "@"
	for k, el := range r.entries {
		if strings.HasPrefix(k, prefix) {
			r.remove(el)
		}
	}
	delete(r.active, lower(name))
}

// evictVersion drops one cached version (0: every version).
func (r *Registry) evictVersion(name string, version int64) {
	if version == 0 {
		r.evict(name)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.entries[versionKey(name, version)]; ok {
		r.remove(el)
	}
}

// CacheStats reports the cache's size.
func (r *Registry) CacheStats() (entries int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len(), r.bytes
}

// List returns the catalog's adapters.
func (r *Registry) List(ctx context.Context) ([]catalog.Record, error) { return r.cat.List(ctx) }

// Drop deletes an adapter from the catalog and the cache.
func (r *Registry) Drop(ctx context.Context, name string, ifExists bool) (bool, error) {
	ok, err := r.cat.Drop(ctx, name, ifExists)
	r.evict(name)
	return ok, err
}

// TrainRequest describes a new adapter to fit and store.
type TrainRequest struct {
	Name     string
	Examples []train.Example
	Kind     train.TargetKind
	Options  train.Options
	Mode     catalog.PutMode
	Progress func(train.Progress)
}

// Train fits an adapter and stores it under its name. With Mode Create an
// existing name fails before any training; with IfNotExists an existing name
// returns created=false without training. Cancelling ctx stops training and
// stores nothing.
func (r *Registry) Train(ctx context.Context, req TrainRequest) (rec catalog.Record, created bool, err error) {
	if err := catalog.CheckName(req.Name); err != nil {
		return catalog.Record{}, false, err
	}
	if req.Mode != catalog.Replace {
		if old, err := r.cat.Info(ctx, req.Name); err == nil {
			if req.Mode == catalog.IfNotExists {
				return old, false, nil
			}
			return catalog.Record{}, false, fmt.Errorf("%w: %s", catalog.ErrExists, req.Name)
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return catalog.Record{}, false, err
		}
	}
	res, err := r.fit(ctx, req) // search.go
	if err != nil {
		return catalog.Record{}, false, err
	}
	if res.trials != nil {
		ctx = catalog.WithTrials(ctx, res.trials)
	}
	meta := adapter.Meta{Name: req.Name, BaseModel: r.eng.Name(), BaseFingerprint: r.eng.Fingerprint(),
		ModelType: string(r.eng.Model().Cfg.Type), Options: res.opts.Map(), Metrics: res.metrics, Created: time.Now().UTC()}
	rec, created, err = r.store(ctx, res.set, meta, req.Mode)
	return rec, created, err
}

// store encodes and writes a set, then refreshes the cache.
func (r *Registry) store(ctx context.Context, set *adapter.Set, meta adapter.Meta, mode catalog.PutMode) (catalog.Record, bool, error) {
	blob, err := adapter.Encode(set, meta)
	if err != nil {
		return catalog.Record{}, false, err
	}
	sum := sha256.Sum256(blob)
	rec := catalog.Record{Name: meta.Name, Task: string(set.Task), Inputs: string(set.Inputs), Labels: set.Labels, BaseModel: meta.BaseModel,
		BaseFingerprint: meta.BaseFingerprint, ModelType: meta.ModelType, HiddenSize: set.Hidden,
		NumLayers: len(set.Layers), AdapterSize: set.Size, Activation: set.Act.String(), Pool: set.Pool.String(),
		Options: meta.Options, Metrics: meta.Metrics, Params: int64(set.NumParams()), SHA256: hex.EncodeToString(sum[:]),
		CreatedAt: meta.Created}
	if rec.Options == nil {
		rec.Options = map[string]string{}
	}
	created, err := r.cat.Put(ctx, rec, blob, mode)
	r.evict(meta.Name)
	if err != nil || !created {
		if !created && err == nil {
			rec, err = r.cat.Info(ctx, meta.Name)
		}
		return rec, false, err
	}
	rec, err = r.cat.Info(ctx, meta.Name)
	return rec, true, err
}

// Import stores an adapter file (safetensors with adapterdb metadata) under a
// name. The file must come from this featurizer's base model.
func (r *Registry) Import(ctx context.Context, name string, data []byte, mode catalog.PutMode) (catalog.Record, bool, error) {
	if err := catalog.CheckName(name); err != nil {
		return catalog.Record{}, false, err
	}
	set, meta, err := adapter.Decode(data)
	if err != nil {
		return catalog.Record{}, false, err
	}
	if meta.BaseFingerprint == "" {
		return catalog.Record{}, false, fmt.Errorf("%w: the file names no base model fingerprint", ErrWrongBase)
	}
	if err := r.checkBase(name, meta.BaseModel, meta.BaseFingerprint); err != nil {
		return catalog.Record{}, false, err
	}
	if err := set.Align(r.eng.Model()); err != nil {
		return catalog.Record{}, false, err
	}
	meta.Name = name
	if meta.Created.IsZero() {
		meta.Created = time.Now().UTC()
	}
	return r.store(ctx, set, meta, mode)
}

// Export returns an adapter as a standalone safetensors file.
func (r *Registry) Export(ctx context.Context, name string) ([]byte, catalog.Record, error) {
	rec, blob, err := r.cat.Get(ctx, name)
	if err != nil {
		return nil, catalog.Record{}, err
	}
	sum := sha256.Sum256(blob)
	if hex.EncodeToString(sum[:]) != rec.SHA256 {
		return nil, rec, fmt.Errorf("adapter %s: stored weights do not match their checksum (database damaged?)", name)
	}
	return blob, rec, nil
}
