// Command adapterdb is the adapterdb command line: the MySQL-wire server, and
// tools to tokenize, embed, benchmark, train and predict without SQL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets: its output streams and logger.
type env struct {
	stdout io.Writer
	stderr io.Writer
	log    zerolog.Logger
	// tty: stderr is a terminal. Progress bars are drawn only there: in a
	// file or a pipe their carriage returns leave residue.
	tty bool
}

var commands []command

func register(c command) { commands = append(commands, c) }

func usage(w io.Writer) {
	fmt.Fprintf(w, "adapterdb: a SQL-queryable inference engine (one frozen transformer, many small adapters)\n\n")
	fmt.Fprintf(w, "Usage: adapterdb COMMAND [flags] [args]\n\nCommands:\n")
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
	width := 0 // the longest name sets the summaries' column
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'adapterdb COMMAND --help' for a command's flags. Reference: docs/cli.md\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr) // a usage error
		return 2
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout) // asked for: the answer is the output
		return 0
	}
	level := zerolog.InfoLevel
	if v := os.Getenv("ADAPTERDB_LOG"); v != "" {
		if l, err := zerolog.ParseLevel(v); err == nil {
			level = l
		}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly, NoColor: !tty}).
		Level(level).With().Timestamp().Logger()
	e := &env{stdout: stdout, stderr: stderr, log: log, tty: tty}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "adapterdb %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "adapterdb %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "adapterdb: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// parseArgs parses flags anywhere among the arguments (GNU style), except
// that everything after "--" is positional: texts are never taken for flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, tail...), nil
}

// newFlags makes a flag set whose help goes to stdout when asked for (-h,
// --help) and to stderr, after the error, on a usage error.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	errOut := &markWriter{w: e.stderr}
	fs.SetOutput(errOut)
	fs.Usage = func() {
		// The flag package writes a parse error's message before calling
		// Usage, and nothing before help.
		w := e.stdout
		if errOut.wrote {
			w = e.stderr
		}
		errOut.wrote = false
		fmt.Fprintf(w, "Usage: adapterdb %s\n\n", synopsis)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(errOut)
	}
	return fs
}

// markWriter notes that something was written through it.
type markWriter struct {
	w     io.Writer
	wrote bool
}

func (m *markWriter) Write(p []byte) (int, error) {
	m.wrote = true
	return m.w.Write(p)
}

// indent formats help text blocks.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
