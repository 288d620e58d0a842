// Package scim serves the SCIM 2.0 API (RFC 7643 and RFC 7644) of every
// directory: /Users, /Groups, /.search, and the discovery endpoints, under
// /scim/v2/{org}/{directory}. It turns HTTP into store operations and store
// records into SCIM JSON, and nothing else: it owns no state.
//
// It is built on github.com/elimity-com/scim for the SCIM model: the
// schemas and their attribute definitions (package schema, through
// scim/resource) and the error type (package errors). It serves every
// route itself rather than through that library's Server, because the
// library leaves nearly every resource route wrong for our needs:
// attributes, excludedAttributes and sortBy are not passed on GET,
// If-Match and If-None-Match are ignored, 409/412/304 are rewritten to 500,
// plain errors leak into response bodies, filters mixing core and
// extension attributes are refused while unknown attributes inside value
// paths pass, and its filter evaluator fails on stored data. Filters are
// ours (scim/filter, on github.com/scim2/filter-parser/v2), as is PATCH
// (scim/patch).
//
// Every request goes through, in order: routing with a single unescape of
// each path segment; bearer-token authentication bound to the directory
// of the URL (401 otherwise, identical for every failure); the body cap
// (413); strict JSON decoding (UTF-8, one object, no duplicate keys,
// bounded nesting); validation against the schema; one store call; and a
// response rendered from the stored record, with projection applied. Errors
// are rendered by one function (fail), which gives the client a precise
// status, scimType and detail and logs internal causes with the request id.
// Large groups are streamed from the store in chunks.
package scim
