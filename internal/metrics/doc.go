// Package metrics owns scimbridge's Prometheus metrics: their names,
// labels and buckets, the registry they live in, the HTTP middleware that
// counts and times requests, and the collectors that read the outbox and
// the tokens at scrape time. It is a package of its own because the SCIM
// API, the admin API and the SSO endpoints all report into the same
// metrics, and the name and labels of a metric are a contract with the
// dashboards and alerts built on it: they are defined once, here.
//
// Every metric is registered on a registry of the package's own (never
// the global default registry, so nothing a dependency registers leaks
// into the scrape), with the Go runtime and process collectors beside
// them. Handler serves it.
//
// The package does not import the store or any surface. What it needs
// from them comes in as plain values and callbacks: the route of a
// request (a pattern, never a raw path), the outbox and token statistics
// (OutboxStat, TokenStat) read at scrape time, the number of requests in
// flight. It does not log: a failing callback is counted in
// scimbridge_metrics_source_errors_total and the rest of the scrape goes
// on.
//
// Cardinality is bounded by construction, and callers must keep it so:
// labels take route patterns, surfaces, reasons and methods from small
// fixed sets (an unknown HTTP method is counted as "other"), and ids only
// where the set of ids is small and owned by the operator (tokens,
// subscriptions). Never pass a user id, a path with ids or a raw error
// message as a label.
//
// A nil *Metrics is valid and records nothing, so a component can be
// built without metrics in tests.
package metrics
