package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// authCmds returns the token and user commands.
func (a *app) authCmds() []*cobra.Command {
	return []*cobra.Command{a.tokenCmd(), a.userCmd()}
}

// tokenView is a token as the CLI prints it; it never holds the secret.
type tokenView struct {
	Name         string     `json:"name"`
	Scope        string     `json:"scope"`
	Environments []string   `json:"environments"`
	Hint         string     `json:"hint"`
	CreatedBy    string     `json:"createdBy"`
	CreateTime   *time.Time `json:"createTime,omitempty"`
	ExpireTime   *time.Time `json:"expireTime,omitempty"`
	LastUsedTime *time.Time `json:"lastUsedTime,omitempty"`
	RevokeTime   *time.Time `json:"revokeTime,omitempty"`
}

func tokenViewOf(t *flagpolev1.Token) tokenView {
	envs := t.GetEnvironments()
	if envs == nil {
		envs = []string{}
	}
	return tokenView{Name: t.GetName(), Scope: t.GetScope(), Environments: envs, Hint: t.GetHint(),
		CreatedBy: t.GetCreatedBy(), CreateTime: timeOf(t.GetCreateTime()), ExpireTime: timeOf(t.GetExpireTime()),
		LastUsedTime: timeOf(t.GetLastUsedTime()), RevokeTime: timeOf(t.GetRevokeTime())}
}

func (a *app) tokenCmd() *cobra.Command {
	cmd := group("token", "Create, list and revoke machine tokens (admin)",
		`Tokens are machine credentials: sdk (stream and evaluate in one environment),
ci (read everything; toggle, roll out and apply in the environments named) or
admin. The secret is shown once, at creation, and stored only as a hash.`)
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd(), a.tokenDeleteCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var scope string
	var envs []string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME --scope sdk|ci|admin [--env E]...",
		Short: "Create a token and print only its secret",
		Long: `Create a token. In the default output only the secret is printed on stdout,
so TOKEN=$(flagpole token create ...) works; -o json prints the token and
its secret. The secret cannot be shown again.`,
		Example: `  SDK_TOKEN=$(flagpole token create checkout-prod --scope sdk --env production)
  CI_TOKEN=$(flagpole token create deploy-bot --scope ci --env staging --env production --expires 720h)`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch scope {
			case "sdk", "ci", "admin":
			case "":
				return usagef("--scope is required (sdk, ci or admin)")
			default:
				return usagef("--scope: must be sdk, ci or admin, got %q", scope)
			}
			if expires < 0 {
				return usagef("--expires: must be positive, got %s", expires)
			}
			req := &flagpolev1.CreateTokenRequest{Name: args[0], Scope: scope, Environments: envs}
			if expires > 0 {
				req.ExpireTime = timestamppb.New(time.Now().Add(expires))
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.tok.CreateToken(ctx, req)
				if err != nil {
					return fmt.Errorf("create token %s: %w", args[0], err)
				}
				if a.output == "table" {
					_, err := fmt.Fprintln(cmd.OutOrStdout(), res.GetSecret())
					return err
				}
				return a.printer(cmd.OutOrStdout()).emit(struct {
					Token  tokenView `json:"token"`
					Secret string    `json:"secret"`
				}{tokenViewOf(res.GetToken()), res.GetSecret()}, nil)
			})
		},
	}
	cmd.Flags().StringVar(&scope, "scope", "", "sdk, ci or admin (required)")
	cmd.Flags().StringArrayVar(&envs, "env", nil, "environment the token may use (one for sdk, any for ci; repeatable)")
	cmd.Flags().DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default: never expires)")
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	var revoked bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.tok.ListTokens(ctx, &flagpolev1.ListTokensRequest{IncludeRevoked: revoked})
				if err != nil {
					return fmt.Errorf("list tokens: %w", err)
				}
				views := []tokenView{}
				for _, t := range res.GetTokens() {
					views = append(views, tokenViewOf(t))
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "NAME", "SCOPE", "ENVIRONMENTS", "HINT", "CREATED BY", "EXPIRES", "LAST USED", "REVOKED")
					for _, v := range views {
						row(t, v.Name, v.Scope, orDash(strings.Join(v.Environments, ",")), v.Hint, orDash(v.CreatedBy),
							fmtTime(v.ExpireTime), fmtTime(v.LastUsedTime), fmtTime(v.RevokeTime))
					}
				})
			})
		},
	}
	cmd.Flags().BoolVar(&revoked, "revoked", false, "include revoked tokens")
	return cmd
}

