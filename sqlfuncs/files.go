package sqlfuncs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
		"The adapterdb server is running without --files-dir, so it cannot execute statements that read or write files")
}

func errOutside(path, dir string) error {
	return sqlErr(codeOptionPrevents, stateGeneral,
		"The adapterdb server is running with --files-dir=%s, so it cannot read or write '%s' (outside that directory)", dir, path)
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

// readFile reads a confined file, bounded in size.
func (s *service) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be read: %v", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errArguments("CREATE ADAPTER", "'%s' is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAdapterFile+1))
	if err != nil {
		return nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be read: %v", path, err)
	}
	if len(data) > maxAdapterFile {
		return nil, errArguments("CREATE ADAPTER", "'%s' is larger than %d bytes", path, maxAdapterFile)
	}
	return data, nil
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

// fileVariables confines go-mysql-server's own file statements (LOAD DATA
// INFILE, SELECT ... INTO OUTFILE) like ours: secure_file_priv is the files
// directory, or a directory that cannot exist when there is none (an empty
// secure_file_priv would allow every path). LOAD DATA LOCAL INFILE, which reads
// the client's file, is enabled. These are process-wide variables of
// go-mysql-server: the last engine made in a process sets them.
func fileVariables(filesDir string) error {
	priv := filepath.Join(os.DevNull, "no-files-dir")
	if filesDir != "" {
		abs, err := filepath.Abs(filesDir)
		if err != nil {
			return err
		}
		if abs, err = filepath.EvalSymlinks(abs); err != nil {
			return err
		}
		// go-mysql-server compares path prefixes: the trailing separator
		// keeps a sibling such as DIR-old out.
		priv = abs + string(filepath.Separator)
	}
	return sql.SystemVariables.AssignValues(map[string]any{"secure_file_priv": priv, "local_infile": int8(1)})
}
