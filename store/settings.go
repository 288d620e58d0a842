package store

import (
	"context"
	"encoding/json"
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

// Audit event types: admin actions and refused requests, appended to the
// same outbox as provisioning events.
const (
	// EventAdminAction is a successful write through the admin API
	// (method, route, status, request id); the write's own events, if
	// any, follow or precede it.
	EventAdminAction = "admin.action"
	// EventRequestRefused is a refused request class (bad token, IP not
	// allowed, rate-limited) of one surface and client address; repeats
	// within a minute are counted into the next event, not each appended.
	EventRequestRefused = "admin.request_refused"
)

// ResourceRequest is the resource type of audit events: its id is the
// request id.
const ResourceRequest = "request"

// Auditor is the optional capability of a backend to append an event that
// goes with no other change.
type Auditor interface {
	// AppendAudit appends one event of typ to org's outbox ("" for the
	// outbox of changes that belong to no org); ErrNotFound for an
	// unknown org.
	AppendAudit(ctx context.Context, org, directory, typ string, res ResourceRef, data json.RawMessage) error
}
