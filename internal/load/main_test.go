package load

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// serverEnv makes the test binary, run as a child, serve completions instead
// of running tests: benchmarks put the server in another process so that
// the benchmark's own CPU time is the generator's alone.
const serverEnv = "FLOODGATE_LOAD_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		serveUntilStdinCloses()
		return
	}
	goleak.VerifyTestMain(m)
}

func serveUntilStdinCloses() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	body := []byte(completionJSON)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(l) }()
	os.Stdout.WriteString("http://" + l.Addr().String() + "\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

// childServer starts the test binary as a completion server in its own
// process and returns its base URL; it stops when the benchmark ends.
func childServer(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("child server: %v", err)
	}
	return strings.TrimSpace(line)
}
