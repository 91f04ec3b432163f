package model_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// TestPooledBackward checks ∂L/∂Hidden of the pools that route gradient
// without weights against their definition: first/last put each sequence's
// pooled gradient on its first/last real token, mean spreads it as 1/n over
// the real tokens; every other row is zero. The batch has left and right
// padding and a hole, so the real span is not [0, n). (The CLS pooler's
// backward is checked against the PyTorch gradient goldens; here it only runs.)
// With resident set (a GPU backend's count of uploads held on the device),
// a second round of every pool must leave as many as the first: Backward
// frees what it uploads.
func TestPooledBackward(t *testing.T) { checkPooledBackward(t, testmodels.CPU(t), nil) }

func checkPooledBackward(t *testing.T, be kernels.Backend, resident func() int) {
	m := testmodels.Load(t, "bert-tiny", be)
	H, B, T := m.Cfg.Hidden, 3, 6
	mask := []uint8{
		1, 1, 1, 1, 0, 0, // right padding
		0, 0, 1, 1, 1, 1, // left padding
		1, 0, 1, 1, 1, 0, // a hole
	}
	b := &model.Batch{Seqs: B, Len: T, IDs: make([]int32, B*T), PosIDs: make([]int32, B*T), Mask: mask}
	for i := range b.IDs {
		b.IDs[i] = int32(100 + i)
		b.PosIDs[i] = int32(i % T)
	}
	r := rand.New(rand.NewPCG(7, 7))
	dPooled := make([]float32, B*H)
	for i := range dPooled {
		dPooled[i] = float32(r.NormFloat64())
	}
	pools := []model.Pool{model.PoolCLS, model.PoolFirst, model.PoolLast, model.PoolMean}
	held := -1
	for i, pool := range append(pools, pools...) {
		if i == len(pools) && resident != nil {
			held = resident()
		}
		pass, err := m.Forward(context.Background(), b, true)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := pass.Pool(pool)
		if err != nil {
			t.Fatal(err)
		}
		dh, err := pd.Backward(pass, dPooled)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, B*T*H)
		be.Download(got, dh)
		if pool == model.PoolCLS {
			pass.Release()
			continue
		}
		want := make([]float32, B*T*H)
		for s := 0; s < B; s++ {
			var real []int
			for t := 0; t < T; t++ {
				if mask[s*T+t] != 0 {
					real = append(real, t)
				}
			}
			w := map[int]float32{}
			switch pool {
			case model.PoolFirst:
				w[real[0]] = 1
			case model.PoolLast:
				w[real[len(real)-1]] = 1
			default:
				for _, t := range real {
					w[t] = 1 / float32(len(real))
				}
			}
			for t, wt := range w {
				for j := 0; j < H; j++ {
					want[(s*T+t)*H+j] = wt * dPooled[s*H+j]
				}
			}
		}
		if d := testmodels.MaxAbsDiff(got, want); d != 0 {
			t.Errorf("%v: ∂L/∂Hidden differs from its definition by %g", pool, d)
		}
		if _, err := pd.Backward(pass, dPooled[:H]); err == nil {
			t.Errorf("%v: a pooled gradient of the wrong size was accepted", pool)
		}
		pass.Release()
	}
	if resident != nil {
		if now := resident(); now != held {
			t.Errorf("uploads held on the device: %d after one round of the pools, %d after two", held, now)
		}
	}
}
