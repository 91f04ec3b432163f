package safetensors

import (
	"errors"
	"fmt"
)

var (
	// ErrFormat matches (errors.Is) every error about a malformed file.
	ErrFormat = errors.New("invalid safetensors file")
	// ErrNotFound matches lookups of a tensor that is not there.
	ErrNotFound = errors.New("tensor not found")
	// ErrNeedsConversion matches OpenCheckpoint's error for a directory that
	// holds only pickle (or other non-safetensors) weights.
	ErrNeedsConversion = errors.New("checkpoint must be converted to safetensors")
	// ErrClosed matches reads from a File or Checkpoint after Close.
	ErrClosed = errors.New("safetensors file closed")
)

// FormatError describes what is wrong with a file, and where.
type FormatError struct {
	File   string // path, or "" for Parse on bytes
	Tensor string // tensor name, or "" when the problem is not one tensor's
	Msg    string
}

func (e *FormatError) Error() string {
	where := "safetensors"
	if e.File != "" {
		where = "safetensors file " + e.File
	}
	if e.Tensor != "" {
		return fmt.Sprintf("%s: tensor %q: %s", where, e.Tensor, e.Msg)
	}
	return where + ": " + e.Msg
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }
