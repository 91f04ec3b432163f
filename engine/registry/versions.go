package registry

import (
	"context"

	"github.com/adapterdb/adapterdb/catalog"
)

// Versions returns an adapter's versions (name "": every adapter's), each
// with Active set on the one its name means (catalog.Versions).
func (r *Registry) Versions(ctx context.Context, name string) ([]catalog.Record, error) {
	return r.cat.Versions(ctx, name)
}

// SetActive makes version the one the adapter's name means. Cached versions
// stay: each is keyed by its number and write, and the next Get of the name
// resolves it anew.
func (r *Registry) SetActive(ctx context.Context, name string, version int64) error {
	err := r.cat.SetActive(ctx, name, version)
	r.mu.Lock()
	delete(r.active, lower(name))
	r.mu.Unlock()
	return err
}

// DropVersion deletes one version (not the active one) from the catalog and
// the cache.
func (r *Registry) DropVersion(ctx context.Context, name string, version int64) error {
	err := r.cat.DropVersion(ctx, name, version)
	r.evictVersion(name, version)
	return err
}
