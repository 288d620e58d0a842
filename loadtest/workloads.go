package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// scatter maps i to a 32-bit number that looks random (a bijective
// integer hash: xor-shifts and odd multipliers, each one-to-one). Names and
// externalIds start with it after the prefix, so that they arrive in no
// particular order, as a directory's do (jane.doe after zoe.roe, Okta's
// 00u… ids and Entra's GUIDs are random): numbered names would reach the
// server's indexes in key order, each insert at the end of the last, and
// measure a cheaper server than an IdP meets (about a fifth more creates
// per second, measured).
func scatter(i int, salt uint32) uint32 {
	x := uint32(i) + salt*0x9E3779B9
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

func (b *bench) userName(i int) string {
	return fmt.Sprintf("%s%08x.user-%07d@example.com", b.cfg.Prefix, scatter(i, 0), i)
}

func (b *bench) groupName(i int) string {
	return fmt.Sprintf("%s%08x.group-%05d", b.cfg.Prefix, scatter(i, 1), i)
}

// userBody is an Okta-shaped user create.
func (b *bench) userBody(i int) map[string]any {
	name := b.userName(i)
	return map[string]any{
		"schemas":     []string{userURN},
		"userName":    name,
		"externalId":  fmt.Sprintf("00u%08x%s%07d", scatter(i, 2), strings.Trim(b.cfg.Prefix, "-"), i),
		"name":        map[string]any{"givenName": "Bench", "familyName": "User " + strconv.Itoa(i)},
		"displayName": "Bench User " + strconv.Itoa(i),
		"emails":      []map[string]any{{"primary": true, "value": name, "type": "work"}},
		"locale":      "en-US",
		"active":      true,
		"groups":      []any{},
	}
}

// groupBody is an Entra-shaped group create: empty members, filled by
// PATCH afterwards.
func (b *bench) groupBody(i int) map[string]any {
	return map[string]any{
		"schemas":     []string{groupURN},
		"displayName": b.groupName(i),
		"externalId":  fmt.Sprintf("%08x-%s%05d", scatter(i, 3), b.cfg.Prefix, i),
		"members":     []any{},
	}
}

// patchBody wraps operations in a PatchOp message.
func patchBody(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchOpURN}, "Operations": ops}
}

// memberOp is Entra's member add or remove: {"op":"Add"|"Remove",
// "path":"members","value":[{"value":id},…]}.
func memberOp(op string, ids []string) map[string]any {
	vals := make([]map[string]any, len(ids))
	for i, id := range ids {
		vals[i] = map[string]any{"value": id}
	}
	return map[string]any{"op": op, "path": "members", "value": vals}
}

// filterPath renders a list path with a filter escaped the way IdPs do
// (%20 for spaces).
func filterPath(resource, filter string, extra string) string {
	q := strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
	p := "/" + resource + "?"
	if extra != "" {
		p += extra + "&"
	}
	return p + "filter=" + q
}

// quote renders a filter string literal (a JSON string).
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// probeUser sends Okta's existence probe, GET /Users?filter=userName eq
// "…", and checks it finds wantTotal users (and, for 1, the user wantID).
func (b *bench) probeUser(ctx context.Context, p *phase, name string, wantTotal int, wantID string) bool {
	path := filterPath("Users", "userName eq "+quote(name), "")
	data, ok := b.send(ctx, p, req{method: http.MethodGet, path: path, want: []int{http.StatusOK}})
	if !ok {
		return false
	}
	return checkList(p, "GET "+short(path), data, wantTotal, wantID)
}

// checkList checks a ListResponse's totalResults and, when wantID is
// set, that its one resource has that id.
func checkList(p *phase, what string, data []byte, wantTotal int, wantID string) bool {
	var l listBody
	if err := json.Unmarshal(data, &l); err != nil {
		p.fail("%s: the body is not a ListResponse: %v: %s", what, err, snippet(data))
		return false
	}
	if l.TotalResults == nil || *l.TotalResults != wantTotal {
		p.fail("%s: totalResults %v, want %d: %s", what, jsonInt(l.TotalResults), wantTotal, snippet(data))
		return false
	}
	if wantID != "" && (len(l.Resources) != 1 || l.Resources[0].ID != wantID) {
		p.fail("%s: want the one resource %s: %s", what, wantID, snippet(data))
		return false
	}
	return true
}

