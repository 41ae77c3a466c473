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

// NewContextWithSharedActor is NewContextWithActor for an actor shared by
// many contexts, which must not change: the context keeps the pointer, not
// a copy (a long-lived stream then costs one context node).
func NewContextWithSharedActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor ctx carries, or Anonymous.
func ActorFromContext(ctx context.Context) Actor {
	switch a := ctx.Value(actorKey{}).(type) {
	case Actor:
		return a
	case *Actor:
		return *a
	}
	return Anonymous
}
