package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dolthub/go-mysql-server/sql"
)

// Statements that name files (CREATE ADAPTER ... FROM 'file', EXPORT ADAPTER
// ... TO 'file') act on the server's file system, so they are confined to one
// directory, --files-dir (MySQL's secure_file_priv): relative paths are taken
// inside it, and a path that leaves it — by "..", an absolute path elsewhere
// or a symbolic link pointing out — is refused. Without a files directory these
// statements are refused altogether.

// maxAdapterFile bounds what CREATE ADAPTER ... FROM reads (adapters of the
// largest supported models are tens of megabytes).
const maxAdapterFile = 1 << 30

func errFilesDisabled() error {
	return sqlErr(codeOptionPrevents, stateGeneral,
		"adapterdb is running without a files directory (serve --files-dir, the driver's files_dir), so it cannot execute statements that read or write files")
}

func errOutside(path, dir string) error {
	return sqlErr(codeOptionPrevents, stateGeneral,
		"adapterdb is running with the files directory %s, so it cannot read or write '%s' (outside that directory)", dir, path)
}

// within reports whether path is root or below it (both cleaned, absolute).
func within(path, root string) bool {
	if path == root {
		return true
	}
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// confine resolves a statement's file name inside the files directory.
// For reading, the file must exist and resolve (links followed) inside it.
// For writing, it must not exist yet (MySQL's SELECT ... INTO OUTFILE rule,
// so nothing is overwritten) and its directory must resolve inside.
func (s *service) confine(name string, write bool) (string, error) {
	if s.filesDir == "" {
		return "", errFilesDisabled()
	}
	if name == "" || strings.ContainsRune(name, 0) {
		return "", errArguments("file name", "empty or invalid file name")
	}
	root, err := filepath.EvalSymlinks(s.filesDir)
	if err != nil {
		return "", sqlErr(codeFileNotFound, stateGeneral, "files directory %s: %v", s.filesDir, err)
	}
	if root, err = filepath.Abs(root); err != nil {
		return "", err
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	p = filepath.Clean(p)
	if !within(p, root) && !within(p, filepath.Clean(s.filesDir)) {
		return "", errOutside(name, s.filesDir)
	}
	if write {
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return "", sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be created: %v", name, unwrapPath(err))
		}
		if !within(dir, root) {
			return "", errOutside(name, s.filesDir)
		}
		full := filepath.Join(dir, filepath.Base(p))
		if _, err := os.Lstat(full); err == nil {
			return "", sqlErr(codeFileExists, stateGeneral, "File '%s' already exists", name)
		}
		return full, nil
	}
	full, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", sqlErr(codeFileNotFound, stateGeneral, "File '%s' not found", name)
		}
		return "", sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be read: %v", name, unwrapPath(err))
	}
	if !within(full, root) {
		return "", errOutside(name, s.filesDir)
	}
	return full, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openRead opens a confined file for reading. It stats the file first and
// refuses anything but a regular file (1210), so a FIFO or a device in the
// files directory cannot block the statement in open(2); the open itself is
// non-blocking for the same reason, and the opened file must be the one
// confine resolved (a name swapped for a link since then is refused).
func (s *service) openRead(what, path string) (*os.File, os.FileInfo, error) {
	st, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' not found", path)
		}
		return nil, nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be read: %v", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return nil, nil, errArguments(what, "'%s' is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be read: %v", path, unwrapPath(err))
	}
	fst, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fst.Mode().IsRegular() || !os.SameFile(st, fst) {
		f.Close()
		return nil, nil, errArguments(what, "'%s' changed while it was opened", path)
	}
	return f, fst, nil
}

// ctxReader reads until its context is cancelled (KILL QUERY, a closed
// connection): every Read checks it, and reads are bounded to readChunk so a
// large file is read in many such steps.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

const readChunk = 1 << 20

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	return c.r.Read(p)
}

// readAll reads a confined file whole, cancellably, refusing more than limit
// bytes (errTooBig).
func (s *service) readAll(ctx context.Context, what, path string, limit int64) ([]byte, error) {
	f, st, err := s.openRead(what, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, errTooBig
	}
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, f}, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be read: %v", path, err)
	}
	if int64(len(data)) > limit {
		return nil, errTooBig
	}
	return data, nil
}

var errTooBig = errors.New("file too large")

// readFile reads a confined adapter file (CREATE ADAPTER ... FROM), bounded in
// size.
func (s *service) readFile(ctx context.Context, path string) ([]byte, error) {
	data, err := s.readAll(ctx, "CREATE ADAPTER", path, maxAdapterFile)
	if errors.Is(err, errTooBig) {
		return nil, errArguments("CREATE ADAPTER", "'%s' is larger than %d bytes", path, maxAdapterFile)
	}
	return data, err
}

// writeFile creates a confined file that must not exist, writing it in full
// before it appears under its name.
func (s *service) writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be created: %v", path, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// A hard link fails if the name exists (it may have appeared since the
	// statement was planned), so an existing file is never replaced.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return sqlErr(codeFileExists, stateGeneral, "File '%s' already exists", path)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fileVariables sets go-mysql-server's process-wide file variables to the
// same values for every engine, so engines in one process do not overwrite
// each other's confinement. Confinement is per engine and in adapterdb's code
// (files_exec.go: LOAD DATA, SELECT ... INTO OUTFILE/DUMPFILE, LOAD_FILE all
// go through confine); go-mysql-server's own checks never see a real
// directory: secure_file_priv names one that cannot exist (an empty value
// would allow every path), so any file access of go-mysql-server's that
// adapterdb did not take over is refused. local_infile enables LOAD DATA
// LOCAL INFILE, which reads the client's file.
func fileVariables() error {
	return sql.SystemVariables.AssignValues(map[string]any{"secure_file_priv": securePrivPlaceholder, "local_infile": int8(1)})
}

// securePrivPlaceholder is @@secure_file_priv: a path below /dev/null, which
// is not a directory, so nothing can ever be inside it.
var securePrivPlaceholder = filepath.Join(os.DevNull, "adapterdb-files-dir-is-per-engine")
