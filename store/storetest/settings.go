package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// RunSettings runs the conformance suite of store.Settings (and
// store.Pinger), for backends that implement them.
func RunSettings(t *testing.T, open func(t *testing.T) store.Store) {
	st := open(t)
	t.Cleanup(func() { st.Close() })
	s, ok := st.(store.Settings)
	if !ok {
		t.Fatalf("%T does not implement store.Settings", st)
	}
	e := newEnv(t, st)
	e.setup()

	if got, err := s.DirectorySettings(e.ctx, e.a); err != nil || got.Version != 0 || len(got.AllowCIDRs) != 0 {
		t.Fatalf("DirectorySettings(new) = %+v, %v", got, err)
	}
	if _, err := s.DirectorySettings(e.ctx, store.DirKey{Org: "acme", Directory: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DirectorySettings(unknown) = %v; want ErrNotFound", err)
	}
	before := e.last("acme")
	got, err := s.UpdateDirectorySettings(e.ctx, e.a, func(d *store.DirectorySettings) error {
		d.AllowCIDRs, d.RateLimit, d.RateBurst = []string{"10.0.0.0/8", "2001:db8::/32"}, 25, 50
		return nil
	})
	if err != nil || got.Version != 1 || got.RateLimit != 25 {
		t.Fatalf("UpdateDirectorySettings = %+v, %v", got, err)
	}
	if got, _ := s.DirectorySettings(e.ctx, e.a); !slices.Equal(got.AllowCIDRs, []string{"10.0.0.0/8", "2001:db8::/32"}) || got.RateBurst != 50 {
		t.Fatalf("read back = %+v", got)
	}
	if other, _ := s.DirectorySettings(e.ctx, e.b); other.Version != 0 {
		t.Fatalf("other directory changed: %+v", other)
	}
	if k := kinds(e.since("acme", before)); len(k) != 1 || k[0] != kind(store.EventDirectorySettingsUpdated, "okta") {
		t.Fatalf("events = %v", k)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateDirectorySettings(e.ctx, e.a, func(d *store.DirectorySettings) error { d.AllowCIDRs[0] = "0.0.0.0/0"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing update = %v", err)
	}
	if got, _ := s.DirectorySettings(e.ctx, e.a); got.AllowCIDRs[0] != "10.0.0.0/8" || got.Version != 1 {
		t.Fatalf("failed update changed the settings: %+v", got)
	}

	before = e.last("globex")
	og, err := s.UpdateOrgSettings(e.ctx, "globex", func(o *store.OrgSettings) error { o.AdminAllowCIDRs = []string{"192.0.2.0/24"}; return nil })
	if err != nil || og.Version != 1 {
		t.Fatalf("UpdateOrgSettings = %+v, %v", og, err)
	}
	if got, _ := s.OrgSettings(e.ctx, "globex"); !slices.Equal(got.AdminAllowCIDRs, []string{"192.0.2.0/24"}) {
		t.Fatalf("OrgSettings = %+v", got)
	}
	if got, _ := s.OrgSettings(e.ctx, "acme"); len(got.AdminAllowCIDRs) != 0 {
		t.Fatalf("other org changed: %+v", got)
	}
	if k := kinds(e.since("globex", before)); len(k) != 1 || k[0] != kind(store.EventOrgSettingsUpdated, "globex") {
		t.Fatalf("events = %v", k)
	}
	if _, err := s.OrgSettings(e.ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OrgSettings(unknown) = %v", err)
	}
	if p, ok := st.(store.Pinger); ok {
		for range 3 {
			if err := p.Ping(e.ctx); err != nil {
				t.Fatalf("Ping = %v", err)
			}
		}
	}
}

// RunAudit checks store.Auditor: events land in the org's outbox (or the
// org-less one), unknown orgs are refused.
func RunAudit(t *testing.T, open func(t *testing.T) store.Store) {
	st := open(t)
	t.Cleanup(func() { st.Close() })
	a, ok := st.(store.Auditor)
	if !ok {
		t.Fatalf("%T does not implement store.Auditor", st)
	}
	e := newEnv(t, st)
	e.setup()
	before := e.last("acme")
	if err := a.AppendAudit(e.ctx, "acme", "okta", store.EventRequestRefused, store.ResourceRef{Type: store.ResourceRequest, ID: "req-1"}, []byte(`{"reason": "bad_token"}`)); err != nil {
		t.Fatal(err)
	}
	evs := e.since("acme", before)
	if len(evs) != 1 || evs[0].Type != store.EventRequestRefused || evs[0].Directory != "okta" || string(evs[0].Data) != `{"reason":"bad_token"}` {
		t.Fatalf("events = %+v", evs)
	}
	if err := a.AppendAudit(e.ctx, "", "", store.EventRequestRefused, store.ResourceRef{Type: store.ResourceRequest, ID: "req-2"}, nil); err != nil {
		t.Fatalf("AppendAudit(org-less) = %v", err)
	}
	if err := a.AppendAudit(e.ctx, "nope", "", store.EventRequestRefused, store.ResourceRef{}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AppendAudit(unknown org) = %v; want ErrNotFound", err)
	}
	if err := a.AppendAudit(e.ctx, "acme", "", store.EventAdminAction, store.ResourceRef{}, []byte(`not json`)); err == nil {
		t.Fatal("AppendAudit(bad JSON) = nil")
	}
}
