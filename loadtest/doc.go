// Package loadtest drives realistic Okta- and Entra-shaped SCIM traffic
// against any SCIM 2.0 server (ours or another), checks every response,
// and measures throughput and latency per phase. It is what the
// performance targets are measured with, and what `scimbridge bench`
// runs to size a deployment. It owns no server state: it only sends HTTP
// requests to Config.URL, and only touches what it created itself.
//
// # Workloads
//
//   - sync: an IdP's initial push. Phase "users": for each of Users users,
//     Okta's probe GET /Users?filter=userName eq "…" (must find nothing)
//     then POST /Users, Concurrency at a time. Phase "groups": for each of
//     Groups groups (default Users/100), Entra's probe GET
//     /Groups?excludedAttributes=members&filter=displayName eq "…" then
//     POST /Groups with no members. Phase "memberships": 3 memberships per
//     user spread evenly over the groups (300,000 for 100,000 users and
//     1,000 groups), added by PATCHes of MembersPerPatch members in
//     Entra's shape {"op":"Add","path":"members","value":[{"value":id},…]}.
//   - lookup: phase "setup-users" creates Users users (POST only), then
//     phase "lookup" sends userName eq lookups of random users, a quarter
//     of them upper-cased, for Duration.
//   - patch: "setup-users", then phase "patch" sends Entra's user PATCHes
//     for Duration: Replace displayName, Replace active "False", Replace
//     active "True" (strings, as Entra sends them), in equal parts.
//   - biggroup: "setup-users" creates Users+100 users, "setup-group" one
//     group; "grow-to-N" PATCHes 100 members at a time into it up to 1,000
//     members and then up to Users. At each size it measures, one request
//     at a time (up to 100 times or for Duration): "add-100@N" (an Add of
//     the 100 spare users, then an untimed Remove of them), "remove-1@N"
//     (a Remove of one member with a value list, then an untimed re-Add),
//     "get-excluded@N" (GET /Groups/{id}?excludedAttributes=members) and
//     "lookup-displayName@N" (the displayName eq lookup). The untimed
//     requests keep the size; their failures count as errors, they add no
//     sample.
//   - mixed: "setup-users" and "setup-groups" (Groups, default 10, empty),
//     then phase "mixed" for Duration: 50% userName lookups, 15% user
//     PATCHes, 10% new users (probe + POST), 15% one-member adds, 5% group
//     GETs without members, 5% group displayName lookups.
//
// With Cleanup, a final "cleanup" phase deletes every group and then every
// user the run created, Concurrency at a time.
//
// # What is checked
//
// Every response's status: 201 for creates, 200 for GETs and lookups,
// 204 or 200 for PATCHes and DELETEs. Where it is cheap, the body: a
// create returns an id; a probe before a create finds totalResults 0; a
// lookup finds totalResults 1 and the very user or group (a lookup is
// case-insensitive, so the upper-cased names must match too); a 200 user
// PATCH returns that user; a GET with excludedAttributes=members returns
// the group without members. A failed check, an unexpected status or a
// transport error counts one error in its phase, and the first error's
// text (method, path, status and the start of the body; never the token)
// is kept. Work that depends on a failed step is skipped: a user whose
// create failed is never added to a group or looked up.
//
// # Reading the output
//
// A line per phase as it ends, and under it, for a phase that sent more
// than one HTTP method, a line per method, so that the probes and the
// creates of a sync are seen apart:
//
//	phase users  100000 users  200000 req in 54s  1851 users/s  3702 req/s  p50 3.5ms  p95 9.23ms  p99 12.77ms  max 425.44ms  errors 0
//	  GET   100000 req  p50 1.52ms  p95 4.08ms  p99 6.4ms  max 36.71ms
//	  POST  100000 req  p50 5.77ms  p95 10.67ms  p99 14.78ms  max 425.44ms
//
// Ops (here users) count the phase's units, which is what a target is
// stated in (user creates per second, memberships per second); req counts
// HTTP requests (two per user in sync: probe and POST). The latency
// percentiles are nearest-rank over every request of the phase (and of
// the method), kept whole; in the biggroup measurements they are the ones
// to read, as those phases' durations also hold the untimed restore
// requests. The methods come in the order GET, POST, PUT, PATCH, DELETE.
// A phase with errors adds a "first error:" line. The last line is
// Report.Summary: the workload's headline figures, the total time and the
// errors, e.g.
//
//	workload sync: 100000 users in 54s (1851/s), 1000 groups in 497.88ms (2009/s), 300000 memberships in 15.2s (19678/s, 3000 PATCHes p99 106.69ms), sync 1m9.8s; total 1m9.8s; errors 0
//
// # Caveats
//
// Names start with Config.Prefix (default "bench-" and a random suffix),
// so runs never collide with each other or with real data; lookups only
// ask for names the run created. After the prefix, userNames, group
// displayNames and externalIds start with a hash of their number, so they
// reach the server in no order, as a directory's do. Without Cleanup everything created stays
// on the server. Every loop is bounded: counted phases by their counts,
// timed phases by Duration (and 20 million operations), every request by
// the client's 30-second timeout, and the whole run by Config.Timeout
// (default one hour). The load generator shares the machine with the
// server when both run on one host; its own cost is in the figures.
package loadtest
