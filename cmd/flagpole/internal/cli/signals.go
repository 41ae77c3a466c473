package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// signalsView is what flag signals prints.
type signalsView struct {
	FlagKey     string        `json:"flagKey"`
	Environment string        `json:"environment"`
	StartTime   time.Time     `json:"startTime"`
	Events      []signalRow   `json:"events"`
	Exposures   []exposureRow `json:"exposures"`
}

type signalRow struct {
	Minute  time.Time `json:"minute"`
	Variant string    `json:"variant"`
	Event   string    `json:"event"`
	Count   int64     `json:"count"`
	Sum     float64   `json:"sum"`
	// SumSquares, Mean and StdDev describe the values (numeric signals
	// such as latency); StdDev is 0 when the SDK sent no sum of squares.
	SumSquares float64 `json:"sumSquares"`
	Mean       float64 `json:"mean"`
	StdDev     float64 `json:"stddev"`
}

type exposureRow struct {
	Minute  time.Time `json:"minute"`
	Variant string    `json:"variant"`
	Count   int64     `json:"count"`
}

// parseSince reads --since: a duration back from now (1h, 30m) or an RFC
// 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--since %q: the duration must be positive", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--since %q: want a duration (1h, 30m) or an RFC 3339 time", s)
	}
	return t, nil
}

func (a *app) flagSignalsCmd() *cobra.Command {
	var env, since string
	cmd := &cobra.Command{
		Use:   "signals KEY --env E",
		Short: "Show a guarded flag's signals per minute: tracked events and exposures per variant",
		Long: `Signals are what guarded releases watch: SDKs attribute every tracked event
(OpenFeature Track) to the variant a guarded flag serves the event's context,
and count exposures (evaluations) per variant. The server keeps them per
minute for 7 days.`,
		Example: `  flagpole flag signals checkout --env production --since 30m
  flagpole flag signals checkout --env production -o json | jq '.events[] | select(.event == "error")'`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			start, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := flagpolev1.NewSignalServiceClient(c.conn).ListSignals(ctx, &flagpolev1.ListSignalsRequest{
					Environment: env, FlagKey: args[0], StartTime: timestamppb.New(start)})
				if err != nil {
					return fmt.Errorf("signals of %s in %s: %w", args[0], env, err)
				}
				v := signalsView{FlagKey: args[0], Environment: env, StartTime: start.UTC().Truncate(time.Minute),
					Events: []signalRow{}, Exposures: []exposureRow{}}
				for _, e := range res.GetEvents() {
					v.Events = append(v.Events, signalRow{Minute: e.GetMinuteTime().AsTime(), Variant: e.GetVariant(),
						Event: e.GetEvent(), Count: e.GetCount(), Sum: e.GetSum(),
						SumSquares: e.GetSumSquares(), Mean: e.GetMean(), StdDev: e.GetStddev()})
				}
				for _, e := range res.GetExposures() {
					v.Exposures = append(v.Exposures, exposureRow{Minute: e.GetMinuteTime().AsTime(), Variant: e.GetVariant(), Count: e.GetCount()})
				}
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					if len(v.Events) == 0 && len(v.Exposures) == 0 {
						row(t, fmt.Sprintf("No signals for %s in %s since %s.", v.FlagKey, env, v.StartTime.Format(time.RFC3339)))
						return
					}
					// MEAN and STDDEV only when some event carries values.
					values := false
					for _, e := range v.Events {
						values = values || e.Sum != 0 || e.SumSquares != 0
					}
					header := []any{"MINUTE", "VARIANT", "EVENT", "COUNT", "SUM"}
					if values {
						header = append(header, "MEAN", "STDDEV")
					}
					row(t, header...)
					i, j := 0, 0 // exposures first within each minute
					for i < len(v.Exposures) || j < len(v.Events) {
						if i < len(v.Exposures) && (j == len(v.Events) || !v.Events[j].Minute.Before(v.Exposures[i].Minute)) {
							x := v.Exposures[i]
							cells := []any{x.Minute.Format("2006-01-02 15:04"), x.Variant, "(exposures)", x.Count, "-"}
							if values {
								cells = append(cells, "-", "-")
							}
							row(t, cells...)
							i++
							continue
						}
						e := v.Events[j]
						cells := []any{e.Minute.Format("2006-01-02 15:04"), e.Variant, e.Event, e.Count, strconv.FormatFloat(e.Sum, 'g', -1, 64)}
						if values {
							mean, sd := "-", "-"
							if e.Sum != 0 || e.SumSquares != 0 {
								mean = strconv.FormatFloat(e.Mean, 'g', 4, 64)
							}
							if e.StdDev > 0 {
								sd = strconv.FormatFloat(e.StdDev, 'g', 4, 64)
							}
							cells = append(cells, mean, sd)
						}
						row(t, cells...)
						j++
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	cmd.Flags().StringVar(&since, "since", "1h", "first minute to show: a duration back from now or an RFC 3339 time (signals are kept 7 days)")
	return cmd
}
