package conformance

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The request shapes each IdP really sends (see the package
// documentation). They run only with their profile.

var entraChecks = []check{
	{name: "entra/capitalised-ops", profile: ProfileEntra, run: checkEntraCapitalisedOps},
	{name: "entra/string-booleans", profile: ProfileEntra, run: checkEntraStringBooleans},
	{name: "entra/per-attribute-ops", profile: ProfileEntra, run: checkEntraPerAttributeOps},
	{name: "entra/path-less-dotted-map", profile: ProfileEntra, run: checkEntraDottedMap},
	{name: "entra/value-filter-upsert", profile: ProfileEntra, run: checkEntraUpsert},
	{name: "entra/manager", profile: ProfileEntra, run: checkEntraManager},
	{name: "entra/create-user", profile: ProfileEntra, run: checkEntraCreateUser},
	{name: "entra/filter-probes", profile: ProfileEntra, run: checkEntraFilterProbes},
	{name: "entra/group-microsoft-schema", profile: ProfileEntra, run: checkEntraGroupSchema},
	{name: "entra/group-members-value-list", profile: ProfileEntra, run: checkEntraMembersValueList},
	{name: "entra/group-rename", profile: ProfileEntra, run: checkEntraGroupRename},
}

// E1, E2: Entra's default mode capitalises ops and uses Add on a
// single-valued attribute to set it.
func checkEntraCapitalisedOps(ctx context.Context, s *suite) error {
	return patchFresh(ctx, s, "entra", map[string]any{"title": "Old title"}, func(u map[string]any) error {
		if err := wantValue(u, "Tess Ng", "displayName"); err != nil {
			return err
		}
		if err := wantValue(u, "Tess", "nickName"); err != nil {
			return err
		}
		return wantAbsent(u, "title")
	},
		op("Replace", "displayName", "Tess Ng"),
		op("Add", "nickName", "Tess"),
		op("Remove", "title", nil))
}

// E1: "False" and "True" as strings for active, with Replace and with Add.
func checkEntraStringBooleans(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "entra", nil)
	if err != nil {
		return err
	}
	id := str(u, "id")
	for _, step := range []struct {
		op, value string
		want      bool
	}{
		{"Replace", "False", false},
		{"Replace", "True", true},
		{"Add", "False", false},
	} {
		if err := s.patchUser(ctx, id, func(u map[string]any) error {
			return wantValue(u, step.want, "active")
		}, op(step.op, "active", step.value)); err != nil {
			return fmt.Errorf("%s active %q: %w", step.op, step.value, err)
		}
	}
	return nil
}

// E3, default mode: one op per attribute, dotted sub-attribute paths, a
// filtered multi-valued path and a URN-qualified extension path.
func checkEntraPerAttributeOps(ctx context.Context, s *suite) error {
	extra := twoEmails(s, "entra")
	home := str(list(extra, "emails")[1], "value")
	work := s.name("entra") + "@contoso.example"
	ext := randomUUID()
	ops := []map[string]any{
		op("Replace", "displayName", "Tess Ng"),
		op("Replace", `emails[type eq "work"].value`, work),
		op("Replace", "name.givenName", "Tess"),
		op("Replace", "name.familyName", "Ng"),
		op("Replace", "externalId", ext),
	}
	if s.enterprise {
		ops = append(ops, op("Replace", enterpriseURN+":employeeNumber", "E-1042"))
	}
	return patchFresh(ctx, s, "entra", extra, func(u map[string]any) error {
		for _, w := range []struct {
			want any
			path []string
		}{
			{"Tess Ng", []string{"displayName"}},
			{"Tess", []string{"name", "givenName"}},
			{"Ng", []string{"name", "familyName"}},
			{"Quinn", []string{"name", "middleName"}},
			{ext, []string{"externalId"}},
		} {
			if err := wantValue(u, w.want, w.path...); err != nil {
				return err
			}
		}
		if got, want := values(u, "emails"), sorted(work, home); !slices.Equal(got, want) {
			return failf("emails = %v; want %v", got, want)
		}
		if s.enterprise {
			return wantValue(u, "E-1042", enterpriseURN, "employeeNumber")
		}
		return nil
	}, ops...)
}

