// Package sso owns single sign-on: a SAML 2.0 service provider (on
// github.com/crewjam/saml) and an OpenID Connect relying party (on
// github.com/coreos/go-oidc/v3) for every directory, under
// /sso/{org}/{directory}/, and the sessions they issue.
//
// A login ends in one place, Handler.complete, whatever the protocol:
//
//   - the identity is linked to a SCIM user of the directory by userName
//     (case-insensitive) or by an email the IdP vouches for; when there is
//     none, the login is refused, or, when the directory allows it, the
//     person is provisioned just in time as an ordinary user that the IdP's
//     SCIM job will later find with its userName probe;
//   - a person who is not active is refused;
//   - the person's groups come from the IdP's claim, each value matched to
//     a SCIM group of the directory by externalId, id or displayName; when
//     the claim is missing or overflowed (Entra's groups.link, _claim_names)
//     the person's SCIM memberships are used instead, never "no groups";
//   - a server-side session is stored with those groups (the cookie carries
//     only a random secret whose hash is the key), and the org's current
//     rules turn them into workspaces and roles whenever the session is
//     read (GET /sso/session).
//
// Deactivating or deleting a person deletes their sessions in the same
// store transaction (package store/bolt), so no session outlives an
// offboarding. Every login, successful or not, appends sso.login_succeeded
// or sso.login_failed to the org's outbox; a failure is logged with its
// reason and the request id, never with the assertion or the token.
//
// Secrets that the server must use again (the SAML SP private key, the
// OIDC client secret) are sealed with AES-256-GCM under a key that lives
// outside the database (Sealer), so a copy of the database or a backup
// does not hold them in clear.
package sso
