// Package events delivers the outbox of each org (package store) to the
// org's subscriptions: signed webhooks and a Splunk HTTP Event Collector
// sink. It owns the delivery rules (order, batching, signing, retries,
// backoff, failing and paused states), the egress guard that keeps a
// subscription URL from reaching the internal network, and the retention
// job that prunes the outbox. It must never be a second source of truth:
// it reads events only from the store's outbox and keeps its progress only
// in the subscription's Cursor, and it must never slow a SCIM write (it
// only reads the outbox, and writes one small subscription record per
// delivery attempt).
//
// # Delivery
//
// A Deliverer runs one goroutine per subscription (Run starts and stops
// them as subscriptions appear and disappear, polling the store every
// Config.PollInterval). Each reads its org's outbox after its Cursor with
// its type and directory filter, posts at most Config.BatchSize events in
// one request, and advances the Cursor in the store only after a 2xx. So
// delivery is at least once and in seq order per subscription: a failed
// or timed-out request is sent again from the same cursor (possibly with
// more events appended to the batch), never skipped. Receivers
// de-duplicate by each event's id. A slow or dead receiver holds only its
// own goroutine: other subscriptions and SCIM writes never wait for it.
// New events wake the goroutine through store.EventWaiter (no polling
// delay); admin changes (replay, resume, delete) are seen within
// PollInterval.
//
// A failed attempt (network error, timeout, non-2xx, redirect) is retried
// after an exponential backoff with full jitter: a random wait in
// (0, min(BackoffCap, BackoffBase·2^(n-1))]. After FailingAfter failures
// in a row the subscription is marked failing (visible in the admin API)
// and keeps being retried at the cap. When a streak of failures has lasted
// MaxRetryAge (default three days) the subscription is paused: no more
// attempts until an administrator resumes or replays it. A paused or
// failing subscription still holds back pruning at its cursor, so nothing
// is lost while it is down; delete it to release the events. A cursor that
// expired (its events were pruned) marks the subscription failing with an
// error that says from which seq it can replay.
//
// # Webhooks
//
// A webhook request is a POST of {"events": [envelope, ...]} (always an
// array, one event or a batch, in seq order) with Content-Type
// application/json, User-Agent scimbridge, Scimbridge-Event-Id (the id of
// the first event of the batch), Scimbridge-Subscription-Id, and
// Scimbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over
// "<t>.<body>" keyed with the subscription secret>. See README-section.md
// for how a receiver verifies it.
//
// # Splunk
//
// A Splunk subscription POSTs to <url>/services/collector with
// Authorization: Splunk <token> a body of HEC events, one JSON object per
// line: {"time": <occurred_at, unix seconds>, "source": "scimbridge",
// "sourcetype": <configured>, "event": <envelope>}. The cursor, batching,
// retry and ordering rules are the webhook's.
//
// # Egress guard
//
// Subscription URLs must be https (ValidateURL); http is allowed only to
// a loopback host when Config.AllowInsecureHTTP is set, for development.
// Every connection is checked at dial time, on the resolved address
// (net.Dialer.Control), so a DNS name that resolves, or later re-resolves,
// to a loopback, private, link-local, CGNAT, unspecified, multicast or
// otherwise reserved address (IPv4, IPv6, or IPv4 embedded in IPv6) is
// refused unless Config.AllowPrivateNetworks is set. Redirects are not
// followed (a 3xx is a failure), proxies from the environment are not
// used, responses are read up to 64 KiB and never stored beyond a short,
// quoted excerpt in LastError, and every request has connect and total
// timeouts.
//
// # Retention
//
// Prune (run by Run every Config.PruneInterval) deletes, in every org and
// in the outbox of org "", the events older than Config.Retention (default
// store.DefaultEventRetention, 30 days) that every subscription of the org
// has already passed.
package events
