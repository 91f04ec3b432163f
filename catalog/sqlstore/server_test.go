package sqlstore

import (
	"bufio"
	gosql "database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	_ "github.com/go-sql-driver/mysql"

	"github.com/adapterdb/adapterdb/catalog"
)

// A small MySQL-wire server on the provider, for the tests that need a real
// client or a real process to kill. (The product's server lives in the
// server package; this one only wires GMS's server to the provider.)

type testServer struct {
	srv  *server.Server
	cat  *catalog.Catalog
	pro  *Provider
	addr string
}

func startServer(t testing.TB, path string, opts ProviderOptions) *testServer {
	t.Helper()
	cat, pro := openProvider(t, path, opts)
	eng := newEngine(pro)
	// LOAD DATA LOCAL INFILE is off unless the server enables it.
	if err := sql.SystemVariables.SetGlobal(sql.NewEmptyContext(), "local_infile", int8(1)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(server.Config{Protocol: "tcp", Listener: ln}, eng, sql.NewContext, pro.SessionBuilder(), nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	return &testServer{srv: srv, cat: cat, pro: pro, addr: ln.Addr().String()}
}

func (s *testServer) stop() {
	s.srv.Close()
	s.pro.Close()
	s.cat.Close()
}

func dial(t testing.TB, addr, params string) *gosql.DB {
	t.Helper()
	db, err := gosql.Open("mysql", "root@tcp("+addr+")/main?"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestHelperServer is the server process of the crash test: with
// ADAPTERDB_TEST_SERVER=<file> the test binary serves that file and prints
// its address; it stops when stdin closes (or is killed).
func TestHelperServer(t *testing.T) {
	path := os.Getenv("ADAPTERDB_TEST_SERVER")
	if path == "" {
		t.Skip("helper process for the crash and restart tests")
	}
	s := startServer(t, path, ProviderOptions{})
	fmt.Printf("listening %s\n", s.addr)
	io.Copy(io.Discard, os.Stdin)
	s.stop()
}

// serverProcess runs TestHelperServer in a child process.
type serverProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func spawnServer(t *testing.T, path string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServer$", "-test.v")
	cmd.Env = append(os.Environ(), "ADAPTERDB_TEST_SERVER="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			p.addr = addr
			go io.Copy(io.Discard, out)
			return p
		}
	}
	t.Fatalf("server process did not start: %v", sc.Err())
	return nil
}

// stop ends the server cleanly.
func (p *serverProcess) stop(t *testing.T) {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

// kill ends the server with SIGKILL.
func (p *serverProcess) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}
