// Package edge decides, at the HTTP edge and before any handler runs,
// whether a request is admitted: per-token rate limits (Limiter), IP
// allowlists (Allowlist), the client address behind trusted reverse
// proxies (Proxies) and a bound on the requests running at once
// (Concurrency). It is a package of its own because the SCIM API, the
// admin API and the SSO endpoints all admit requests the same way, and a
// fix to any of these rules must apply to all three.
//
// It never writes a response body of its own: each surface has its own
// error format, so refusals go back to the caller (Allow's result, a
// reject callback) and the caller renders them. It does not log, read the
// store, or know what a token, an org or a directory is: keys are opaque
// strings and limits are passed in by the caller.
//
// Caveats:
//
//   - Limiter state lives in the memory of one process. Behind a load
//     balancer with N replicas a key can get up to N times its rate.
//   - Proxies trusts X-Forwarded-For only from peers the operator listed;
//     with no proxies configured the client address is the TCP peer.
//   - An empty Allowlist allows every address; an empty Proxies trusts
//     none.
package edge
