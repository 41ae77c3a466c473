package server

import "context"

// Anonymous is the actor of a request that carries no identity: what
// ActorFromContext returns until an authentication layer sets one.
var Anonymous = Actor{Kind: "anonymous", Name: "anonymous", Source: "api"}

type actorKey struct{}

// NewContextWithActor returns a copy of ctx that carries the acting user or
// token, recorded in the audit entries of changes made with it.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor ctx carries, or Anonymous.
func ActorFromContext(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Anonymous
}