// revokeView is what 'token revoke -o json' prints: the token, and
// alreadyRevoked when it had been revoked before (nothing changed).
type revokeView struct {
	tokenView
	AlreadyRevoked bool `json:"alreadyRevoked"`
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it stops working at once",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				// A token revoked before is said so, not revoked again.
				list, err := c.tok.ListTokens(ctx, &flagpolev1.ListTokensRequest{IncludeRevoked: true})
				if err != nil {
					return fmt.Errorf("revoke token %s: %w", args[0], err)
				}
				for _, tk := range list.GetTokens() {
					if tk.GetName() == args[0] && tk.GetRevokeTime() != nil {
						v := revokeView{tokenView: tokenViewOf(tk), AlreadyRevoked: true}
						return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
							row(t, "Token "+v.Name+" was already revoked ("+fmtTime(v.RevokeTime)+").")
						})
					}
				}
				res, err := c.tok.RevokeToken(ctx, &flagpolev1.RevokeTokenRequest{Name: args[0]})
				if err != nil {
					return fmt.Errorf("revoke token %s: %w", args[0], err)
				}
				v := revokeView{tokenView: tokenViewOf(res.GetToken())}
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, "Revoked token "+v.Name+".")
				})
			})
		},
	}
}

func (a *app) tokenDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a revoked token, so its name can be used again (admins only)",
		Long: `Delete removes a revoked token; the audit log keeps its history. A token
that still works is refused: revoke it first.`,
		Example: "  flagpole token revoke deploy-bot && flagpole token delete deploy-bot",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.tok.DeleteToken(ctx, &flagpolev1.DeleteTokenRequest{Name: args[0]}); err != nil {
					return fmt.Errorf("delete token %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]any{"deleted": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Deleted token "+args[0]+".")
				})
			})
		},
	}
}

// userView is a user as the CLI prints it.
type userView struct {
	Username   string     `json:"username"`
	Role       string     `json:"role"`
	CreateTime *time.Time `json:"createTime,omitempty"`
	UpdateTime *time.Time `json:"updateTime,omitempty"`
}

func userViewOf(u *flagpolev1.User) userView {
	return userView{Username: u.GetUsername(), Role: u.GetRole(), CreateTime: timeOf(u.GetCreateTime()),
		UpdateTime: timeOf(u.GetUpdateTime())}
}

func (a *app) userCmd() *cobra.Command {
	cmd := group("user", "Create, list and delete admin UI users; change passwords",
		`Users sign in to the admin UI with a role: viewer, editor or admin.
Passwords are read from a terminal prompt, or from standard input with
--password-stdin (one per line), never from the command line.`)
	cmd.AddCommand(a.userCreateCmd(), a.userListCmd(), a.userDeleteCmd(), a.userPasswdCmd(), a.userRoleCmd())
	return cmd
}

func (a *app) userRoleCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "role USERNAME viewer|editor|admin",
		Short:   "Change a user's role (admins only)",
		Example: "  flagpole user role alice editor",
		Args:    exactArgs("USERNAME", "ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[1] {
			case "viewer", "editor", "admin":
			default:
				return usagef("ROLE: must be viewer, editor or admin, got %q", args[1])
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.user.SetRole(ctx, &flagpolev1.SetRoleRequest{Username: args[0], Role: args[1]})
				if err != nil {
					return fmt.Errorf("set the role of user %s: %w", args[0], err)
				}
				v := userViewOf(res.GetUser())
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, fmt.Sprintf("User %s is now %s.", v.Username, v.Role))
				})
			})
		},
	}
}

