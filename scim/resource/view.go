package resource

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// TimeLayout is how meta.created and meta.lastModified are written: RFC
// 3339 in UTC with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime formats t for meta.created and meta.lastModified.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ETag is the weak entity tag of a resource version, also its meta.version.
func ETag(version uint64) string { return `W/"` + strconv.FormatUint(version, 10) + `"` }

// View decodes a stored record into the Doc the filter engine evaluates:
// the stored attributes plus "id" and "meta" (resourceType, created,
// lastModified, version). Location is left out: it depends on the request.
func View(t *Type, r store.Record) (Doc, error) {
	doc := Doc{}
	if len(r.Attributes) > 0 {
		if err := json.Unmarshal(r.Attributes, &doc); err != nil {
			return nil, fmt.Errorf("resource: decode %s %s: %w", t.Name, r.ID, err)
		}
	}
	doc["id"] = r.ID
	doc["meta"] = map[string]any{
		"resourceType": t.Name,
		"created":      FormatTime(r.Created),
		"lastModified": FormatTime(r.Modified),
		"version":      ETag(r.Version),
	}
	return doc, nil
}