// E3 with aadOptscim062020: a path-less replace whose value is a map of
// dotted and URN-qualified keys, beside a filtered path.
func checkEntraDottedMap(ctx context.Context, s *suite) error {
	extra := twoEmails(s, "entra")
	home := str(list(extra, "emails")[1], "value")
	work := s.name("entra") + "@contoso.example"
	m := map[string]any{
		"displayName":     "Tess Ng",
		"name.givenName":  "Tess",
		"name.familyName": "Ng",
	}
	if s.enterprise {
		m[enterpriseURN+":employeeNumber"] = "E-1042"
	}
	return patchFresh(ctx, s, "entra", extra, func(u map[string]any) error {
		if err := wantValue(u, "Tess Ng", "displayName"); err != nil {
			return err
		}
		if err := wantValue(u, map[string]any{"givenName": "Tess", "familyName": "Ng", "middleName": "Quinn"}, "name"); err != nil {
			return err
		}
		if got, want := values(u, "emails"), sorted(work, home); !slices.Equal(got, want) {
			return failf("emails = %v; want %v", got, want)
		}
		if s.enterprise {
			return wantValue(u, "E-1042", enterpriseURN, "employeeNumber")
		}
		return nil
	},
		op("replace", `emails[type eq "work"].value`, work),
		op("replace", "", m))
}

// E4: Add through a filter that matches nothing creates the element, and
// several Adds through one filter build one element.
func checkEntraUpsert(ctx context.Context, s *suite) error {
	home := s.name("entra") + "@home.example.org"
	work := s.name("entra") + "@contoso.example"
	return patchFresh(ctx, s, "entra", map[string]any{
		"emails": []any{map[string]any{"value": home, "type": "home"}},
	}, func(u map[string]any) error {
		if got, want := values(u, "emails"), sorted(work, home); !slices.Equal(got, want) {
			return failf("emails = %v; want %v", got, want)
		}
		if w := element(u, "emails", "value", work); str(w, "type") != "work" {
			return failf("the created email is %s; want type work", jsonText(w))
		}
		addrs := list(u, "addresses")
		if len(addrs) != 1 {
			return failf("addresses = %s; want one work address built from both operations", jsonText(addrs))
		}
		for k, v := range map[string]string{"type": "work", "locality": "Redmond", "postalCode": "98052"} {
			if str(addrs[0], k) != v {
				return failf("addresses = %s; want %s %q", jsonText(addrs), k, v)
			}
		}
		return nil
	},
		op("Add", `emails[type eq "work"].value`, work),
		op("Add", `addresses[type eq "work"].locality`, "Redmond"),
		op("Add", `addresses[type eq "work"].postalCode`, "98052"))
}

// E6: the manager as [{"$ref", "value"}] under the path "manager", and as
// a plain id under the URN-qualified path.
func checkEntraManager(ctx context.Context, s *suite) error {
	if err := s.needEnterprise(); err != nil {
		return err
	}
	managers, err := s.createUsers(ctx, "manager", 2)
	if err != nil {
		return err
	}
	u, err := s.createUser(ctx, "entra", nil)
	if err != nil {
		return err
	}
	id := str(u, "id")
	if err := s.patchUser(ctx, id, func(u map[string]any) error {
		return wantValue(u, managers[0], enterpriseURN, "manager", "value")
	}, op("Add", "manager", []any{map[string]any{"$ref": s.base + userPath(managers[0]), "value": managers[0]}})); err != nil {
		return err
	}
	return s.patchUser(ctx, id, func(u map[string]any) error {
		return wantValue(u, managers[1], enterpriseURN, "manager", "value")
	}, op("Add", enterpriseURN+":manager", managers[1]))
}

