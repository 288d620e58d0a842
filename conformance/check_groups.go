package conformance

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

var groupChecks = []check{
	{name: "groups/create-with-members", run: checkGroupCreate},
	{name: "groups/excluded-members", run: checkGroupExcludedMembers},
	{name: "groups/filter-displayname", run: checkGroupFilterDisplayName},
	{name: "groups/filter-externalid", run: checkGroupFilterExternalID},
	{name: "groups/patch-add-member", run: checkGroupAddMember},
	{name: "groups/patch-remove-member", run: checkGroupRemoveMember},
	{name: "groups/patch-replace-displayname", run: checkGroupRename},
	{name: "groups/put", run: checkGroupPut},
	{name: "groups/user-groups-attribute", run: checkUserGroupsAttribute},
	{name: "groups/delete", run: checkGroupDelete},
}

// groupWith creates n users and a group holding them.
func (s *suite) groupWith(ctx context.Context, label string, n int) (string, []string, error) {
	users, err := s.createUsers(ctx, label, n)
	if err != nil {
		return "", nil, err
	}
	g, err := s.createGroup(ctx, label, users...)
	if err != nil {
		return "", nil, err
	}
	return str(g, "id"), users, nil
}

// RFC 7644 section 3.3, for a group: 201, Location, meta, and the members
// given.
func checkGroupCreate(ctx context.Context, s *suite) error {
	users, err := s.createUsers(ctx, "group", 2)
	if err != nil {
		return err
	}
	name := s.name("group")
	r, err := s.do(ctx, "POST", "/Groups", map[string]any{
		"schemas":     []any{groupURN},
		"displayName": name,
		"members":     []any{map[string]any{"value": users[0]}, map[string]any{"value": users[1]}},
	})
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return err
	}
	if err := wantMeta(r.obj, "Group", "/Groups"); err != nil {
		return err
	}
	if loc := r.header.Get("Location"); loc != str(r.obj, "meta", "location") {
		return failf("Location header = %q; want meta.location %q", loc, str(r.obj, "meta", "location"))
	}
	if str(r.obj, "displayName") != name {
		return failf("displayName = %q; want %q", str(r.obj, "displayName"), name)
	}
	g, err := s.read(ctx, groupPath(str(r.obj, "id")))
	if err != nil {
		return err
	}
	if got := values(g, "members"); !slices.Equal(got, sorted(users...)) {
		return failf("members = %v; want %v", got, sorted(users...))
	}
	for _, m := range list(g, "members") {
		if t := str(m, "type"); t != "" && t != "User" {
			return failf("member %s: type = %q; want \"User\"", jsonText(m), t)
		}
	}
	return nil
}

// Entra reads groups with excludedAttributes=members; the answer must
// leave members out, by id and in a listing.
func checkGroupExcludedMembers(ctx context.Context, s *suite) error {
	gid, _, err := s.groupWith(ctx, "group", 1)
	if err != nil {
		return err
	}
	g, err := s.read(ctx, groupPath(gid)+"?excludedAttributes=members")
	if err != nil {
		return err
	}
	if err := wantKeys(g, []string{"id", "displayName"}, []string{"members"}); err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", "/Groups?excludedAttributes=members&filter="+filterQuery("id eq "+quote(gid)), nil)
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
	return wantKeys(res[0], []string{"id", "displayName"}, []string{"members"})
}

