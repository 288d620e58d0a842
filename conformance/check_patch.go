package conformance

import (
	"context"
	"net/http"
	"slices"
)

// PATCH in the shapes of RFC 7644 section 3.5.2. Every check creates its
// own user.
var patchChecks = []check{
	{name: "patch/replace-with-path", run: checkPatchReplacePath},
	{name: "patch/replace-without-path", run: checkPatchReplaceNoPath},
	{name: "patch/add-with-path", run: checkPatchAddPath},
	{name: "patch/add-without-path", run: checkPatchAddNoPath},
	{name: "patch/add-multi-valued", run: checkPatchAddMultiValued},
	{name: "patch/remove-with-path", run: checkPatchRemovePath},
	{name: "patch/remove-value-filter", run: checkPatchRemoveFilter},
	{name: "patch/replace-value-filter-sub-attribute", run: checkPatchReplaceFilterSub},
	{name: "patch/replace-complex-keeps-sub-attributes", run: checkPatchComplexReplace},
	{name: "patch/replace-sub-attribute-path", run: checkPatchSubAttributePath},
	{name: "patch/replace-active", run: checkPatchActive},
	{name: "patch/extension-urn-path", run: checkPatchExtension},
	{name: "patch/no-target", run: checkPatchNoTarget},
	{name: "patch/remove-without-path", run: checkPatchRemoveNoPath},
	{name: "patch/atomic", run: checkPatchAtomic},
	{name: "patch/malformed-path", run: checkPatchMalformedPath},
	{name: "patch/read-only-id", run: checkPatchReadOnlyID},
}

// twoEmails is a user attribute set with a work and a home email and a
// full name, for the PATCH checks that must leave siblings alone.
func twoEmails(s *suite, label string) map[string]any {
	return map[string]any{
		"emails": []any{
			map[string]any{"value": s.name(label) + "@example.com", "type": "work", "primary": true},
			map[string]any{"value": s.name(label) + "@home.example.org", "type": "home"},
		},
		"name":     map[string]any{"givenName": "Pat", "familyName": "Lee", "middleName": "Quinn"},
		"title":    "Engineer",
		"nickName": "pq",
	}
}

// patchFresh creates a user and PATCHes it, verifying both the answer and
// the user read back.
func patchFresh(ctx context.Context, s *suite, label string, extra map[string]any, verify func(u map[string]any) error, ops ...map[string]any) error {
	u, err := s.createUser(ctx, label, extra)
	if err != nil {
		return err
	}
	return s.patchUser(ctx, str(u, "id"), verify, ops...)
}

func checkPatchReplacePath(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", nil, func(u map[string]any) error {
		return wantValue(u, "Replaced", "displayName")
	}, op("replace", "displayName", "Replaced"))
}

// Path-less replace: each key of the value object replaces that attribute.
func checkPatchReplaceNoPath(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", map[string]any{"title": "Before"}, func(u map[string]any) error {
		if err := wantValue(u, "Replaced", "displayName"); err != nil {
			return err
		}
		return wantValue(u, "After", "title")
	}, op("replace", "", map[string]any{"displayName": "Replaced", "title": "After"}))
}

func checkPatchAddPath(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", nil, func(u map[string]any) error {
		return wantValue(u, "Added", "nickName")
	}, op("add", "nickName", "Added"))
}

func checkPatchAddNoPath(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", nil, func(u map[string]any) error {
		if err := wantValue(u, "Added", "nickName"); err != nil {
			return err
		}
		return wantValue(u, "Added title", "title")
	}, op("add", "", map[string]any{"nickName": "Added", "title": "Added title"}))
}

// add on a multi-valued attribute appends (RFC 7644 section 3.5.2.1).
func checkPatchAddMultiValued(ctx context.Context, s *suite) error {
	extra := twoEmails(s, "patch")
	other := s.name("patch") + "@other.example.org"
	return patchFresh(ctx, s, "patch", extra, func(u map[string]any) error {
		want := sorted(other, str(list(extra, "emails")[0], "value"), str(list(extra, "emails")[1], "value"))
		if got := values(u, "emails"); !slices.Equal(got, want) {
			return failf("emails = %v; want %v (add appends)", got, want)
		}
		return nil
	}, op("add", "emails", []any{map[string]any{"value": other, "type": "other"}}))
}

func checkPatchRemovePath(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", map[string]any{"nickName": "gone"}, func(u map[string]any) error {
		if err := wantAbsent(u, "nickName"); err != nil {
			return err
		}
		return wantValue(u, "Conformance patch", "displayName")
	}, op("remove", "nickName", nil))
}

func checkPatchRemoveFilter(ctx context.Context, s *suite) error {
	extra := twoEmails(s, "patch")
	work := str(list(extra, "emails")[0], "value")
	return patchFresh(ctx, s, "patch", extra, func(u map[string]any) error {
		if got := values(u, "emails"); !slices.Equal(got, []string{work}) {
			return failf("emails = %v; want only the work email %s", got, work)
		}
		return nil
	}, op("remove", `emails[type eq "home"]`, nil))
}

// replace through a value filter changes the matching element's
// sub-attribute and leaves the other elements alone.
func checkPatchReplaceFilterSub(ctx context.Context, s *suite) error {
	extra := twoEmails(s, "patch")
	home := str(list(extra, "emails")[1], "value")
	next := s.name("patch") + "@new.example.org"
	return patchFresh(ctx, s, "patch", extra, func(u map[string]any) error {
		if got, want := values(u, "emails"), sorted(next, home); !slices.Equal(got, want) {
			return failf("emails = %v; want %v", got, want)
		}
		if w := element(u, "emails", "value", next); str(w, "type") != "work" {
			return failf("the replaced email lost its type: %s", jsonText(w))
		}
		return nil
	}, op("replace", `emails[type eq "work"].value`, next))
}