// E8: the create body of Entra's default mappings.
func checkEntraCreateUser(ctx context.Context, s *suite) error {
	userName := s.userName("entra")
	ext := "tng" + randomHex(4)
	body := map[string]any{
		"schemas":     []any{userURN},
		"externalId":  ext,
		"userName":    userName,
		"active":      true,
		"displayName": "Tess Ng",
		"emails":      []any{map[string]any{"primary": true, "type": "work", "value": userName}},
		"meta":        map[string]any{"resourceType": "User"},
		"name":        map[string]any{"formatted": "Tess Ng", "familyName": "Ng", "givenName": "Tess"},
		"roles":       []any{},
	}
	if s.enterprise {
		body["schemas"] = []any{userURN, enterpriseURN}
		body[enterpriseURN] = map[string]any{"department": "ML Platform", "employeeNumber": "E-1042"}
	}
	u, err := s.create(ctx, "/Users", body)
	if err != nil {
		return err
	}
	stored, err := s.read(ctx, userPath(str(u, "id")))
	if err != nil {
		return err
	}
	if err := wantValue(stored, ext, "externalId"); err != nil {
		return err
	}
	if err := wantValue(stored, "Tess Ng", "name", "formatted"); err != nil {
		return err
	}
	if s.enterprise {
		return wantValue(stored, "ML Platform", enterpriseURN, "department")
	}
	return nil
}

// E10: the lookups Entra sends before it creates or updates a user.
func checkEntraFilterProbes(ctx context.Context, s *suite) error {
	ext := randomUUID()
	u, err := s.createUser(ctx, "entra", map[string]any{"externalId": ext})
	if err != nil {
		return err
	}
	id := str(u, "id")
	for _, f := range []string{
		"userName eq " + quote(str(u, "userName")),
		"externalId eq " + quote(ext),
		`emails[type eq "work"].value eq ` + quote(str(u, "userName")),
	} {
		r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery(f), nil)
		if err != nil {
			return err
		}
		if err := r.wantObject(http.StatusOK); err != nil {
			return err
		}
		if got := r.ids(); len(got) != 1 || got[0] != id {
			return failf("filter %s found %v; want exactly %s", f, got, id)
		}
	}
	return nil
}

// E9: a group create with Microsoft's extra schema URI and no members,
// found again by the probes Entra sends.
func checkEntraGroupSchema(ctx context.Context, s *suite) error {
	ext := randomUUID()
	name := s.name("entra-group")
	g, err := s.create(ctx, "/Groups", map[string]any{
		"schemas":     []any{groupURN, microsoftGroupNS},
		"externalId":  ext,
		"displayName": name,
		"meta":        map[string]any{"resourceType": "Group"},
	})
	if err != nil {
		return err
	}
	if err := s.wantGroups(ctx, "displayName eq "+quote(name), str(g, "id")); err != nil {
		return err
	}
	return s.wantGroups(ctx, "externalId eq "+quote(ext), str(g, "id"))
}

// E5: Add and Remove members with a value list carrying "$ref": null;
// the removal takes out only the listed member.
func checkEntraMembersValueList(ctx context.Context, s *suite) error {
	users, err := s.createUsers(ctx, "entra", 2)
	if err != nil {
		return err
	}
	g, err := s.createGroup(ctx, "entra-group")
	if err != nil {
		return err
	}
	gid := str(g, "id")
	ref := func(id string) map[string]any { return map[string]any{"$ref": nil, "value": id} }
	if _, err := s.patch(ctx, groupPath(gid), op("Add", "members", []any{ref(users[0]), ref(users[1])})); err != nil {
		return err
	}
	if err := s.wantMembers(ctx, gid, users...); err != nil {
		return err
	}
	if _, err := s.patch(ctx, groupPath(gid), op("Remove", "members", []any{ref(users[0])})); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users[1])
}

// Entra renames with Replace displayName and expects 204 (200 is read
// as success too).
func checkEntraGroupRename(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "entra-group", 1)
	if err != nil {
		return err
	}
	name := s.name("entra-renamed")
	if err := s.patchAndVerify(ctx, groupPath(gid), func(g map[string]any) error {
		return wantValue(g, name, "displayName")
	}, op("Replace", "displayName", name)); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users...)
}

