package scim

import (
	"net/http"
	"net/url"

	"github.com/scimbridge/scimbridge/scim/resource"
)

const (
	spcSchema          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
)

// discovery serves /ServiceProviderConfig, /ResourceTypes and /Schemas.
// They tell the truth about this server: PATCH, filters (with the page
// cap as maxResults), sorting and ETags are supported; bulk and password
// changes are not; authentication is a bearer token.
func (s *Server) discovery(c *call, rest []string) {
	switch {
	case rest[0] == "ServiceProviderConfig" && len(rest) == 1:
		s.writeJSON(c, map[string]any{
			"schemas":          []string{spcSchema},
			"documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
			"patch":            map[string]any{"supported": true},
			"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
			"filter":           map[string]any{"supported": true, "maxResults": s.cfg.MaxPageSize},
			"changePassword":   map[string]any{"supported": false},
			"sort":             map[string]any{"supported": true},
			"etag":             map[string]any{"supported": true},
			"authenticationSchemes": []any{map[string]any{
				"type":        "oauthbearertoken",
				"name":        "OAuth Bearer Token",
				"description": "A bearer token created for this directory (scimbridge token create), sent as Authorization: Bearer <token>.",
				"specUri":     "https://www.rfc-editor.org/info/rfc6750",
				"primary":     true,
			}},
			"meta": map[string]any{
				"resourceType": "ServiceProviderConfig",
				"location":     c.base + "/ServiceProviderConfig",
			},
		})
	case rest[0] == "ResourceTypes":
		types := []*resource.Type{resource.User(), resource.Group()}
		render := func(t *resource.Type) map[string]any {
			exts := []any{}
			for _, e := range t.Extensions {
				exts = append(exts, map[string]any{"schema": e.ID, "required": false})
			}
			return map[string]any{
				"schemas":          []string{resourceTypeSchema},
				"id":               t.Name,
				"name":             t.Name,
				"endpoint":         t.Endpoint,
				"description":      t.Schema.Description.Value(),
				"schema":           t.Schema.ID,
				"schemaExtensions": exts,
				"meta": map[string]any{
					"resourceType": "ResourceType",
					"location":     c.base + "/ResourceTypes/" + t.Name,
				},
			}
		}
		if len(rest) == 1 {
			var list []any
			for _, t := range types {
				list = append(list, render(t))
			}
			s.writeJSON(c, listResponse(list))
			return
		}
		for _, t := range types {
			if len(rest) == 2 && rest[1] == t.Name {
				s.writeJSON(c, render(t))
				return
			}
		}
		fail(c.w, c.r, notFound("no such resource type"))
	case rest[0] == "Schemas":
		var all []map[string]any
		for _, t := range []*resource.Type{resource.User(), resource.Group()} {
			for _, sc := range t.Schemas() {
				m := sc.ToMap()
				m["meta"] = map[string]any{
					"resourceType": "Schema",
					"location":     c.base + "/Schemas/" + url.PathEscape(sc.ID),
				}
				all = append(all, m)
			}
		}
		if len(rest) == 1 {
			list := make([]any, len(all))
			for i, m := range all {
				list[i] = m
			}
			s.writeJSON(c, listResponse(list))
			return
		}
		for _, m := range all {
			if len(rest) == 2 && m["id"] == rest[1] {
				s.writeJSON(c, m)
				return
			}
		}
		fail(c.w, c.r, notFound("no such schema"))
	default:
		fail(c.w, c.r, notFound("no such endpoint"))
	}
}

func listResponse(list []any) map[string]any {
	return map[string]any{
		"schemas":      []string{resource.ListResponseSchema},
		"totalResults": len(list),
		"itemsPerPage": len(list),
		"startIndex":   1,
		"Resources":    list,
	}
}

func (s *Server) writeJSON(c *call, v any) {
	b, err := marshal(v)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	writeHeader(c.w, http.StatusOK, "")
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(b)
	}
}