// wantGroups runs GET /Groups?filter=… and fails unless exactly ids come
// back.
func (s *suite) wantGroups(ctx context.Context, filter string, ids ...string) error {
	r, err := s.do(ctx, "GET", "/Groups?excludedAttributes=members&filter="+filterQuery(filter), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if got := sorted(r.ids()...); !slices.Equal(got, sorted(ids...)) {
		return failf("filter %s found groups %v; want %v", filter, got, sorted(ids...))
	}
	return nil
}

// Entra and Okta look groups up by displayName before they push one.
func checkGroupFilterDisplayName(ctx context.Context, s *suite) error {
	g, err := s.createGroup(ctx, "group")
	if err != nil {
		return err
	}
	return s.wantGroups(ctx, "displayName eq "+quote(str(g, "displayName")), str(g, "id"))
}

func checkGroupFilterExternalID(ctx context.Context, s *suite) error {
	ext := randomUUID()
	g, err := s.create(ctx, "/Groups", map[string]any{"schemas": []any{groupURN}, "displayName": s.name("group"), "externalId": ext})
	if err != nil {
		return err
	}
	return s.wantGroups(ctx, "externalId eq "+quote(ext), str(g, "id"))
}

func checkGroupAddMember(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "group", 1)
	if err != nil {
		return err
	}
	u, err := s.createUser(ctx, "group", nil)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, groupPath(gid), op("add", "members", []any{map[string]any{"value": str(u, "id")}})); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users[0], str(u, "id"))
}

func checkGroupRemoveMember(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "group", 2)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, groupPath(gid), op("remove", fmt.Sprintf("members[value eq %s]", quote(users[0])), nil)); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users[1])
}

// Renaming leaves the members alone.
func checkGroupRename(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "group", 1)
	if err != nil {
		return err
	}
	name := s.name("renamed")
	if err := s.patchAndVerify(ctx, groupPath(gid), func(g map[string]any) error {
		return wantValue(g, name, "displayName")
	}, op("replace", "displayName", name)); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users...)
}

// PUT replaces the group, members included.
func checkGroupPut(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "group", 2)
	if err != nil {
		return err
	}
	name := s.name("put")
	r, err := s.do(ctx, "PUT", groupPath(gid), map[string]any{
		"schemas":     []any{groupURN},
		"id":          gid,
		"displayName": name,
		"members":     []any{map[string]any{"value": users[1]}},
	})
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	g, err := s.read(ctx, groupPath(gid))
	if err != nil {
		return err
	}
	if err := wantValue(g, name, "displayName"); err != nil {
		return err
	}
	return s.wantMembers(ctx, gid, users[1])
}

// RFC 7643 section 4.1.2: a user's groups attribute lists the groups it
// is a member of, and follows membership changes.
func checkUserGroupsAttribute(ctx context.Context, s *suite) error {
	if err := s.needGroupsOnUser(); err != nil {
		return err
	}
	gid, users, err := s.groupWith(ctx, "group", 1)
	if err != nil {
		return err
	}
	got, err := s.userGroups(ctx, users[0])
	if err != nil {
		return err
	}
	if !slices.Contains(got, gid) {
		return failf("the member's groups = %v; want it to contain %s", got, gid)
	}
	if _, err := s.patch(ctx, groupPath(gid), op("remove", fmt.Sprintf("members[value eq %s]", quote(users[0])), nil)); err != nil {
		return err
	}
	if got, err = s.userGroups(ctx, users[0]); err != nil {
		return err
	}
	if slices.Contains(got, gid) {
		return failf("after removal the user's groups = %v; want it without %s", got, gid)
	}
	return nil
}

// RFC 7644 section 3.6: 204, then 404; the members are still there.
func checkGroupDelete(ctx context.Context, s *suite) error {
	gid, users, err := s.groupWith(ctx, "group", 1)
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "DELETE", groupPath(gid), nil)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusNoContent); err != nil {
		return err
	}
	if r, err = s.do(ctx, "GET", groupPath(gid), nil); err != nil {
		return err
	}
	if err := r.wantSCIMError(http.StatusNotFound); err != nil {
		return err
	}
	if _, err := s.read(ctx, userPath(users[0])); err != nil {
		return fmt.Errorf("the member of a deleted group: %w", err)
	}
	if s.groupsOnUser {
		got, err := s.userGroups(ctx, users[0])
		if err != nil {
			return err
		}
		if slices.Contains(got, gid) {
			return failf("the deleted group is still in its member's groups: %v", got)
		}
	}
	return nil
}
