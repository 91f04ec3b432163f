package safetensors

import (
	"path/filepath"
	"testing"
)

// BenchmarkOpenCheckpoint opens gpt2-tiny (6.5 MB, 29 tensors) and reads
// every tensor as float32: with F32 aliasing the mapping, this is header
// parsing and validation, not copying.
func BenchmarkOpenCheckpoint(b *testing.B) {
	dir := filepath.Join(testdata, "models/gpt2-tiny")
	for b.Loop() {
		c, err := OpenCheckpoint(dir)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range c.Names() {
			if _, _, err := c.Float32(name); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
	}
}

// BenchmarkFloat32F16 converts a 1M-element F16 tensor.
func BenchmarkFloat32F16(b *testing.B) {
	v := make([]float32, 1<<20)
	for i := range v {
		v[i] = float32(i%4096)/64 - 32
	}
	f, err := Parse(mustEncode(b, []Tensor{Float16Tensor("x", []int{len(v)}, v)}, nil))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 << 20)
	for b.Loop() {
		if _, err := f.Float32("x"); err != nil {
			b.Fatal(err)
		}
	}
}
