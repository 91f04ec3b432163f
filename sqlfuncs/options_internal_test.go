package sqlfuncs

import (
	"errors"
	"strings"
	"testing"

	"github.com/dolthub/vitess/go/mysql"

	"github.com/adapterdb/adapterdb/engine/train"
)

// errModelOption quotes the option as the statement wrote it (a list whole),
// and says so when the refused value is a default the statement did not set
// (a model too small for the default adapter_size).
func TestErrModelOption(t *testing.T) {
	oe := &train.OptionError{Key: "adapter_size", Value: "64", Err: errors.New("64 is out of range [1, 48]")}
	for _, c := range []struct {
		opts []Option
		want string
	}{
		{[]Option{{Key: "adapter_size", Value: "(8, 64)", Values: []string{"8", "64"}}}, "Option 'adapter_size' can't be set to the value of '(8, 64)': 64 is out of range [1, 48]"},
		{[]Option{{Key: "epochs", Value: "3"}}, "Option 'adapter_size' is not given and its default '64' does not fit: 64 is out of range [1, 48] (set adapter_size)"},
	} {
		var se *mysql.SQLError
		if err := errModelOption(oe, c.opts); !errors.As(err, &se) || se.Num != 1231 || !strings.Contains(se.Message, c.want) {
			t.Errorf("%v: %v, want 1231 %q", c.opts, err, c.want)
		}
	}
	// Other errors pass through.
	if err := errModelOption(errors.New("x"), nil); err == nil || err.Error() != "x" {
		t.Errorf("plain error: %v", err)
	}
}