// RFC 7644 section 3.5.2.3: replacing a complex attribute with some of its
// sub-attributes leaves the others unchanged.
func checkPatchComplexReplace(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", twoEmails(s, "patch"), func(u map[string]any) error {
		if err := wantValue(u, "Patricia", "name", "givenName"); err != nil {
			return err
		}
		if err := wantValue(u, "Lee", "name", "familyName"); err != nil {
			return err
		}
		return wantValue(u, "Quinn", "name", "middleName")
	}, op("replace", "name", map[string]any{"givenName": "Patricia"}))
}

func checkPatchSubAttributePath(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "patch", twoEmails(s, "patch"), func(u map[string]any) error {
		if err := wantValue(u, "Li", "name", "familyName"); err != nil {
			return err
		}
		return wantValue(u, "Pat", "name", "givenName")
	}, op("replace", "name.familyName", "Li"))
}

// Deactivation the RFC way (Entra's compliant mode, Okta's OIN apps use the
// path-less form): active becomes the boolean false, and back.
func checkPatchActive(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "patch", nil)
	if err != nil {
		return err
	}
	id := str(u, "id")
	if err := s.patchUser(ctx, id, func(u map[string]any) error {
		return wantValue(u, false, "active")
	}, op("replace", "active", false)); err != nil {
		return err
	}
	return s.patchUser(ctx, id, func(u map[string]any) error {
		return wantValue(u, true, "active")
	}, op("replace", "active", true))
}

func checkPatchExtension(ctx context.Context, s *suite) error {
	if err := s.needEnterprise(); err != nil {
		return err
	}
	return patchFresh(ctx, s, "patch", nil, func(u map[string]any) error {
		if err := wantValue(u, "E-2001", enterpriseURN, "employeeNumber"); err != nil {
			return err
		}
		if err := wantValue(u, "Conformance", enterpriseURN, "department"); err != nil {
			return err
		}
		if !hasString(list(u, "schemas"), enterpriseURN) {
			return failf("schemas = %s; want it to list %s once the extension has values", jsonText(get(u, "schemas")), enterpriseURN)
		}
		return nil
	},
		op("add", enterpriseURN+":employeeNumber", "E-2001"),
		op("replace", enterpriseURN+":department", "Conformance"))
}

// wantRefused sends a PATCH that must fail with 400 (and one of scimTypes
// when given) and checks that the user is unchanged.
func wantRefused(ctx context.Context, s *suite, id string, scimTypes []string, ops ...map[string]any) error {
	before, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "PATCH", userPath(id), patchBody(ops...))
	if err != nil {
		return err
	}
	if err := r.wantSCIMError(http.StatusBadRequest, scimTypes...); err != nil {
		return err
	}
	after, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	for _, k := range []string{"displayName", "emails", "name", "title", "active"} {
		if jsonText(get(before, k)) != jsonText(get(after, k)) {
			return failf("the refused PATCH changed %s: %s -> %s", k, jsonText(get(before, k)), jsonText(get(after, k)))
		}
	}
	return nil
}

// RFC 7644 section 3.5.2.3: replace through a value filter that matches
// nothing is 400 noTarget. With the entra profile only a filter that is
// not a plain eq is sent: Entra reads a replace through
// emails[type eq "work"] that matches nothing as "create it", and a server
// set up for Entra may follow it there.
func checkPatchNoTarget(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "patch", twoEmails(s, "patch"))
	if err != nil {
		return err
	}
	paths := []string{`emails[type eq "pager"].value`, `emails[type co "pag"].value`}
	if s.profile == ProfileEntra {
		paths = paths[1:]
	}
	for _, path := range paths {
		if err := wantRefused(ctx, s, str(u, "id"), []string{"noTarget"}, op("replace", path, "x@example.com")); err != nil {
			return err
		}
	}
	return nil
}

// RFC 7644 section 3.5.2.2: remove without a path is 400 noTarget.
func checkPatchRemoveNoPath(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "patch", nil)
	if err != nil {
		return err
	}
	return wantRefused(ctx, s, str(u, "id"), []string{"noTarget"}, op("remove", "", nil))
}

// RFC 7644 section 3.5.2: a PATCH is atomic; when its second operation
// fails, the first is not applied.
func checkPatchAtomic(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "patch", nil)
	if err != nil {
		return err
	}
	return wantRefused(ctx, s, str(u, "id"), nil,
		op("replace", "displayName", "Must not be applied"),
		op("remove", "", nil))
}

func checkPatchMalformedPath(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "patch", nil)
	if err != nil {
		return err
	}
	return wantRefused(ctx, s, str(u, "id"), []string{"invalidPath"}, op("replace", `emails[type eq "work"`, "x@example.com"))
}

// RFC 7644 section 3.5.2: an operation that is not compatible with the
// attribute's mutability (id is readOnly) fails.
func checkPatchReadOnlyID(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "patch", nil)
	if err != nil {
		return err
	}
	id := str(u, "id")
	if err := wantRefused(ctx, s, id, []string{"mutability", "invalidPath"}, op("replace", "id", randomUUID())); err != nil {
		return err
	}
	_, err = s.read(ctx, userPath(id))
	return err
}
