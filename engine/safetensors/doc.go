// Package safetensors reads and writes the safetensors tensor file format
// (https://github.com/huggingface/safetensors).
//
// A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON
//
//	{"__metadata__": {"key": "value", ...},
//	 "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//
// padded with spaces, and then the raw little-endian tensor data. Offsets are
// relative to the start of the data section, and the tensors tile it without
// gaps or overlaps.
//
// Open maps a file read-only and validates its header as strictly as the
// reference implementation does (plus: no duplicate JSON keys, no unknown
// tensor fields, no trailing bytes after the JSON). Float32 then returns F32
// tensors without copying: the slice aliases the mapping. Such slices are
// read-only (writing to them faults) and valid only until Close.
//
// OpenCheckpoint reads a Hugging Face checkpoint directory: model.safetensors,
// or the shards listed in model.safetensors.index.json. Pickle checkpoints
// (pytorch_model.bin and the like) are refused and never read.
//
// Write, Encode and WriteFile produce deterministic files: the same tensors
// and metadata always give the same bytes.
package safetensors