func jsonInt(n *int) string {
	if n == nil {
		return "absent"
	}
	return strconv.Itoa(*n)
}

// create POSTs body and returns the new resource's id.
func (b *bench) create(ctx context.Context, p *phase, resource string, body any) (string, bool) {
	data, ok := b.send(ctx, p, req{method: http.MethodPost, path: "/" + resource, body: body, want: []int{http.StatusCreated}})
	if !ok {
		return "", false
	}
	var r resourceBody
	if err := json.Unmarshal(data, &r); err != nil || r.ID == "" {
		p.fail("POST /%s: 201 without an id: %s", resource, snippet(data))
		return "", false
	}
	return r.ID, true
}

// createUsers creates users [0, n) as phase name, each after an Okta
// existence probe when probe is set, and fills b.userIDs.
func (b *bench) createUsers(ctx context.Context, name string, n int, probe bool) {
	b.userIDs = make([]string, n)
	p := b.begin(name, "users")
	b.forEach(ctx, n, func(i int) {
		if probe && !b.probeUser(ctx, p, b.userName(i), 0, "") {
			return
		}
		if id, ok := b.create(ctx, p, "Users", b.userBody(i)); ok {
			b.userIDs[i] = id
			p.op(1)
		}
	})
	b.end(p)
	b.report.Users = countSet(b.userIDs)
}

// createGroups creates groups [0, n) as phase name, each after Entra's
// probe GET /Groups?excludedAttributes=members&filter=displayName eq "…"
// when probe is set, and fills b.groupIDs.
func (b *bench) createGroups(ctx context.Context, name string, n int, probe bool) {
	b.groupIDs = make([]string, n)
	p := b.begin(name, "groups")
	b.forEach(ctx, n, func(i int) {
		if probe && !b.probeGroup(ctx, p, i, 0, "", false) {
			return
		}
		if id, ok := b.create(ctx, p, "Groups", b.groupBody(i)); ok {
			b.groupIDs[i] = id
			p.op(1)
		}
	})
	b.end(p)
	b.report.Groups = countSet(b.groupIDs)
}

func (b *bench) probeGroup(ctx context.Context, p *phase, i, wantTotal int, wantID string, untimed bool) bool {
	path := filterPath("Groups", "displayName eq "+quote(b.groupName(i)), "excludedAttributes=members")
	data, ok := b.send(ctx, p, req{method: http.MethodGet, path: path, want: []int{http.StatusOK}, untimed: untimed})
	if !ok {
		return false
	}
	return checkList(p, "GET "+short(path), data, wantTotal, wantID)
}

// patchMembers sends one member PATCH (op "Add" or "Remove") to a group.
func (b *bench) patchMembers(ctx context.Context, p *phase, groupID, op string, ids []string, untimed bool) bool {
	_, ok := b.send(ctx, p, req{
		method: http.MethodPatch, path: "/Groups/" + groupID,
		body: patchBody(memberOp(op, ids)), want: []int{http.StatusNoContent, http.StatusOK}, untimed: untimed,
	})
	return ok
}

func countSet(ids []string) int {
	n := 0
	for _, id := range ids {
		if id != "" {
			n++
		}
	}
	return n
}

