package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flagpole/flagpole/sdk/syncpb"
)

// clientView is a connected SDK instance as the CLI prints it.
type clientView struct {
	InstanceID      string     `json:"instanceId"`
	ServiceName     string     `json:"serviceName"`
	SDKName         string     `json:"sdkName"`
	SDKVersion      string     `json:"sdkVersion"`
	Environment     string     `json:"environment"`
	AppliedRevision int64      `json:"appliedRevision"`
	UpToDate        bool       `json:"upToDate"`
	ConnectTime     *time.Time `json:"connectTime,omitempty"`
	LastSeenTime    *time.Time `json:"lastSeenTime,omitempty"`
	PeerAddress     string     `json:"peerAddress,omitempty"`
}

type clientsView struct {
	Environment string       `json:"environment"`
	Revision    int64        `json:"revision"`
	Clients     []clientView `json:"clients"`
}

func (a *app) clientsCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "clients --env E",
		Short: "List the SDK instances connected to an environment and the revision each applied",
		Example: `  flagpole clients --env production
  flagpole clients --env production -o json | jq '.clients[] | select(.upToDate | not)'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.sync.ListClients(ctx, &syncpb.ListClientsRequest{Environment: env})
				if err != nil {
					return fmt.Errorf("list clients of %s: %w", env, err)
				}
				v := clientsView{Environment: env, Revision: res.GetRevision(), Clients: []clientView{}}
				for _, cl := range res.GetClients() {
					v.Clients = append(v.Clients, clientView{InstanceID: cl.GetInstanceId(), ServiceName: cl.GetServiceName(),
						SDKName: cl.GetSdkName(), SDKVersion: cl.GetSdkVersion(), Environment: cl.GetEnvironment(),
						AppliedRevision: cl.GetAppliedRevision(), UpToDate: cl.GetAppliedRevision() >= res.GetRevision(),
						ConnectTime: timeOf(cl.GetConnectTime()), LastSeenTime: timeOf(cl.GetLastSeenTime()),
						PeerAddress: cl.GetPeerAddress()})
				}
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, fmt.Sprintf("%s is at revision %d; %d instance(s) connected.", env, v.Revision, len(v.Clients)))
					if len(v.Clients) == 0 {
						return
					}
					row(t, "SERVICE", "INSTANCE", "SDK", "APPLIED", "UP TO DATE", "CONNECTED", "PEER")
					for _, cl := range v.Clients {
						row(t, orDash(cl.ServiceName), cl.InstanceID, orDash(cl.SDKName+" "+cl.SDKVersion),
							cl.AppliedRevision, cl.UpToDate, fmtTime(cl.ConnectTime), orDash(cl.PeerAddress))
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	return cmd
}
