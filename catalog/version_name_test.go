package catalog

import "testing"

func TestSplitVersion(t *testing.T) {
	for _, c := range []struct {
		ref, name string
		version   int64
		ok        bool
	}{
		{"sent", "sent", 0, true},
		{"sent@2", "sent", 2, true},
		{"a.b-c@17", "a.b-c", 17, true},
		{"sent@", "", 0, false},
		{"sent@0", "", 0, false},
		{"sent@-1", "", 0, false},
		{"sent@+1", "", 0, false},
		{"sent@01", "", 0, false},
		{"sent@x", "", 0, false},
		{"sent@1@2", "", 0, false},
		{"sent@99999999999999999999", "", 0, false},
	} {
		name, v, err := SplitVersion(c.ref)
		if (err == nil) != c.ok || name != c.name || v != c.version {
			t.Errorf("SplitVersion(%q) = %q, %d, %v; want %q, %d, ok=%v", c.ref, name, v, err, c.name, c.version, c.ok)
		}
	}
}
