package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"

	"github.com/flagpole/flagpole/server"
)

const configColumns = "environment, flag_key, config, revision, updated_at"

func scanConfig(s scanner) (server.FlagConfig, error) {
	var c server.FlagConfig
	var config, updated string
	if err := s.Scan(&c.Environment, &c.FlagKey, &config, &c.Revision, &updated); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(config), &c.Config); err != nil {
		return c, fmt.Errorf("config of flag %q in %q: %w", c.FlagKey, c.Environment, err)
	}
	var err error
	c.UpdatedAt, err = parseTime(updated)
	return c, err
}

func (t *tx) GetConfig(env, flagKey string) (server.FlagConfig, error) {
	row := t.tx.QueryRowContext(t.ctx,
		"SELECT "+configColumns+" FROM flag_configs WHERE environment = ? AND flag_key = ?", env, flagKey)
	c, err := scanConfig(row)
	if errors.Is(err, sql.ErrNoRows) {
		return c, server.Errorf(server.ENOTFOUND, "flag %q has no configuration in environment %q", flagKey, env)
	}
	if err != nil {
		return c, wrap("get config", err)
	}
	return c, nil
}

// ListConfigs returns the configurations of an environment sorted by flag
// key; an environment without any gives an empty list, not an error.
func (t *tx) ListConfigs(env string) ([]server.FlagConfig, error) {
	rows, err := t.tx.QueryContext(t.ctx,
		"SELECT "+configColumns+" FROM flag_configs WHERE environment = ? ORDER BY flag_key", env)
	if err != nil {
		return nil, wrap("list configs", err)
	}
	defer rows.Close()
	var configs []server.FlagConfig
	for rows.Next() {
		c, err := scanConfig(rows)
		if err != nil {
			return nil, wrap("list configs", err)
		}
		configs = append(configs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list configs", err)
	}
	return configs, nil
}

// PutConfig inserts or replaces a configuration. A missing environment or
// flag is ENOTFOUND.
func (t *tx) PutConfig(c server.FlagConfig) error {
	config, err := json.Marshal(c.Config)
	if err != nil {
		return wrap("put config", err)
	}
	_, err = t.exec(`INSERT INTO flag_configs (`+configColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (environment, flag_key) DO UPDATE SET
			config = excluded.config, revision = excluded.revision, updated_at = excluded.updated_at`,
		c.Environment, c.FlagKey, string(config), c.Revision, formatTime(c.UpdatedAt))
	if isConstraint(err, sqlite3.ErrConstraintForeignKey) {
		return t.missingParent(c)
	}
	if err != nil {
		return wrap("put config", err)
	}
	return nil
}

// missingParent names what a configuration's foreign keys did not find.
func (t *tx) missingParent(c server.FlagConfig) error {
	if _, err := t.GetEnvironment(c.Environment); err != nil {
		return err
	}
	if _, err := t.GetFlag(c.FlagKey); err != nil {
		return err
	}
	return wrap("put config", errors.New("foreign key violation"))
}
