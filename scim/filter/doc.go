// Package filter is the SCIM filter engine of scimbridge: it parses and
// validates the filter of a list or .search request (RFC 7644 section
// 3.4.2.2) against a resource type, evaluates it against stored documents,
// compiles the parts that an index can answer into a store.Plan, extracts
// sort keys (section 3.4.2.3), and validates and evaluates the value
// filters of PATCH paths (emails[type eq "work"], members[value eq "id"]).
//
// Parsing is github.com/scim2/filter-parser/v2 (imported as scimfilter),
// except that a filter that is a single comparison, such as the
// userName eq "…" every IdP sends, is built from the pre-scan's tokens
// without the parser, which costs some 2 000 allocations for it; tests and
// the fuzzer check that both paths yield the same AST. Everything after the
// AST is ours. The package does no I/O, keeps no state, never logs and never
// panics on any filter or any stored document shape: a stored value of an
// unexpected type simply does not match. Shapes are read strictly, as
// resource.Type.Normalize writes them (a multi-valued attribute has values
// only as an array, a complex one only as an object), so that Match never
// finds a resource that an index built from the same document would miss.
//
// # Validation
//
// Every attribute is resolved through resource.Type.Resolve, also inside
// value filters ([...]): an unknown attribute, sub-attribute or schema URN
// (foo:bar eq 1) is a 400 invalidFilter, never an unfiltered list.
// Attributes that are never returned (password) or not stored with the
// resource (Group members, User groups, schemas, meta.location,
// manager.displayName) are refused in list filters with a detail that says
// so. Core and extension attributes mix freely, URN-qualified or not. The
// literal must suit the attribute's type: strings for string, reference and
// binary attributes; true/false for booleans; numbers for integers and
// decimals; RFC 3339 strings for dateTime. gt/ge/lt/le on booleans and
// binaries, and co/sw/ew on booleans, numbers and dateTimes, are 400. A
// complex attribute takes only pr (and eq/ne null); compare its
// sub-attributes instead.
//
// # Semantics
//
//   - A comparison on a multi-valued attribute (emails.value eq "x")
//     matches when some value matches. ne follows the same rule: it
//     matches when the attribute has a value that differs, so a resource
//     without the attribute matches neither eq nor ne; use not (...) for
//     the complement.
//   - null (RFC 7643 section 2.5: unassigned, null and empty are the same
//     state): "eq null" means absent (not pr), "ne null" means present
//     (pr); null with any other operator is a 400.
//   - pr: not null, not an empty string, not an empty array, and for a
//     complex value, some sub-value present.
//   - Case-insensitive string attributes (caseExact false: userName,
//     emails.value, displayName, …) compare through store.Fold, the fold
//     that the store's indexes use, for eq, ne, co, sw, ew and the
//     orderings; case-exact ones (id, externalId, meta.version, references)
//     compare bytes. gt/ge/lt/le on strings compare code points.
//   - dateTime values (meta.created, meta.lastModified) compare as
//     instants; both sides are parsed as RFC 3339, and a literal that does
//     not parse is a 400.
//   - String literals are decoded per JSON (ParseValueString): the parser
//     keeps escapes, so userName eq "a\"b\\c" finds the user a"b\c.
//
// # Lenient forms
//
// Accepted beyond RFC 7644, because identity providers send them:
//   - leading and trailing whitespace is trimmed, and tabs and line breaks
//     outside string literals count as spaces;
//   - a bare word where a value belongs (externalId eq jyoung, from
//     Microsoft's documentation) is a string unless it is true, false, null
//     or a JSON number; a bare word with a quote or backslash in it is not
//     rewritten and fails to parse (userName eq 'x' is a 400);
//   - lower-case hex digits in \u escapes (\u00e9), which JSON allows and
//     the parser refuses;
//   - attr[filter].sub op value (emails[type eq "work"].value eq "x", sent
//     by Entra's tooling, elimity-com/scim issue 150) is read as
//     attr[filter and sub op value], only when the brackets hold a single
//     comparison;
//   - "True"/"False" (any case) as a string literal compared with a
//     boolean attribute (roles[primary eq "True"]).
//
// String renders the canonical form, in which none of these remain.
//
// # Limits
//
// Limits bound the work before the parser runs, since the parser takes
// about a microsecond per byte and far longer on nesting: the length
// (default 4096 bytes) and UTF-8 validity are checked first, then one
// linear scan outside string literals measures the nesting of ( and [
// (default 16; not always carries parentheses, so it counts once) and
// counts and/or keywords, so that 50 000 nested parentheses or 10 000 or
// terms are refused in microseconds. The exact number of comparisons
// (default 64) is checked while compiling. Exceeding a limit is a 400
// invalidFilter whose detail names the limit.
//
// # Planning
//
// Plan compiles what an index can answer (see plan.go for the rules):
// userName eq/sw, emails.value eq, id eq and externalId eq for users;
// displayName eq/sw, id eq and externalId eq for groups; and of plannable
// parts, or of plannable parts. The plan is a superset of the matches and
// the caller must apply Match to every candidate; the fold of every
// case-insensitive index is store.Fold, the same as Match's, so an index
// lookup and a full scan always agree.
package filter
