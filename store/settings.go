package store

import (
	"context"
	"time"
)

// Access settings that the HTTP edge enforces before a request reaches
// its surface: who may call (IP allowlists) and how fast (rate limits).

// DirectorySettings are the edge settings of one directory's SCIM API.
type DirectorySettings struct {
	// AllowCIDRs lists the networks (IPv4 and IPv6 CIDRs or addresses)
	// that may call the directory's SCIM API; empty allows every
	// address.
	AllowCIDRs []string `json:"allow_cidrs,omitempty"`
	// RateLimit (requests per second) and RateBurst bound each SCIM token
	// of the directory; zero means the server's default.
	RateLimit float64   `json:"rate_limit,omitempty"`
	RateBurst int       `json:"rate_burst,omitempty"`
	Version   uint64    `json:"version"`
	Modified  time.Time `json:"modified,omitzero"`
}

// OrgSettings are the edge settings of one org's admin API.
type OrgSettings struct {
	// AdminAllowCIDRs lists the networks that may call the org's admin
	// API (with an admin token of the org); empty allows every address.
	// Super tokens are not bound by it.
	AdminAllowCIDRs []string  `json:"admin_allow_cidrs,omitempty"`
	Version         uint64    `json:"version"`
	Modified        time.Time `json:"modified,omitzero"`
}

// Settings is the optional capability of a backend to keep edge settings.
// A directory or org that never had settings has the zero value; an
// unknown one is ErrNotFound. Updates emit directory.settings_updated or
// org.settings_updated with the new settings.
type Settings interface {
	DirectorySettings(ctx context.Context, dir DirKey) (DirectorySettings, error)
	UpdateDirectorySettings(ctx context.Context, dir DirKey, fn func(s *DirectorySettings) error) (DirectorySettings, error)
	OrgSettings(ctx context.Context, org string) (OrgSettings, error)
	UpdateOrgSettings(ctx context.Context, org string, fn func(s *OrgSettings) error) (OrgSettings, error)
}

// Settings event types.
const (
	EventDirectorySettingsUpdated = "directory.settings_updated"
	EventOrgSettingsUpdated       = "org.settings_updated"
)

// ResourceOrg is the resource type of org.* events: its id is the org.
const ResourceOrg = "org"

// Pinger is the optional capability of a backend to prove it is open and
// writable (GET /readyz): Ping commits a write that changes nothing a
// caller can see.
type Pinger interface {
	Ping(ctx context.Context) error
}