var oktaChecks = []check{
	{name: "okta/create-user", profile: ProfileOkta, run: checkOktaCreateUser},
	{name: "okta/user-lookup", profile: ProfileOkta, run: checkOktaLookup},
	{name: "okta/deactivate-path-less", profile: ProfileOkta, run: checkOktaDeactivatePatch},
	{name: "okta/deactivate-put", profile: ProfileOkta, run: checkOktaDeactivatePut},
	{name: "okta/put-profile-update", profile: ProfileOkta, run: checkOktaPutProfile},
	{name: "okta/reactivation-keeps-groups", profile: ProfileOkta, run: checkOktaReactivation},
	{name: "okta/group-push", profile: ProfileOkta, run: checkOktaGroupPush},
	{name: "okta/group-membership-delta", profile: ProfileOkta, run: checkOktaMembershipDelta},
	{name: "okta/group-replace-members", profile: ProfileOkta, run: checkOktaReplaceMembers},
	{name: "okta/group-rename-with-id", profile: ProfileOkta, run: checkOktaRenameWithID},
	{name: "okta/application-json", profile: ProfileOkta, run: checkOktaApplicationJSON},
	{name: "okta/groups-list-under-600ms", profile: ProfileOkta, run: checkOktaGroupsFast},
}

// oktaUserBody is Okta's create body: a random password, groups: [],
// locale, an Okta user id as externalId.
func (s *suite) oktaUserBody(label string) map[string]any {
	userName := s.userName(label)
	return map[string]any{
		"schemas":     []any{userURN},
		"userName":    userName,
		"name":        map[string]any{"givenName": "Tess", "familyName": "Ng"},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": "Tess Ng",
		"locale":      "en-US",
		"externalId":  "00u" + randomHex(8),
		"groups":      []any{},
		"password":    "Okta-" + randomHex(6),
		"active":      true,
	}
}

func checkOktaCreateUser(ctx context.Context, s *suite) error {
	body := s.oktaUserBody("okta")
	r, err := s.do(ctx, "POST", "/Users", body)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return err
	}
	if strings.Contains(string(r.raw), body["password"].(string)) {
		return failf("the password is in the create response")
	}
	for _, k := range []string{"externalId", "locale"} {
		if err := wantValue(r.obj, body[k], k); err != nil {
			return err
		}
	}
	return wantValue(r.obj, true, "active")
}

