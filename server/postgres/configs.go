package postgres

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

const configColumns = "environment, flag_key, config, revision, updated_at"

func scanConfig(s pgx.Row) (server.FlagConfig, error) {
	var c server.FlagConfig
	var config []byte
	if err := s.Scan(&c.Environment, &c.FlagKey, &config, &c.Revision, &c.UpdatedAt); err != nil {
		return c, err
	}
	if err := json.Unmarshal(config, &c.Config); err != nil {
		return c, fmt.Errorf("config of flag %q in %q: %w", c.FlagKey, c.Environment, err)
	}
	c.UpdatedAt = utc(c.UpdatedAt)
	return c, nil
}

func (t *tx) GetConfig(env, flagKey string) (server.FlagConfig, error) {
	row := t.tx.QueryRow(t.ctx, "SELECT "+configColumns+" FROM flag_configs WHERE environment = $1 AND flag_key = $2", env, flagKey)
	c, err := scanConfig(row)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := t.tx.Query(t.ctx,
		"SELECT "+configColumns+` FROM flag_configs WHERE environment = $1 ORDER BY flag_key COLLATE "C"`, env)
	configs, err := collect(rows, err, scanConfig)
	if err != nil {
		return nil, wrap("list configs", err)
	}
	return configs, nil
}

// PutConfig inserts or replaces a configuration. A missing environment or
// flag is ENOTFOUND, named by the foreign key it violated.
func (t *tx) PutConfig(c server.FlagConfig) error {
	config, err := json.Marshal(c.Config)
	if err != nil {
		return wrap("put config", err)
	}
	_, err = t.exec(`INSERT INTO flag_configs (`+configColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (environment, flag_key) DO UPDATE SET
			config = excluded.config, revision = excluded.revision, updated_at = excluded.updated_at`,
		c.Environment, c.FlagKey, config, c.Revision, c.UpdatedAt)
	if pgCode(err) == codeForeignKeyViolation {
		switch constraint(err) {
		case "flag_configs_environment_fkey":
			return notFound("environment", c.Environment)
		case "flag_configs_flag_key_fkey":
			return notFound("flag", c.FlagKey)
		}
	}
	if err != nil {
		return wrap("put config", err)
	}
	return nil
}
