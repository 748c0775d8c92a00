package identity

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/resguardo/resguardo/internal/catalog"
)

// provision creates or updates the local account of a directory user: name,
// addresses and roles come from the directory at every login.
func (s *Service) provision(ctx context.Context, login string, du *DirectoryUser, cu catalog.User, exists bool) (*User, error) {
	return s.provisionAs(ctx, "ldap", login, du, cu, exists)
}

// provisionAs is provision for accounts of source (ldap, oidc).
func (s *Service) provisionAs(ctx context.Context, source, login string, du *DirectoryUser, cu catalog.User, exists bool) (*User, error) {
	addrs, _ := normAddresses(slices.DeleteFunc(slices.Clone(du.Addresses), func(a string) bool { return NormalizeAddress(a) == "" }))
	name := clip(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(du.DisplayName)), 200)
	ext := du.ID
	if ext == "" {
		ext = du.DN
	}
	now := s.now()
	if !exists {
		id, err := s.st.CreateUser(ctx, catalog.User{Login: login, DisplayName: name, Source: source, ExternalID: ext,
			Roles: roleStrings(du.Roles), Addresses: addrs, CreatedAt: now, UpdatedAt: now})
		if errors.Is(err, catalog.ErrUserExists) {
			// A concurrent first login of the same person made it a moment ago.
			if cu, err = s.st.UserByLogin(ctx, login); err == nil && cu.Source == source && (cu.ExternalID == "" || cu.ExternalID == ext) {
				return s.provisionAs(ctx, source, login, du, cu, true)
			}
			return nil, ErrInvalidCredentials
		}
		if err != nil {
			return nil, err
		}
		s.log.Info("directory user provisioned", "source", source, "login", login, "dn", du.DN, "id", du.ID, "roles", du.Roles)
		return s.User(ctx, id)
	}
	cu.DisplayName, cu.ExternalID, cu.Roles, cu.Addresses, cu.UpdatedAt = name, ext, roleStrings(du.Roles), addrs, now
	if err := s.st.UpdateUser(ctx, cu); err != nil {
		return nil, mapStoreErr(err)
	}
	return s.User(ctx, cu.ID)
}
