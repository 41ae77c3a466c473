package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// defaultWait is the timeout of a bare --wait.
const defaultWait = 2 * time.Minute

// pollInterval is how often --wait asks a server that cannot report
// acknowledgements as they arrive (no WatchClients) which instances applied
// what.
const pollInterval = 100 * time.Millisecond

func addWaitFlag(cmd *cobra.Command, wait *time.Duration) {
	cmd.Flags().DurationVar(wait, "wait", 0,
		"after the change, wait until every SDK instance connected to the environment has applied it; "+
			"--wait alone waits up to "+defaultWait.String()+", --wait=30s sets the timeout (exit code 4 on timeout)")
	cmd.Flags().Lookup("wait").NoOptDefVal = defaultWait.String()
}

// waitAll waits for every environment in turn, sharing one deadline.
func (a *app) waitAll(ctx context.Context, cmd *cobra.Command, c *clients, envs []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, env := range envs {
		if err := a.waitEnv(ctx, cmd, c, env); err != nil {
			return err
		}
	}
	return nil
}

// waitEnv reads the environment's revision after a change and polls the
// connected instances until each has acknowledged at least that revision.
func (a *app) waitEnv(ctx context.Context, cmd *cobra.Command, c *clients, env string) error {
	start := time.Now()
	e, err := c.env.GetEnvironment(ctx, &flagpolev1.GetEnvironmentRequest{Name: env})
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	rev := e.GetEnvironment().GetRevision()
	// Progress goes to stdout in table mode and to stderr otherwise, so that
	// -o json output stays one JSON document.
	w := cmd.OutOrStdout()
	if a.output != "table" {
		w = cmd.ErrOrStderr()
	}
	err = a.watchEnv(ctx, cmd, c, w, env, rev, start)
	if status.Code(err) != codes.Unimplemented {
		return err
	}
	return a.pollEnv(ctx, cmd, c, w, env, rev, start) // a server without WatchClients
}

// watchEnv follows the server's report of the instances that lack rev
// (WatchClients) and returns as soon as none does.
func (a *app) watchEnv(ctx context.Context, cmd *cobra.Command, c *clients, w io.Writer, env string, rev int64, start time.Time) error {
	st, err := c.sync.WatchClients(ctx, &syncpb.WatchClientsRequest{Environment: env, Revision: rev})
	if err != nil {
		return a.waitFailed(ctx, cmd, env, rev, nil, err)
	}
	var last *syncpb.WatchClientsResponse
	for {
		m, err := st.Recv()
		if err != nil {
			return a.waitFailed(ctx, cmd, env, rev, last, err)
		}
		if m.GetAllApplied() {
			printWaited(w, env, rev, int(m.GetConnected()), time.Since(start))
			return nil
		}
		last = m
	}
}

// waitFailed turns the end of a watch before every instance applied rev
// into the error to report: a timeout naming who is still pending, or err.
func (a *app) waitFailed(ctx context.Context, cmd *cobra.Command, env string, rev int64, last *syncpb.WatchClientsResponse, err error) error {
	if cmd.Context().Err() != nil {
		return fmt.Errorf("wait: %w", cmd.Context().Err())
	}
	// gRPC may end the stream on the deadline a moment before ctx says so.
	if ctx.Err() == nil && status.Code(err) != codes.DeadlineExceeded {
		if status.Code(err) == codes.Unimplemented {
			return err
		}
		return fmt.Errorf("wait: watch clients of %s: %w", env, err)
	}
	var pending []string
	for _, cl := range last.GetPending() {
		pending = append(pending, describeClient(cl))
	}
	sort.Strings(pending)
	return &WaitTimeoutError{Environment: env, Revision: rev, Pending: pending,
		Unnamed: max(0, int(last.GetPendingCount())-len(pending))}
}

// pollEnv asks the server every pollInterval which instances applied what
// until each has rev: for servers that predate WatchClients.
func (a *app) pollEnv(ctx context.Context, cmd *cobra.Command, c *clients, w io.Writer, env string, rev int64, start time.Time) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var pending []string
	for {
		// Each poll gets its own short deadline so a timeout is reported as
		// a wait timeout, not as a failed call.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.callTimeout)
		res, err := c.sync.ListClients(pctx, &syncpb.ListClientsRequest{Environment: env})
		cancel()
		if err != nil {
			return fmt.Errorf("wait: list clients of %s: %w", env, err)
		}
		total := 0
		pending = pending[:0]
		for _, cl := range res.GetClients() {
			if cl.GetEnvironment() != "" && cl.GetEnvironment() != env {
				continue
			}
			total++
			if cl.GetAppliedRevision() < rev {
				pending = append(pending, describeClient(cl))
			}
		}
		if len(pending) == 0 {
			printWaited(w, env, rev, total, time.Since(start))
			return nil
		}
		select {
		case <-ctx.Done():
			if cmd.Context().Err() != nil {
				return fmt.Errorf("wait: %w", cmd.Context().Err())
			}
			sort.Strings(pending)
			return &WaitTimeoutError{Environment: env, Revision: rev, Pending: pending}
		case <-tick.C:
		}
	}
}

func describeClient(cl *syncpb.Client) string {
	s := cl.GetInstanceId()
	if cl.GetServiceName() != "" {
		s = cl.GetServiceName() + "/" + s
	}
	return fmt.Sprintf("%s (applied %d)", s, cl.GetAppliedRevision())
}

func printWaited(w io.Writer, env string, rev int64, n int, d time.Duration) {
	if n == 0 {
		fmt.Fprintf(w, "%s: revision %d, no SDK instances connected\n", env, rev)
		return
	}
	fmt.Fprintf(w, "%s: revision %d applied by %d/%d instance(s) in %s\n", env, rev, n, n, d.Round(time.Millisecond))
}
