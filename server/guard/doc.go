// Package guard decides guarded releases.
package guard
