package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// hostOnly hides the cpu backend's AdamW, so newOptimizer picks the host one.
type hostOnly struct{ kernels.Trainer }

// A gradient that is not finite, without loss scaling, stops training with
// an error that says it diverged, on both optimizer paths and whether the
// bad value is in an adapter tensor or in the head; the weights stay as
// they were. (Under loss scaling an overflow skips the step instead; the
// cuda tests cover that.)
func TestNonFiniteGradient(t *testing.T) {
	be := testmodels.CPU(t)
	m := testmodels.Load(t, "bert-tiny", be)
	spec := adapter.Spec{Task: adapter.Classification, Labels: []string{"a", "b"}, Size: 8, Act: kernels.ActGELU,
		Pool: m.Cfg.DefaultPool(m.W.Pooler != nil)}
	for _, path := range []string{"backend", "host"} {
		for _, where := range []string{"adapter", "head"} {
			t.Run(path+"/"+where, func(t *testing.T) {
				set, err := adapter.New(m, spec, 1)
				if err != nil {
					t.Fatal(err)
				}
				r := &run{set: set, grad: set.ZeroLike()}
				r.bound, r.gradB = set.Bind(m.Be), r.grad.Bind(m.Be)
				var tb kernels.Backend = be
				if path == "host" {
					tb = hostOnly{be.(kernels.Trainer)}
				}
				o, err := newOptimizer(tb, r, DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				defer o.free()
				if _, ok := o.(*deviceOpt); ok != (path == "backend") {
					t.Fatalf("optimizer %T on the %s path", o, path)
				}
				before := slices.Clone(set.Params())
				for i := range before {
					before[i].Data = slices.Clone(before[i].Data)
				}
				for _, p := range r.grad.Params() {
					for j := range p.Data {
						p.Data[j] = 0.01
					}
				}
				if where == "head" {
					r.grad.HeadW[1] = float32(math.Inf(1))
				} else {
					r.grad.Layers[0].Attn.Down[3] = float32(math.NaN())
				}
				stepped, err := o.step(1e-3, 1)
				if stepped || err == nil || !strings.Contains(err.Error(), "diverged") {
					t.Fatalf("step: stepped %v, err %v; want a diverged error", stepped, err)
				}
				for i, p := range set.Params() {
					if !slices.Equal(p.Data, before[i].Data) {
						t.Fatalf("%s changed by a refused step", p.Name)
					}
				}
			})
		}
	}
}