func validRole(role string) error {
	switch role {
	case "viewer", "editor", "admin":
		return nil
	case "":
		return usagef("--role is required (viewer, editor or admin)")
	}
	return usagef("--role: must be viewer, editor or admin, got %q", role)
}

func (a *app) userCreateCmd() *cobra.Command {
	var role string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:     "create USERNAME --role viewer|editor|admin",
		Short:   "Create a user",
		Example: `  printf '%s\n' "$PASSWORD" | flagpole user create alice --role editor --password-stdin`,
		Args:    exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validRole(role); err != nil {
				return err
			}
			pw := newSecretReader(cmd, fromStdin)
			password, err := pw.read("Password for " + args[0] + ": ")
			if err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.user.CreateUser(ctx, &flagpolev1.CreateUserRequest{Username: args[0], Password: password, Role: role})
				if err != nil {
					return fmt.Errorf("create user %s: %w", args[0], err)
				}
				v := userViewOf(res.GetUser())
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, fmt.Sprintf("Created user %s (%s).", v.Username, v.Role))
				})
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "viewer, editor or admin (required)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func (a *app) userListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.user.ListUsers(ctx, &flagpolev1.ListUsersRequest{})
				if err != nil {
					return fmt.Errorf("list users: %w", err)
				}
				views := []userView{}
				for _, u := range res.GetUsers() {
					views = append(views, userViewOf(u))
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "USERNAME", "ROLE", "CREATED")
					for _, v := range views {
						row(t, v.Username, v.Role, fmtTime(v.CreateTime))
					}
				})
			})
		},
	}
}

func (a *app) userDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete USERNAME",
		Short: "Delete a user and end their sessions (not the last admin)",
		Args:  exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.user.DeleteUser(ctx, &flagpolev1.DeleteUserRequest{Username: args[0]}); err != nil {
					return fmt.Errorf("delete user %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]any{"deleted": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Deleted user "+args[0]+".")
				})
			})
		},
	}
}

func (a *app) userPasswdCmd() *cobra.Command {
	var fromStdin, withCurrent bool
	cmd := &cobra.Command{
		Use:   "passwd USERNAME",
		Short: "Set a user's password (admins for anyone; users for themselves with --current)",
		Long: `Set a password. Admins set anyone's password; users changing their own
give the current one with --current (read before the new one: the first line
of standard input with --password-stdin, or a prompt).`,
		Example: `  printf '%s\n' "$NEW" | flagpole user passwd alice --password-stdin
  printf '%s\n%s\n' "$OLD" "$NEW" | flagpole user passwd alice --current --password-stdin`,
		Args: exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := newSecretReader(cmd, fromStdin)
			req := &flagpolev1.SetPasswordRequest{Username: args[0]}
			var err error
			if withCurrent {
				if req.CurrentPassword, err = pw.read("Current password: "); err != nil {
					return err
				}
			}
			if req.Password, err = pw.read("New password for " + args[0] + ": "); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.user.SetPassword(ctx, req); err != nil {
					return fmt.Errorf("set password of %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]any{"passwordChanged": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Changed the password of "+args[0]+".")
				})
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read passwords from standard input, one per line")
	cmd.Flags().BoolVar(&withCurrent, "current", false, "give the current password first (changing your own)")
	return cmd
}

// secretReader reads passwords from standard input lines or a terminal
// prompt without echo.
type secretReader struct {
	fromStdin bool
	lines     *bufio.Reader
	prompt    io.Writer
}

func newSecretReader(cmd *cobra.Command, fromStdin bool) *secretReader {
	return &secretReader{fromStdin: fromStdin, lines: bufio.NewReader(cmd.InOrStdin()), prompt: cmd.ErrOrStderr()}
}

func (s *secretReader) read(prompt string) (string, error) {
	if s.fromStdin {
		line, err := s.lines.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if err != nil && err != io.EOF {
				return "", fmt.Errorf("--password-stdin: %w", err)
			}
			return "", usagef("--password-stdin: no password on standard input")
		}
		return line, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usagef("no terminal to prompt for a password: use --password-stdin")
	}
	fmt.Fprint(s.prompt, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(s.prompt)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}
