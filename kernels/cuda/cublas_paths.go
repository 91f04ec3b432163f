package cuda

import (
	"path/filepath"
	"strings"
)

// cublasPaths are tried in order when Options.CublasLibrary is empty: CUDA
// 13's cuBLAS first (the H200 of issue 14 had only libcublas.so, from CUDA
// 13), then 12 and 11, then the unversioned development link.
var cublasPaths = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}

// cublasLtPaths are the cuBLASLt libraries tried beside the cuBLAS library
// at cublasPath: the one of the same name and version first (libcublas.so.12
// loads libcublasLt.so.12, so that one is already mapped), then the usual
// names in cublasPaths' order.
func cublasLtPaths(cublasPath string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	dir, base := filepath.Split(cublasPath)
	if rest, ok := strings.CutPrefix(base, "libcublas.so"); ok {
		add(dir + "libcublasLt.so" + rest)
	}
	for _, p := range cublasPaths {
		add(strings.Replace(p, "libcublas.", "libcublasLt.", 1))
	}
	return out
}
