package admin

import (
	"math"
	"net/http"

	"github.com/scimbridge/scimbridge/internal/edge"
	"github.com/scimbridge/scimbridge/store"
)

// Edge settings: who may call (IP allowlists) and how fast (rate limits).
//
//	GET   {org}/settings                     the org's admin API allowlist
//	PATCH {org}/settings                     {"admin_allow_cidrs": [...]}
//	GET   {org}/directories/{dir}/settings   the directory's SCIM allowlist and rate limit
//	PATCH {org}/directories/{dir}/settings   {"allow_cidrs": [...], "rate_limit": 50, "rate_burst": 100}
//
// An allowlist refuses every address outside it with 403 (an empty list
// allows every address); the org's list does not bind super tokens, so a
// super token can always repair a list that locks the org's admins out.
func (s *Server) registerSettings(org string) {
	s.handle("GET "+org+"/settings", s.getOrgSettings)
	s.handle("PATCH "+org+"/settings", s.patchOrgSettings)
	s.handle("GET "+org+"/directories/{dir}/settings", s.getDirSettings)
	s.handle("PATCH "+org+"/directories/{dir}/settings", s.patchDirSettings)
}

// Bounds of a directory's rate limit.
const (
	maxRateLimit = 100_000
	maxRateBurst = 1_000_000
)

func (s *Server) settingsStore() (store.Settings, error) {
	ss, ok := s.store.(store.Settings)
	if !ok {
		return nil, errorf(http.StatusNotFound, "not_found", "this store keeps no edge settings")
	}
	return ss, nil
}

func orgSettingsJSON(o store.OrgSettings) map[string]any {
	return map[string]any{"admin_allow_cidrs": nonNil(o.AdminAllowCIDRs), "version": o.Version}
}

func dirSettingsJSON(d store.DirectorySettings) map[string]any {
	return map[string]any{
		"allow_cidrs": nonNil(d.AllowCIDRs), "version": d.Version,
		"rate_limit": d.RateLimit, "rate_burst": d.RateBurst,
		"effective_rate_limit": orDefault(d.RateLimit, edge.DefaultRate),
		"effective_rate_burst": int(orDefault(float64(d.RateBurst), edge.DefaultBurst)),
	}
}

func orDefault(v, def float64) float64 {
	if v <= 0 {
		return def
	}
	return v
}

func checkCIDRs(field string, list []string) error {
	if len(list) > 1000 {
		return errorf(http.StatusBadRequest, "invalid_request", "%s: at most 1000 entries", field)
	}
	if _, err := edge.ParseAllowlist(list); err != nil {
		return errorf(http.StatusBadRequest, "invalid_request", "%s: %v", field, err)
	}
	return nil
}

func (s *Server) getOrgSettings(c *request) error {
	ss, err := s.settingsStore()
	if err != nil {
		return err
	}
	o, err := ss.OrgSettings(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, orgSettingsJSON(o))
	return nil
}

func (s *Server) patchOrgSettings(c *request) error {
	ss, err := s.settingsStore()
	if err != nil {
		return err
	}
	var in struct {
		AdminAllowCIDRs *[]string `json:"admin_allow_cidrs"`
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	if in.AdminAllowCIDRs != nil {
		if err := checkCIDRs("admin_allow_cidrs", *in.AdminAllowCIDRs); err != nil {
			return err
		}
	}
	o, err := ss.UpdateOrgSettings(c.r.Context(), c.org, func(o *store.OrgSettings) error {
		if in.AdminAllowCIDRs != nil {
			o.AdminAllowCIDRs = *in.AdminAllowCIDRs
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, orgSettingsJSON(o))
	return nil
}

func (s *Server) getDirSettings(c *request) error {
	ss, err := s.settingsStore()
	if err != nil {
		return err
	}
	d, err := ss.DirectorySettings(c.r.Context(), store.DirKey{Org: c.org, Directory: c.r.PathValue("dir")})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, dirSettingsJSON(d))
	return nil
}

func (s *Server) patchDirSettings(c *request) error {
	ss, err := s.settingsStore()
	if err != nil {
		return err
	}
	var in struct {
		AllowCIDRs *[]string `json:"allow_cidrs"`
		RateLimit  *float64  `json:"rate_limit"` // requests per second per token; 0: the default
		RateBurst  *int      `json:"rate_burst"` // 0: the default
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	if in.AllowCIDRs != nil {
		if err := checkCIDRs("allow_cidrs", *in.AllowCIDRs); err != nil {
			return err
		}
	}
	if in.RateLimit != nil && (math.IsNaN(*in.RateLimit) || *in.RateLimit < 0 || *in.RateLimit > maxRateLimit) {
		return errorf(http.StatusBadRequest, "invalid_request", "rate_limit must be between 0 (the default) and %d requests per second", maxRateLimit)
	}
	if in.RateBurst != nil && (*in.RateBurst < 0 || *in.RateBurst > maxRateBurst) {
		return errorf(http.StatusBadRequest, "invalid_request", "rate_burst must be between 0 (the default) and %d", maxRateBurst)
	}
	d, err := ss.UpdateDirectorySettings(c.r.Context(), store.DirKey{Org: c.org, Directory: c.r.PathValue("dir")}, func(d *store.DirectorySettings) error {
		if in.AllowCIDRs != nil {
			d.AllowCIDRs = *in.AllowCIDRs
		}
		if in.RateLimit != nil {
			d.RateLimit = *in.RateLimit
		}
		if in.RateBurst != nil {
			d.RateBurst = *in.RateBurst
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, dirSettingsJSON(d))
	return nil
}
