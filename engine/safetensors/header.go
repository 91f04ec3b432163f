package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// maxHeaderSize is the reference implementation's limit on the JSON header.
const maxHeaderSize = 100_000_000

// metadataKey is the header key that holds the free-form string metadata.
const metadataKey = "__metadata__"

// headerTensor is one tensor entry as written in the header, not yet checked
// against the data section.
type headerTensor struct {
	name    string
	dtype   DType
	shape   []uint64
	offsets []uint64
}

// headerParser walks the JSON header token by token, so that duplicate keys,
// unknown fields and wrong value types are caught (encoding/json's Unmarshal
// would silently keep the last duplicate and match keys case-insensitively).
type headerParser struct {
	path string
	dec  *json.Decoder
}

func (p *headerParser) errf(tensor, format string, args ...any) error {
	return &FormatError{File: p.path, Tensor: tensor, Msg: fmt.Sprintf(format, args...)}
}

// parseHeader returns the metadata (nil when absent) and the tensor entries
// in header order. The caller has checked that header is valid UTF-8.
func parseHeader(path string, header []byte) (map[string]string, []headerTensor, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	p := &headerParser{path: path, dec: dec}
	if err := p.delim('{', "", "the header"); err != nil {
		return nil, nil, err
	}
	var (
		meta    map[string]string
		tensors []headerTensor
		seen    = map[string]bool{}
	)
	for dec.More() {
		key, err := p.key("", "the header")
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			if key == metadataKey {
				return nil, nil, p.errf("", "%s appears twice in the header", metadataKey)
			}
			return nil, nil, p.errf(key, "appears twice in the header")
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		t, err := p.tensor(key)
		if err != nil {
			return nil, nil, err
		}
		tensors = append(tensors, t)
	}
	if err := p.delim('}', "", "the header"); err != nil {
		return nil, nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, p.errf("", "header has bytes after its JSON object that are not JSON: %v", err)
		}
		return nil, nil, p.errf("", "header has %s after its JSON object", describe(tok))
	}
	return meta, tensors, nil
}

// token reads the next token; a syntax error or early end is reported as
// invalid JSON inside what.
func (p *headerParser) token(tensor, what string) (json.Token, error) {
	tok, err := p.dec.Token()
	if err == io.EOF {
		return nil, p.errf(tensor, "header JSON ends inside %s", what)
	}
	if err != nil {
		return nil, p.errf(tensor, "header is not valid JSON (in %s): %v", what, err)
	}
	return tok, nil
}

func (p *headerParser) delim(d json.Delim, tensor, what string) error {
	tok, err := p.token(tensor, what)
	if err != nil {
		return err
	}
	if tok != d {
		return p.errf(tensor, "%s must be a JSON %s, got %s", what, kindOf(d), describe(tok))
	}
	return nil
}

func (p *headerParser) key(tensor, what string) (string, error) {
	tok, err := p.token(tensor, what)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok { // the decoder only yields strings in key position; be safe anyway
		return "", p.errf(tensor, "header is not valid JSON: %s as a key in %s", describe(tok), what)
	}
	return s, nil
}

// metadata reads __metadata__: an object of strings, or null.
func (p *headerParser) metadata() (map[string]string, error) {
	const what = metadataKey
	tok, err := p.token("", what)
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, p.errf("", "%s must be an object of strings, got %s", metadataKey, describe(tok))
	}
	meta := map[string]string{}
	for p.dec.More() {
		k, err := p.key("", what)
		if err != nil {
			return nil, err
		}
		if _, dup := meta[k]; dup {
			return nil, p.errf("", "%s key %q appears twice", metadataKey, k)
		}
		v, err := p.token("", what)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, p.errf("", "%s value of %q must be a string, got %s", metadataKey, k, describe(v))
		}
		meta[k] = s
	}
	if err := p.delim('}', "", what); err != nil {
		return nil, err
	}
	return meta, nil
}

// tensor reads {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
func (p *headerParser) tensor(name string) (headerTensor, error) {
	const what = "the tensor entry"
	t := headerTensor{name: name}
	tok, err := p.token(name, what)
	if err != nil {
		return t, err
	}
	if tok != json.Delim('{') {
		return t, p.errf(name, "entry must be an object with dtype, shape and data_offsets, got %s", describe(tok))
	}
	var haveDType, haveShape, haveOffsets bool
	for p.dec.More() {
		k, err := p.key(name, what)
		if err != nil {
			return t, err
		}
		switch k {
		case "dtype":
			if haveDType {
				return t, p.errf(name, "field dtype appears twice")
			}
			haveDType = true
			v, err := p.token(name, what)
			if err != nil {
				return t, err
			}
			s, ok := v.(string)
			if !ok {
				return t, p.errf(name, "dtype must be a string, got %s", describe(v))
			}
			t.dtype = DType(s)
			if !t.dtype.Valid() {
				return t, p.errf(name, "unknown dtype %q", s)
			}
		case "shape":
			if haveShape {
				return t, p.errf(name, "field shape appears twice")
			}
			haveShape = true
			if t.shape, err = p.uints(name, "shape"); err != nil {
				return t, err
			}
		case "data_offsets":
			if haveOffsets {
				return t, p.errf(name, "field data_offsets appears twice")
			}
			haveOffsets = true
			if t.offsets, err = p.uints(name, "data_offsets"); err != nil {
				return t, err
			}
			if len(t.offsets) != 2 {
				return t, p.errf(name, "data_offsets must be [begin, end], got %d numbers", len(t.offsets))
			}
		default:
			return t, p.errf(name, "unknown field %q (want dtype, shape, data_offsets)", k)
		}
	}
	if err := p.delim('}', name, what); err != nil {
		return t, err
	}
	switch {
	case !haveDType:
		return t, p.errf(name, "missing dtype")
	case !haveShape:
		return t, p.errf(name, "missing shape")
	case !haveOffsets:
		return t, p.errf(name, "missing data_offsets")
	}
	return t, nil
}

// uints reads an array of non-negative integers that fit in 64 bits.
func (p *headerParser) uints(tensor, field string) ([]uint64, error) {
	tok, err := p.token(tensor, field)
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, p.errf(tensor, "%s must be an array of non-negative integers, got %s", field, describe(tok))
	}
	out := []uint64{}
	for p.dec.More() {
		v, err := p.token(tensor, field)
		if err != nil {
			return nil, err
		}
		num, ok := v.(json.Number)
		if !ok {
			return nil, p.errf(tensor, "%s must hold non-negative integers, got %s", field, describe(v))
		}
		u, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return nil, p.errf(tensor, "%s must hold non-negative integers below 2^64, got %s", field, num)
		}
		out = append(out, u)
	}
	if err := p.delim(']', tensor, field); err != nil {
		return nil, err
	}
	return out, nil
}

func kindOf(d json.Delim) string {
	switch d {
	case '{', '}':
		return "object"
	}
	return "array"
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return fmt.Sprintf("%t", v)
	}
	return fmt.Sprintf("%v", tok)
}
