// Package serveproc runs `flagpole serve` of a given binary in a process of
// its own, as a deployment runs it, for the commands that measure builds side
// by side (flagpole-ofrepcpu, flagpole-changecost): a new SQLite database in
// a temporary directory, free loopback ports, the server's log written to a
// file as a deployed server writes it, and the process's CPU time read from
// /proc, so that only the server's work is counted. Linux only.
package serveproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// Server is one running `flagpole serve`.
type Server struct {
	GRPCAddr, HTTPAddr string // 127.0.0.1:port
	dir                string // its database and log, removed by Stop
	cmd                *exec.Cmd
}

// Start runs bin serve with the admin token adminToken (FLAGPOLE_ADMIN_TOKEN)
// and the extra arguments, and waits until /healthz answers. On an error
// after the process started it returns the Server too, for Stop.
func Start(ctx context.Context, bin, adminToken string, extra ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "flagpole-serveproc-")
	if err != nil {
		return nil, err
	}
	s := &Server{GRPCAddr: freePort(), HTTPAddr: freePort(), dir: dir}
	args := append([]string{"serve", "--db", filepath.Join(dir, "flagpole.db"), "--grpc-addr", s.GRPCAddr, "--http-addr", s.HTTPAddr}, extra...)
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Env = append(os.Environ(), "FLAGPOLE_ADMIN_TOKEN="+adminToken, "FLAGPOLE_ADMIN_PASSWORD=serveproc-admin-password")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := waitHealthy(ctx, "http://"+s.HTTPAddr+"/healthz"); err != nil {
		return s, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	return s, nil
}

// Pid is the server process's id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// CPU is the server process's CPU time so far, utime + stime.
func (s *Server) CPU() (time.Duration, error) {
	pid := s.Pid()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing one. utime and stime are fields 14
	// and 15, so the 12th and 13th after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// Stop interrupts the server, kills it if it has not exited within 10 s,
// and removes its database and log.
func (s *Server) Stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages, or "?".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("server not healthy after 30s")
}