func created(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// sync is an IdP's initial push: users (probe + POST), groups (probe +
// POST with no members), then the memberships, MembersPerPatch per PATCH.
func (b *bench) sync(ctx context.Context) {
	b.createUsers(ctx, "users", b.cfg.Users, !b.cfg.NoProbe)
	if ctx.Err() != nil {
		return
	}
	b.createGroups(ctx, "groups", b.cfg.Groups, true)
	if ctx.Err() != nil {
		return
	}
	users := b.cfg.Users
	per := min(users, max(1, MembershipsPerUser*users/b.cfg.Groups))
	type job struct {
		group string
		ids   []string
	}
	var jobs []job
	for g, gid := range b.groupIDs {
		if gid == "" {
			continue
		}
		for off := 0; off < per; off += b.cfg.MembersPerPatch {
			var ids []string
			for k := off; k < min(per, off+b.cfg.MembersPerPatch); k++ {
				if id := b.userIDs[(g*per+k)%users]; id != "" {
					ids = append(ids, id)
				}
			}
			if len(ids) > 0 {
				jobs = append(jobs, job{gid, ids})
			}
		}
	}
	p := b.begin("memberships", "memberships")
	b.forEach(ctx, len(jobs), func(i int) {
		if b.patchMembers(ctx, p, jobs[i].group, "Add", jobs[i].ids, false) {
			p.op(len(jobs[i].ids))
		}
	})
	ph := b.end(p)
	b.report.Memberships = ph.Ops
}

// lookup creates Users users, then sends Okta's userName eq lookups of
// random users (a quarter of them upper-cased) for Duration.
func (b *bench) lookup(ctx context.Context) {
	b.createUsers(ctx, "setup-users", b.cfg.Users, false)
	idx := b.createdIndexes()
	if len(idx) == 0 || ctx.Err() != nil {
		return
	}
	p := b.begin("lookup", "lookups")
	b.timed(ctx, b.cfg.Duration, func(ctx context.Context, rnd *rand.Rand) {
		b.lookupOne(ctx, p, rnd, idx)
	})
	b.end(p)
}

func (b *bench) lookupOne(ctx context.Context, p *phase, rnd *rand.Rand, idx []int) {
	i := idx[rnd.IntN(len(idx))]
	name := b.userName(i)
	if rnd.IntN(4) == 0 {
		name = strings.ToUpper(name)
	}
	if b.probeUser(ctx, p, name, 1, b.userIDs[i]) {
		p.op(1)
	}
}

func (b *bench) createdIndexes() []int {
	var idx []int
	for i, id := range b.userIDs {
		if id != "" {
			idx = append(idx, i)
		}
	}
	return idx
}

// patch creates Users users, then sends Entra's user PATCHes for
// Duration: Replace displayName, or Replace active "False" / "True".
func (b *bench) patch(ctx context.Context) {
	b.createUsers(ctx, "setup-users", b.cfg.Users, false)
	idx := b.createdIndexes()
	if len(idx) == 0 || ctx.Err() != nil {
		return
	}
	p := b.begin("patch", "patches")
	b.timed(ctx, b.cfg.Duration, func(ctx context.Context, rnd *rand.Rand) {
		b.patchOne(ctx, p, rnd, idx)
	})
	b.end(p)
}

func (b *bench) patchOne(ctx context.Context, p *phase, rnd *rand.Rand, idx []int) {
	i := idx[rnd.IntN(len(idx))]
	var op map[string]any
	switch rnd.IntN(3) {
	case 0:
		op = map[string]any{"op": "Replace", "path": "displayName", "value": fmt.Sprintf("Bench User %d r%d", i, rnd.IntN(1000))}
	case 1:
		op = map[string]any{"op": "Replace", "path": "active", "value": "False"}
	default:
		op = map[string]any{"op": "Replace", "path": "active", "value": "True"}
	}
	id := b.userIDs[i]
	data, ok := b.send(ctx, p, req{method: http.MethodPatch, path: "/Users/" + id, body: patchBody(op), want: []int{http.StatusOK, http.StatusNoContent}})
	if !ok {
		return
	}
	if len(data) > 0 {
		var r resourceBody
		if err := json.Unmarshal(data, &r); err != nil || r.ID != id {
			p.fail("PATCH /Users/%s: 200 without the user: %s", id, snippet(data))
			return
		}
	}
	p.op(1)
}

// bigGroup grows one group to Users members by 100-member PATCHes and
// measures (adding 100 users spread over all it created, see splitSpare), at 1,000 members (when Users is larger) and at Users members:
// adding 100 members, removing 1, GET with excludedAttributes=members and
// the displayName eq lookup. Each measurement runs one request at a time,
// up to bigGroupReps times or for Duration.
func (b *bench) bigGroup(ctx context.Context) {
	users := b.cfg.Users
	b.createUsers(ctx, "setup-users", users+bigGroupSpare, false)
	if ctx.Err() != nil {
		return
	}
	b.createGroups(ctx, "setup-group", 1, true)
	gid := b.groupIDs[0]
	members, spare := splitSpare(created(b.userIDs), bigGroupSpare)
	if gid == "" || len(members) == 0 || ctx.Err() != nil {
		return
	}
	checkpoints := []int{len(members)}
	if len(members) > bigGroupFirstCheckpoint {
		checkpoints = []int{bigGroupFirstCheckpoint, len(members)}
	}
	grown := 0
	for _, cp := range checkpoints {
		p := b.begin("grow-to-"+strconv.Itoa(cp), "memberships")
		var chunks [][]string
		for off := grown; off < cp; off += 100 {
			chunks = append(chunks, members[off:min(cp, off+100)])
		}
		b.forEach(ctx, len(chunks), func(i int) {
			if b.patchMembers(ctx, p, gid, "Add", chunks[i], false) {
				p.op(len(chunks[i]))
			}
		})
		ph := b.end(p)
		grown = cp
		b.report.Memberships += ph.Ops
		if ctx.Err() != nil {
			return
		}
		b.measureGroup(ctx, gid, cp, members[:cp], spare)
	}
}

// splitSpare sets n users apart, spread evenly over ids (in creation
// order), and returns the others and them. Spread, because users created
// one after another may sit together in the server's storage (ours gives
// time-ordered ids), which would make adding them cheaper than adding the
// users an IdP adds: any of them.
func splitSpare(ids []string, n int) (rest, spare []string) {
	if n <= 0 || len(ids) <= n {
		return ids, nil
	}
	step := len(ids) / n
	rest = make([]string, 0, len(ids)-n)
	for i, id := range ids {
		if i%step == step/2 && len(spare) < n {
			spare = append(spare, id)
			continue
		}
		rest = append(rest, id)
	}
	return rest, spare
}

// measureGroup runs the biggroup measurements at one group size.
func (b *bench) measureGroup(ctx context.Context, gid string, size int, members, spare []string) {
	at := "@" + strconv.Itoa(size)
	reps := func(name string, fn func(p *phase, r int)) {
		p := b.begin(name+at, "ops")
		start := time.Now()
		for r := 0; r < bigGroupReps && ctx.Err() == nil && (r == 0 || time.Since(start) < b.cfg.Duration); r++ {
			fn(p, r)
		}
		b.end(p)
	}
	if len(spare) > 0 {
		reps("add-100", func(p *phase, r int) {
			if b.patchMembers(ctx, p, gid, "Add", spare, false) {
				p.op(1)
			}
			b.patchMembers(ctx, p, gid, "Remove", spare, true) // restore the size
		})
	}
	reps("remove-1", func(p *phase, r int) {
		m := members[(r*7919)%len(members)]
		if b.patchMembers(ctx, p, gid, "Remove", []string{m}, false) {
			p.op(1)
		}
		b.patchMembers(ctx, p, gid, "Add", []string{m}, true) // restore
	})
	reps("get-excluded", func(p *phase, r int) {
		path := "/Groups/" + gid + "?excludedAttributes=members"
		data, ok := b.send(ctx, p, req{method: http.MethodGet, path: path, want: []int{http.StatusOK}})
		if !ok {
			return
		}
		var res resourceBody
		if err := json.Unmarshal(data, &res); err != nil || res.ID != gid || res.Members != nil {
			p.fail("GET %s: want the group without members: %s", path, snippet(data))
			return
		}
		p.op(1)
	})
	reps("lookup-displayName", func(p *phase, r int) {
		if b.probeGroup(ctx, p, 0, 1, gid, false) {
			p.op(1)
		}
	})
}

// mixed creates Users users and Groups empty groups, then for Duration
// sends a blend: 50% userName lookups, 15% user PATCHes, 10% new users
// (probe + POST), 15% member adds of one user, 5% group GETs without
// members, 5% group displayName lookups.
func (b *bench) mixed(ctx context.Context) {
	b.createUsers(ctx, "setup-users", b.cfg.Users, false)
	if ctx.Err() != nil {
		return
	}
	b.createGroups(ctx, "setup-groups", b.cfg.Groups, false)
	idx := b.createdIndexes()
	gidx := []int{}
	for i, id := range b.groupIDs {
		if id != "" {
			gidx = append(gidx, i)
		}
	}
	if len(idx) == 0 || len(gidx) == 0 || ctx.Err() != nil {
		return
	}
	var next atomic.Int64
	var memberships atomic.Int64
	p := b.begin("mixed", "ops")
	b.timed(ctx, b.cfg.Duration, func(ctx context.Context, rnd *rand.Rand) {
		switch r := rnd.IntN(100); {
		case r < 50:
			b.lookupOne(ctx, p, rnd, idx)
		case r < 65:
			b.patchOne(ctx, p, rnd, idx)
		case r < 75:
			i := b.cfg.Users + int(next.Add(1)) - 1
			if !b.probeUser(ctx, p, b.userName(i), 0, "") {
				return
			}
			if id, ok := b.create(ctx, p, "Users", b.userBody(i)); ok {
				b.mu.Lock()
				b.extra = append(b.extra, id)
				b.mu.Unlock()
				p.op(1)
			}
		case r < 90:
			g := gidx[rnd.IntN(len(gidx))]
			u := idx[rnd.IntN(len(idx))]
			if b.patchMembers(ctx, p, b.groupIDs[g], "Add", []string{b.userIDs[u]}, false) {
				memberships.Add(1)
				p.op(1)
			}
		case r < 95:
			g := gidx[rnd.IntN(len(gidx))]
			path := "/Groups/" + b.groupIDs[g] + "?excludedAttributes=members"
			data, ok := b.send(ctx, p, req{method: http.MethodGet, path: path, want: []int{http.StatusOK}})
			if !ok {
				return
			}
			var res resourceBody
			if err := json.Unmarshal(data, &res); err != nil || res.ID != b.groupIDs[g] || res.Members != nil {
				p.fail("GET %s: want the group without members: %s", path, snippet(data))
				return
			}
			p.op(1)
		default:
			g := gidx[rnd.IntN(len(gidx))]
			if b.probeGroup(ctx, p, g, 1, b.groupIDs[g], false) {
				p.op(1)
			}
		}
	})
	b.end(p)
	b.mu.Lock()
	b.report.Users += len(b.extra)
	b.mu.Unlock()
	b.report.Memberships = int(memberships.Load())
}

// cleanup deletes every group and then every user the run created.
func (b *bench) cleanup(ctx context.Context) {
	var targets []string
	for _, id := range created(b.groupIDs) {
		targets = append(targets, "/Groups/"+id)
	}
	b.mu.Lock()
	users := append(created(b.userIDs), b.extra...)
	b.mu.Unlock()
	groups := len(targets)
	for _, id := range users {
		targets = append(targets, "/Users/"+id)
	}
	if len(targets) == 0 {
		return
	}
	p := b.begin("cleanup", "deletes")
	// Groups first (they hold the memberships), then users.
	for _, part := range [][]string{targets[:groups], targets[groups:]} {
		b.forEach(ctx, len(part), func(i int) {
			if _, ok := b.send(ctx, p, req{method: http.MethodDelete, path: part[i], want: []int{http.StatusNoContent, http.StatusOK}}); ok {
				p.op(1)
			}
		})
	}
	b.end(p)
}
