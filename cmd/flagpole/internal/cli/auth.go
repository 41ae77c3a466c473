package cli

import "github.com/spf13/cobra"

// authCmds returns the token and user commands. They need the TokenService
// and UserService of the auth work, which are not in the protos yet.
func (a *app) authCmds() []*cobra.Command { return nil }