// Okta's lookup before a create (upper case, startIndex=1&count=100), its
// test suite's count=1 read, and a lookup of an unknown user (200 empty or
// 404 are both accepted by Okta).
func checkOktaLookup(ctx context.Context, s *suite) error {
	u, err := s.create(ctx, "/Users", s.oktaUserBody("okta"))
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery("userName eq "+quote(strings.ToUpper(str(u, "userName"))))+"&startIndex=1&count=100", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if got := r.ids(); len(got) != 1 || got[0] != str(u, "id") {
		return failf("%s found %v; want exactly %s", r, got, str(u, "id"))
	}
	r, err = s.do(ctx, "GET", "/Users?filter="+filterQuery("userName eq "+quote(str(u, "userName")))+"&count=1", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	res := r.resources()
	if len(res) != 1 {
		return failf("%s: %d resources; want 1", r, len(res))
	}
	for _, path := range [][]string{{"name", "givenName"}, {"name", "familyName"}, {"userName"}} {
		if str(res[0], path...) == "" {
			return failf("%s: %s is missing (Okta's test suite requires it)", r, strings.Join(path, "."))
		}
	}
	if _, ok := boolean(res[0], "active"); !ok {
		return failf("%s: active = %s; want a boolean", r, jsonText(get(res[0], "active")))
	}
	if emails := list(res[0], "emails"); len(emails) == 0 || str(emails[0], "value") == "" {
		return failf("%s: emails[0].value is missing", r)
	}
	r, err = s.do(ctx, "GET", "/Users?filter="+filterQuery("userName eq "+quote(s.userName("okta-nobody")))+"&startIndex=1&count=100", nil)
	if err != nil {
		return err
	}
	if r.status == http.StatusNotFound {
		return r.wantSCIMError(http.StatusNotFound)
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if n, ok := integer(get(r.obj, "totalResults")); !ok || n != 0 {
		return failf("%s: totalResults = %s; want 0", r, jsonText(get(r.obj, "totalResults")))
	}
	return nil
}

// O1: OIN apps deactivate with a path-less replace of {"active": false}.
func checkOktaDeactivatePatch(ctx context.Context, s *suite) error {
	u, err := s.create(ctx, "/Users", s.oktaUserBody("okta"))
	if err != nil {
		return err
	}
	for _, active := range []bool{false, true} {
		if err := s.patchUser(ctx, str(u, "id"), func(u map[string]any) error {
			return wantValue(u, active, "active")
		}, op("replace", "", map[string]any{"active": active})); err != nil {
			return err
		}
	}
	return nil
}

// putBack GETs a user, lets change edit the whole resource (id, meta,
// groups and all, as Okta sends it), PUTs it, and verifies the result.
func (s *suite) putBack(ctx context.Context, id string, change func(u map[string]any), verify func(u map[string]any) error) error {
	u, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	change(u)
	r, err := s.do(ctx, "PUT", userPath(id), u)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := verify(r.obj); err != nil {
		return fmt.Errorf("in the PUT response: %w", err)
	}
	stored, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	if err := verify(stored); err != nil {
		return fmt.Errorf("read back after PUT: %w", err)
	}
	return nil
}

// App Integration Wizard apps deactivate and reactivate with PUT.
func checkOktaDeactivatePut(ctx context.Context, s *suite) error {
	u, err := s.create(ctx, "/Users", s.oktaUserBody("okta"))
	if err != nil {
		return err
	}
	for _, active := range []bool{false, true} {
		if err := s.putBack(ctx, str(u, "id"), func(u map[string]any) { u["active"] = active }, func(u map[string]any) error {
			return wantValue(u, active, "active")
		}); err != nil {
			return fmt.Errorf("PUT active=%v: %w", active, err)
		}
	}
	return nil
}

// O5: a profile change is GET then PUT of the whole resource, including
// the read-only groups the user is in, which must be ignored, not refused,
// and must not change the membership.
func checkOktaPutProfile(ctx context.Context, s *suite) error {
	u, err := s.create(ctx, "/Users", s.oktaUserBody("okta"))
	if err != nil {
		return err
	}
	id := str(u, "id")
	g, err := s.createGroup(ctx, "okta-group", id)
	if err != nil {
		return err
	}
	if err := s.putBack(ctx, id, func(u map[string]any) {
		u["displayName"] = "Tess Ng-Okta"
		u["name"] = map[string]any{"givenName": "Tessa", "familyName": "Ng"}
	}, func(m map[string]any) error {
		if err := wantValue(m, "Tess Ng-Okta", "displayName"); err != nil {
			return err
		}
		if err := wantValue(m, "Tessa", "name", "givenName"); err != nil {
			return err
		}
		if err := wantValue(m, str(u, "externalId"), "externalId"); err != nil {
			return err
		}
		return wantValue(m, str(u, "userName"), "userName")
	}); err != nil {
		return err
	}
	return s.wantMembers(ctx, str(g, "id"), id)
}

// Deactivation is a state, not a removal: a reactivated user is still in
// its groups (Okta expects memberships restored).
func checkOktaReactivation(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "okta-group", 1)
	if err != nil {
		return err
	}
	for _, active := range []bool{false, true} {
		if err := s.patchUser(ctx, users[0], func(u map[string]any) error {
			return wantValue(u, active, "active")
		}, op("replace", "", map[string]any{"active": active})); err != nil {
			return err
		}
	}
	if err := s.wantMembers(ctx, gid, users...); err != nil {
		return fmt.Errorf("after deactivation and reactivation: %w", err)
	}
	if s.groupsOnUser {
		got, err := s.userGroups(ctx, users[0])
		if err != nil {
			return err
		}
		if !slices.Contains(got, gid) {
			return failf("after reactivation the user's groups = %v; want %s", got, gid)
		}
	}
	return nil
}

// Okta pushes a group with members: [] and checks it exists by name.
func checkOktaGroupPush(ctx context.Context, s *suite) error {
	name := s.name("okta-group")
	g, err := s.create(ctx, "/Groups", map[string]any{"schemas": []any{groupURN}, "displayName": name, "members": []any{}})
	if err != nil {
		return err
	}
	return s.wantGroups(ctx, "displayName eq "+quote(name), str(g, "id"))
}

// O2: remove by filter and add by value list in one request.
func checkOktaMembershipDelta(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "okta-group", 1)
	if err != nil {
		return err
	}
	u, err := s.createUser(ctx, "okta", nil)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, groupPath(gid),
		op("remove", fmt.Sprintf("members[value eq %s]", quote(users[0])), nil),
		op("add", "members", []any{map[string]any{"value": str(u, "id"), "display": str(u, "userName")}}),
	); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, str(u, "id"))
}

