// Package bolt is the default store.Store: one bbolt file (a copy-on-write
// B+tree in an mmap) that holds orgs, directories, tokens, SCIM users and
// groups, their indexes, their memberships, and the event outbox of every
// org. It is the only package that
// imports bbolt, and no bbolt error leaves it unwrapped. It never logs, never
// does network I/O, and never sleeps inside a transaction.
//
// # Opening
//
// Open takes an exclusive flock on the file. bbolt would wait forever for
// a lock held by another process (or by another DB of this process), so Open
// waits Options.Timeout (one second by default) and then fails with an error
// wrapping store.ErrLocked. The file is created with mode 0600: it holds
// token hashes and personal data. Address space for 64 MiB is reserved up
// front (InitialMmapSize) so that a growing file rarely needs a remap, which
// waits for every open read transaction. The file never shrinks in place;
// deleted space is reused, and an offline bbolt.Compact reclaims it.
//
// # Schema and migrations
//
// The meta bucket holds the schema version (key "schema", uint64 big
// endian). Open runs, in order and each in one transaction with its version
// bump, the migrations the file has not seen; a file newer than this build
// is refused rather than misread. The layout below is version 7's. Version
// 1 had no outbox, rules or access buckets, keyed members by user id, and
// kept the other side of each membership in a bucket of its own (memberof,
// user id 0x00 group id); version 2 adds the outbox and outbox_system buckets and an
// empty outbox for every existing org (what happened before the upgrade has
// no events: the first write after it is seq 1 of its org); version 3 adds
// the rules and access buckets for every existing org (no org has rules
// yet, so nobody has access); version 4 keys members by position instead
// of user id (each group's members keep their id order as positions 1, 2,
// …, memberof values and the groups' lastPos are set to match); version 5
// stops writing the email index key of an email that folds to its user's
// own userName, and rewrites nothing (files keep such keys, and lookups
// read both forms), so that an older build refuses the file rather than
// miss those users in its email lookups; version 6 moves each directory's
// memberof keys, unchanged, into its users bucket, beside their users'
// records, and deletes memberof; version 7 stages the index keys of
// created users (staged.go) and rewrites nothing (an older build would not
// find staged users, and must refuse the file). The fold
// (store.Fold) is part of the schema: index keys are folded at write time
// and lookups fold at read time, so changing the fold needs a migration that
// rebuilds the folded indexes.
//
// # Layout
//
//	meta        schema → version
//	orgs        org name → org record
//	dirs        org name → bucket:
//	              directory name → bucket (one per directory):
//	                directory       → directory record
//	                users           user id → user record, then that user's memberships:
//	                                user id 0x00 group id → position (uint64 big endian)
//	                                (the other side of members; only keys of 36 bytes
//	                                are records: see users.go)
//	                groups          group id → group record
//	                staged          user id → empty: users whose three user index
//	                                keys below are not written yet (staged.go; made
//	                                by the first create, deleted when they are written)
//	                idx_user_name   Fold(userName) → user id        (unique)
//	                idx_user_ext    externalId 0x00 user id         (exact, not unique)
//	                idx_user_email  Fold(email) 0x00 user id        (not unique; not an email
//	                                that folds to the user's own userName: the userName
//	                                index leads there, and email lookups look in both)
//	                idx_group_name  Fold(displayName) → group id    (unique)
//	                idx_group_ext   externalId 0x00 group id        (exact, not unique)
//	                members         group id 0x00 position (uint64 big endian) → user id
//	                counters        "users", "groups", "staged" → uint64 big endian
//	tokens      token id → token record (the secret's SHA-256, never the secret)
//	token_hash  SHA-256 → token id (unique)
//	outbox      org name → bucket (one per org, made by CreateOrg):
//	              last     → uint64 big endian: the highest seq ever given (absent: 0)
//	              pruned   → uint64 big endian: every seq up to it was pruned (absent: 0)
//	              events   seq (uint64 big endian) → event envelope (JSON, as delivered)
//	outbox_system  the same three, for the changes that belong to no org
//	               (super tokens): the outbox of org ""
//	rules       org name → bucket (made by CreateOrg):
//	              current   → uint64 big endian: the current version (absent: none)
//	              versions  version (uint64 big endian) → version record (canonical JSON document, actor, force, reason)
//	              drafts    draft id → draft record (the source as given)
//	access      org name → bucket (made by CreateOrg):
//	              people  directory 0x00 user id → access record (userName, grants with reasons)
//	              idx     workspace 0x00 role 0x00 directory 0x00 user id → empty
//	              counts  workspace 0x00 role → uint64 big endian (absent: 0)
//	            Org-wide roles are under workspace "" (store.OrgWide), which
//	            no workspace can be named.
//
// Buckets created on their first write (no migration: a file without them
// reads as having none):
//
//	subscriptions  org name → bucket: subscription id → subscription record
//	sso            config         org 0x00 directory → SSO settings (keys and secrets sealed by package sso)
//	               logins         state id → pending login (single use)
//	               once           key → expiry (unix ns): assertion ids and nonces already used
//	               sessions       SHA-256 of the cookie secret → session
//	               user_sessions  org 0x00 directory 0x00 user id 0x00 hash → empty: what a
//	                              deactivation or deletion deletes, in its own transaction
//	settings       "dir" 0x00 org 0x00 directory → allowlist and rate limit;
//	               "org" 0x00 org → admin allowlist
//
// Token records also keep last_used, replaced_by and the tightest
// expiry warning announced (expiring_days).
//
// Records are JSON objects of internal structs (not the store types, so the
// file format does not follow the Go API by accident). Ids are UUIDs (lower
// case, 36 bytes): users and groups get time-ordered ones (version 7: the
// creation millisecond, then 74 random bits from crypto/rand), so a create
// appends at the right edge of its bucket, whose pages are split 90% full
// (appendFill) rather than bbolt's half; everything else gets random ones
// (version 4). Files written before keep their version 4 ids. Keys that end in an id are
// split by that length, so a 0x00 inside an indexed value is harmless. Empty
// values (externalId, emails) are not indexed: a lookup of "" finds nothing.
// An empty userName or group displayName is refused, as it has no unique key.
// Keys are limited to 32 KiB by bbolt, which bounds the indexed values; the
// caller caps them long before that.
//
// Everything of a user or group lives in its directory's bucket, so every
// lookup is scoped by construction: an id of another directory is simply
// not there, and is store.ErrNotFound like an id that never existed.
//
// # Transactions and durability
//
// Every write method is one callback run in a bbolt read-write
// transaction committed with fsync (NoSync is never set); the callback
// writes the resource, only the index keys whose values changed (a create
// stages its user's instead: staged.go), only the
// memberships that change (two keys each), the new version of every user
// or group whose representation changed, the counters, and the write's
// events with the org's new last seq. A write that returned nil is on disk
// with its events: no write returns before the commit that holds it has
// been fsync'd. A write that returned an error wrote nothing, no event and
// no seq. bbolt runs one writer at a time and the callbacks of a
// transaction run one after the other, so uniqueness checks and writes
// cannot interleave: of two concurrent creates of the same userName
// exactly one succeeds. Reads are View transactions and run concurrently
// with each other and with the writer. The context is checked before a
// write is queued; bbolt cannot stop one midway.
//
// Group commit (commit.go). Concurrent writes share a transaction and its
// two fsyncs. A write that finds no commit in progress leads: it at once
// runs what is queued (itself, when alone) and commits, so a lone writer
// waits for nobody and there is no timer (db.Batch, whose calls wait
// MaxBatchDelay, is not used). Writes that arrive meanwhile queue up; the
// leader, once its commit is on disk, hands the lead to the oldest of them,
// which runs the whole queue (at most 1,000 writes) as the next
// transaction. Each write's callback runs in arrival order with its own
// outbox and clock reading. If they all succeed the transaction is
// committed and each write gets nil (or all get the commit's error). If
// one fails, bbolt having no savepoints, the transaction is rolled back,
// the writes before it run again and are committed, and then the failing
// write runs first in the next transaction, alone up to its failure, so
// the error it returns is its own and nothing of it, nor of a neighbour,
// is kept twice. A callback that panics is handled like a failure, and the
// panic is raised again in its own caller's goroutine. So a failure in a
// batch costs its neighbours a commit of their own: the refusal an IdP
// causes most, a create whose userName or group displayName is held
// already, is therefore made before the write is queued, in a read
// transaction (precheck), and the check in the write transaction only
// decides the races between concurrent creates.
//
// The rerun rule: a write callback may run more than once, and only its
// last run counts. So a callback has no effect outside its transaction:
// it sets the variables it reports through afresh on every run (fnErr,
// out, diff, ...), appends only to slices it made in that run, takes ids
// that must not change (the new resource's id) from before the callback,
// and leaves what must happen after the commit (waking the waiters of its
// org, putting compiled rules into the cache) to its outbox (outbox.post,
// outbox.n), which the committer runs once, after the commit that holds
// that run. The callbacks that callers give UpdateUser and UpdateGroup
// run inside it, so they may run more than once too, as store.Store
// says: they must be pure CPU work on the copy they are given. Writes through db.update
// (subscriptions, PruneEvents) are not batched: one transaction each, run
// once.
//
// Versions start at 1 and grow by one on every write to the resource,
// including a change of a user's groups (a group's members being added or
// removed, or the group being deleted), because the user's SCIM
// representation lists its groups. Created and Modified come from
// Options.Now, in UTC.
//
// Attributes must be valid JSON. They are stored and returned compacted
// (insignificant white space removed, nothing else changed), so a caller
// that needs byte equality should give compact JSON.
//
// # The outbox
//
// Events are appended by the write that causes them, inside its
// transaction, never anywhere else first: a crash at any point leaves
// either the change and all its events or neither, and the seq of the
// org's next event is always last+1. bbolt runs one writer at a time and the
// writes of a batch read the last seq their predecessors in the
// transaction left, so seqs are gap-free and never repeat whatever the
// concurrency; a rolled-back batch gives no seq away. An event's
// id is a random UUID (crypto/rand) written into its envelope, so a
// redelivery carries the same id. occurred_at is Options.Now of the write
// (the same instant as the Modified it gives the resource), the actor is
// store.ActorFrom of the write's context. Keys only grow, so the events
// bucket is filled to 100% (FillPercent 1.0). The envelope is the JSON of
// store.Event, written by hand (envelope.go) because a group delete appends
// one event per member; a test holds it byte-equal to encoding/json's.
//
// The counter (last) is kept apart from the events, so PruneEvents may
// delete every event, and the prune mark (pruned) tells a cursor that is
// too old (store.CursorExpiredError) from an outbox that is merely empty.
// PruneEvents deletes from the oldest event on and stops at the first one
// that is too young or that a subscriber may still need, at most
// store.MaxEventPrune per transaction. Events reads one View transaction,
// examines at most store.MaxEventScan events and decodes only the envelope
// fields a filter needs for the events it skips.
//
// Costs: a member event is 400 to 500 bytes and a few microseconds of CPU
// (BenchmarkAppendMemberEvent) on top of the two membership keys and the
// member's new version; every write that emits also rewrites about three
// more pages (the events leaf and the buckets above it). Deleting a group of
// 100,000 members is one transaction with 100,000 group.member_removed
// events (about 45 MB) that holds the writer for a few seconds, most of
// which the memberships and versions themselves already took
// (BenchmarkDeleteGroup).
//
// After a commit that appended events, the waiters of the org (WaitEvents)
// are woken, once per write whose committed run appended events, by closing one channel under a mutex that no I/O holds, so a
// live stream never slows a writer down. Close wakes them all.
//
// # Access
//
// Only people who hold a role have an access record (and index keys); the
// record has no rules version in it, so a publish rewrites only the people
// whose grants or reasons change. A SCIM write marks the users whose access
// it may change (a member added or removed, a user created, deactivated,
// reactivated, renamed or deleted, and every member of a group that is
// renamed or gets another externalId, which is O(members)) and, after its
// callback, recomputes each of them from their membership keys and their
// groups' records: a member add stays O(one person). Before that it reads
// one key (the org's current version): with no rules published nothing is
// computed. The compiled *mapping.Rules of the current version is cached in
// the DB per org (a rulescache.Cache), keyed by version: versions never change, a
// publish moves the key, and only committed versions are cached: a write
// reads a current version that an earlier write of its batch may have
// published and that may still roll back, so it caches what it parsed only
// after its commit (outbox.post). The
// counts give store.Workspaces and the org_admin count in O(1), which is
// how a write knows it left the org without an org_admin. The index is the
// order of WorkspaceMembers; its cursor is the rest of the last key,
// base64url.
//
// PublishRules parses the document before its transaction, then in one
// transaction reads the population of the org (one pass over each
// directory's groups and users, records and memberships), runs mapping.Simulate,
// checks the guards, and evaluates everyone again to write what changed.
// Over 10,000 people it holds the writer for about 0.35 s when nobody's
// access changes and 0.6 s when everybody's does (BenchmarkPublish). A
// member add costs about 0.27 ms of CPU without rules and 0.55 ms with the
// example rules (BenchmarkAccessMemberAdd, fsync off; with fsync both are
// about 2 ms).
//
// # Listings
//
// ListUsers and ListGroups first compute candidate ids from the indexes
// when the query has a Plan (an id lookup is a primary-key Get; a
// userName, displayName or email lookup folds the value; externalId is
// exact; Prefix is a range scan; And intersects; Or unites), then read the
// candidates in id order. An email lookup also reads the users whose
// userName matches, to keep those that have the email (the email index
// leaves out a user's own userName); the ones it drops count in Examined.
// A user lookup also takes the staged users that memory finds by the
// value and that are in the snapshot with it (staged.go).
// Without a Plan they walk the resource bucket in id order. Query.Match is applied to every record read; Total counts the
// matches. Without SortKey the page is taken while walking; with SortKey the
// (key, id) of every match is kept, sorted, and the page is read again.
// Examined counts the records decoded. When there is neither Match nor
// SortKey only the page is decoded: Total is the number of candidates, or
// without a Plan the directory's counter.
//
// # Byte lifetimes
//
// bbolt's keys and values point into the mmap and are valid only inside
// their transaction. Every value this package returns is decoded or copied
// before the transaction ends, so callers own what they get and may keep or
// modify it. Record.Attributes given to Match and SortKey are valid only
// during that call. store.Members given to an UpdateGroup callback reads the
// live transaction and must not be used after the callback returns.
//
// # Reading records without encoding/json
//
// User records are read by fastDecodeUser, which parses the exact form
// encode writes and hands anything else to encoding/json; the data of user
// events is spliced into the stored document (spliceUserData). Both are
// held to the encoding/json path by fuzz tests.
//
// # Mapped pages
//
// Reads go through bbolt's mmap, and copy-on-write moves the pages a writer
// touches around the file, so the pages this process has mapped grow to the
// size of the file. ReleaseMapped (Linux) gives them back to the page cache
// with madvise; serve calls it every 10 seconds.
package bolt
