package catalog

import (
	"context"
	"testing"
	"time"
)

// TestMigration10OIDCSource: schema 10 accepts source 'oidc' (the CHECK edited in
// place) on a catalog migrated from 9 with an account, its roles and a session,
// which survive; other sources are still refused; the database stays sound.
func TestMigration10OIDCSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, db := catalogAtSchema(t, 9)
	if _, err := db.ExecContext(ctx, `INSERT INTO users (login, source, created_at, updated_at) VALUES ('ana', 'oidc', 1, 1)`); err == nil {
		t.Fatal("schema 9 accepted source oidc")
	}
	db.Close()
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	c, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.CreateUser(ctx, User{Login: "ana", Source: "oidc", ExternalID: "oidc:https://idp.example#123", Roles: []string{"auditor"}, CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateSession(ctx, Session{IDSHA256: "00", UserID: id, State: "full", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(time.Hour)}, ""); err != nil {
		t.Fatal(err)
	}
	u, err := c.UserByLogin(ctx, "ana")
	if err != nil || u.Source != "oidc" || u.ExternalID != "oidc:https://idp.example#123" || len(u.Roles) != 1 {
		t.Fatalf("%+v %v", u, err)
	}
	if _, err := c.CreateUser(ctx, User{Login: "beto", Source: "saml", CreatedAt: at}); err == nil {
		t.Fatal("source saml accepted")
	}
	if probs, err := c.IntegrityCheck(ctx, false); err != nil || len(probs) != 0 {
		t.Fatalf("integrity: %v %v", probs, err)
	}
	if _, err := c.SessionByHash(ctx, "00"); err != nil {
		t.Fatal(err)
	}
}
