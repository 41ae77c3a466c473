// Package syncpb is the sync protocol between the Flagpole server and its
// SDKs: the flagpole.v1 messages and SyncService generated from
// proto/flagpole/v1/{flag,segment,sync}.proto, and the trailers that carry
// the status a server ended a stream with. It lives in the SDK's module so
// that a service importing the SDK links the sync protocol and nothing of
// the admin API (proto/gen/flagpole/v1, which imports this package).
package syncpb
