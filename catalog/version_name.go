package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// SplitVersion reads an adapter reference: "name" (the active version) or
// "name@N" (version N, N ≥ 1). Names cannot contain '@', so the first '@'
// ends the name. version is 0 when none is pinned. Every statement, function
// and command that takes an adapter reference parses it here.
func SplitVersion(ref string) (name string, version int64, err error) {
	name, v, pinned := strings.Cut(ref, "@")
	if !pinned {
		return name, 0, nil
	}
	n, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil || n < 1 || v != strconv.FormatInt(n, 10) {
		return "", 0, fmt.Errorf("invalid adapter version in %q: want name@N with N a version number (1, 2, ...)", ref)
	}
	return name, n, nil
}
