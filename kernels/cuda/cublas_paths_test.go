package cuda

import (
	"slices"
	"testing"
)

// TestCublasPathsOrder: CUDA 13's cuBLAS is tried first (issue 14: on the
// H200 only CUDA 13's library existed), then 12, 11 and the bare name.
func TestCublasPathsOrder(t *testing.T) {
	want := []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}
	if !slices.Equal(cublasPaths, want) {
		t.Fatalf("cublasPaths = %q, want %q", cublasPaths, want)
	}
}

func TestCublasLtPaths(t *testing.T) {
	std := []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"}
	for in, want := range map[string][]string{
		"libcublas.so.12": {"libcublasLt.so.12", "libcublasLt.so.13", "libcublasLt.so.11", "libcublasLt.so"},
		"libcublas.so.13": std,
		"libcublas.so":    {"libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11"},
		"/opt/torch/nvidia/cublas/lib/libcublas.so.12": append([]string{"/opt/torch/nvidia/cublas/lib/libcublasLt.so.12"},
			std...),
		"/x/libmycublas.so": std, // not a cuBLAS name: the usual names only
	} {
		if got := cublasLtPaths(in); !slices.Equal(got, want) {
			t.Errorf("cublasLtPaths(%q) = %q, want %q", in, got, want)
		}
	}
}