// O3: replace the whole membership.
func checkOktaReplaceMembers(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "okta-group", 2)
	if err != nil {
		return err
	}
	u, err := s.createUser(ctx, "okta", nil)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, groupPath(gid), op("replace", "members", []any{
		map[string]any{"value": users[1], "display": "kept"},
		map[string]any{"value": str(u, "id"), "display": "added"},
	})); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users[1], str(u, "id"))
}

// O4: Okta sends a path-less replace of {id, displayName} with every
// membership update; with the same name it changes nothing, with a new
// one it renames, and the members stay.
func checkOktaRenameWithID(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "okta-group", 1)
	if err != nil {
		return err
	}
	g, err := s.read(ctx, groupPath(gid))
	if err != nil {
		return err
	}
	for _, name := range []string{str(g, "displayName"), s.name("okta-renamed")} {
		if err := s.patchAndVerify(ctx, groupPath(gid), func(g map[string]any) error {
			return wantValue(g, name, "displayName")
		}, op("replace", "", map[string]any{"id": gid, "displayName": name})); err != nil {
			return err
		}
		if err := s.wantMembers(ctx, gid, users...); err != nil {
			return err
		}
	}
	return nil
}

// O7: Okta's test suite sends Content-Type: application/json.
func checkOktaApplicationJSON(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, "POST", "/Users", s.oktaUserBody("okta"), "Content-Type", "application/json")
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return err
	}
	if ct := strings.ToLower(r.header.Get("Content-Type")); !strings.Contains(ct, "json") {
		return failf("%s: Content-Type = %q; want application/scim+json or application/json", r, ct)
	}
	id := str(r.obj, "id")
	p, err := s.do(ctx, "PATCH", userPath(id), patchBody(op("replace", "", map[string]any{"active": false})), "Content-Type", "application/json")
	if err != nil {
		return err
	}
	if err := p.want(http.StatusOK, http.StatusNoContent); err != nil {
		return err
	}
	u, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	return wantValue(u, false, "active")
}

// Okta's test suite requires /Groups to answer within 600 ms.
func checkOktaGroupsFast(ctx context.Context, s *suite) error {
	if _, err := s.createGroup(ctx, "okta-group"); err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", "/Groups?startIndex=1&count=100", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if r.elapsed > 600*time.Millisecond {
		return failf("%s took %s; Okta allows 600 ms", r, r.elapsed.Round(time.Millisecond))
	}
	return nil
}

var googleChecks = []check{
	{name: "google/count-1-probe", profile: ProfileGoogle, run: checkGoogleProbe},
	{name: "google/members-value-eq-removal", profile: ProfileGoogle, run: checkGoogleMemberRemoval},
}

// Google fires GET /Users?count=1 when provisioning is set up.
func checkGoogleProbe(ctx context.Context, s *suite) error {
	if _, err := s.createUser(ctx, "google", nil); err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", "/Users?count=1", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	total, ok := integer(get(r.obj, "totalResults"))
	if !ok || total < 1 {
		return failf("%s: totalResults = %s; want an integer ≥ 1", r, jsonText(get(r.obj, "totalResults")))
	}
	return wantEnvelope(r, total, 1, 1)
}

func checkGoogleMemberRemoval(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "google-group", 2)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, groupPath(gid), op("remove", fmt.Sprintf("members[value eq %s]", quote(users[0])), nil)); err != nil {
		return err
	}
	if err := s.wantMembers(ctx, gid, users[1]); err != nil {
		return err
	}
	if !s.groupsOnUser {
		return nil
	}
	got, err := s.userGroups(ctx, users[0])
	if err != nil {
		return err
	}
	if slices.Contains(got, gid) {
		return failf("the removed member's groups still list %s", gid)
	}
	return nil
}
