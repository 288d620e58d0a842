// Package conformance is a SCIM 2.0 conformance suite (RFC 7643, RFC
// 7644) that runs against any SCIM base URL and bearer token: ours, in CI,
// or a vendor's, so that an admin can check an endpoint before pointing an
// IdP at it. It speaks only HTTP; it knows nothing of scimbridge's
// internals and never touches a store.
//
// # What it checks
//
// About a hundred named checks, grouped by area, each reported as one
// line: "PASS  users/create", "FAIL  filter/not: …", "SKIP  sort/ascending:
// …". The areas:
//
//   - discovery: /ServiceProviderConfig (every feature object, booleans
//     and integers where the RFC says so), authenticationSchemes,
//     /ResourceTypes and /Schemas as ListResponses, /Schemas/{id}.
//   - auth: no token, a wrong token, another scheme: 401 with a
//     WWW-Authenticate challenge. The suite's own token is never printed.
//   - users: create (201, Location = meta.location, meta), GET, PUT,
//     DELETE (204 then 404), unknown ids (404 with a SCIM error body),
//     userName uniqueness (409 uniqueness, also for a case variant: userName
//     is case-insensitive), password never returned, client-chosen id
//     ignored, the enterprise extension.
//   - filter: userName eq in another case, externalId eq (case-exact), id
//     eq, emails.value eq, emails[type eq "work"], and, or, not, pr, co, sw,
//     ew, meta.lastModified gt, escaped quotes, unknown attribute and
//     malformed filters (400 invalidFilter), Entra's random-GUID probe (200,
//     totalResults 0).
//   - page: the ListResponse envelope with integer counts, startIndex and
//     count, a stable order across reads, count=0, past the end, and
//     out-of-range values. sort: ascending, descending and paged.
//   - projection: attributes, excludedAttributes, id always returned,
//     sub-attributes, by id and in listings.
//   - patch: add, replace and remove, with and without a path, value
//     filters, complex replace keeping the other sub-attributes, extension
//     paths, noTarget, atomicity (a failing second operation leaves the
//     first unapplied), malformed paths, read-only id.
//   - groups: create with members, excludedAttributes=members, filters on
//     displayName and externalId, member add and remove, rename, PUT, the
//     user's groups attribute, delete.
//   - etag: ETag equals meta.version and changes on write, If-Match stale
//     (412, nothing changed) and current, If-None-Match (304).
//   - errors: malformed JSON (400 invalidSyntax), wrong types, a missing
//     userName, "status" as a string, unknown routes (404), bad PATCH
//     envelopes. robustness: a body over 8 MiB (413 or 400), a filter and a
//     body nested 10,000 deep (400 within seconds), Unicode round trips.
//   - bulk: one create through /Bulk.
//   - entra, okta, google: the request shapes those IdPs really send
//     (capitalised ops, "False" strings, path-less dotted maps, member
//     removal by value list with "$ref": null, Microsoft's group schema URN,
//     manager shapes; Okta's path-less deactivation, PUT deactivation and
//     profile updates, membership deltas, member replacement, renames that
//     carry the id, application/json; Google's count=1 probe and
//     members[value eq] removal). They run only with their profile
//     (Config.Profile) and are skipped, with the reason, otherwise.
//
// Where the RFC leaves a choice or servers legitimately differ, both
// answers pass: 200 with the resource or 204 for PATCH, 413 or 400 for an
// oversized body, 400 or 414 for a filter too long for the URL, 200 empty
// or 404 for Okta's lookup of an unknown user. Where an IdP and the RFC
// disagree on the meaning of one request, the RFC check avoids that
// request under the IdP's profile: Entra reads a replace through
// emails[type eq "work"] that matches nothing as "create it", so with the
// entra profile patch/no-target tests noTarget with a co filter only.
//
// # Three ways to run it
//
//   - From Go tests: Run with Config.Handler set serves every request
//     in-process through an httptest.ResponseRecorder; with only Config.URL
//     it goes over the network (httptest.NewServer, or any server).
//   - From the command line: scimbridge conformance --url URL --token
//     TOKEN [--profile entra] prints the lines and the summary "N passed, M
//     failed" (", K skipped" when some were), and exits 0 only when nothing
//     failed.
//   - Against any other SCIM server: nothing in the suite is specific to
//     scimbridge. Optional features are read from /ServiceProviderConfig:
//     the bulk, sort and etag checks skip when the feature is not
//     advertised as supported, and the enterprise-extension and
//     groups-attribute checks skip when /ResourceTypes and /Schemas do not
//     declare them.
//
// Filtering and PATCH are not treated as optional: every IdP looks users
// up with filters and changes them with PATCH, and the suite scopes its
// listings with filters (userName sw its prefix, id eq an id it created).
//
// Run returns an error only when the suite cannot run at all: an invalid
// Config, a server that cannot be reached, or a token the server refuses.
// Everything else is a check's result.
//
// # What it creates, and cleanup
//
// Checks create the users and groups they need (in a full run about a
// hundred users and a few dozen groups), with userNames and displayNames
// that start with Config.Prefix: by default "scimbridge-conformance-" and
// a random suffix, so they never collide with existing data. Every
// listing a check verifies is scoped to the suite's own resources (a
// filter on its prefix or on an id it created), and no check assumes the
// server is empty or counts anything it did not create.
//
// The last check, "cleanup", deletes every user and group the run created
// (groups first), also when checks failed or the context was cancelled,
// and then checks that each one is gone. It deletes only ids taken from
// the run's own create responses (or, when a create answered without an
// id, the resource found by that exact prefixed name); it never deletes by
// pattern. Checks that delete or deactivate something act only on
// resources they created.
//
// Caveats: the suite writes to the directory it is given, so point it at
// a test directory when one exists. A run that is killed (rather than
// cancelled) leaves its resources behind; they are recognisable by their
// prefix. The robustness checks send an 8 MiB body and a 60 KB URL.
package conformance
